from __future__ import annotations

from django.urls import path

from . import external_views, views

app_name = "boards"

urlpatterns = [
    path("", views.board_list, name="list"),
    path("new/", views.board_create_view, name="create"),
    path("<int:pk>/", views.board_detail, name="detail"),
    path("<int:pk>/edit/", views.board_edit, name="edit"),
    path("<int:pk>/archive/", views.board_archive_view, name="archive"),
    path("<int:pk>/delete/", views.board_delete_view, name="delete"),
    path("<int:pk>/external/", external_views.board_external, name="external"),
]
