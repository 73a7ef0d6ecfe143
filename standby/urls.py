from __future__ import annotations

from django.urls import path

from . import views

app_name = "standby"

urlpatterns = [
    path("", views.standby_list, name="list"),
    path("<int:item_id>/", views.standby_detail, name="detail"),
    path("<int:item_id>/assign/", views.standby_assign, name="assign"),
    path("<int:item_id>/discard/", views.standby_discard, name="discard"),
    path("<int:item_id>/retry/", views.standby_retry, name="retry"),
    path("<int:item_id>/files/<int:attachment_id>/", views.standby_file, name="file"),
]
