from __future__ import annotations

from django.urls import path

from . import views

app_name = "inboxes"

urlpatterns = [
    path("", views.inbox_list, name="list"),
]
