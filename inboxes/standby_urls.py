from __future__ import annotations

from django.urls import path

from . import views

app_name = "standby"

urlpatterns = [
    path("", views.standby_list, name="list"),
]
