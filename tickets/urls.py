from __future__ import annotations

from django.urls import path

from . import views

app_name = "tickets"

urlpatterns = [
    path("", views.ticket_list_view, name="list"),
    path("<int:ticket_id>/", views.ticket_detail, name="detail"),
    path("<int:ticket_id>/state/", views.ticket_change_state_view, name="change_state"),
    path("<int:ticket_id>/post/", views.ticket_post_view, name="post"),
    path("<int:ticket_id>/files/<int:attachment_id>/", views.ticket_file_view, name="file"),
]
