from __future__ import annotations

from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("profile/", views.profile, name="profile"),
    path("security/", views.security, name="security"),
    path("suspend/", views.suspend, name="suspend"),
]
