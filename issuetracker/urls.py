from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from boards import views as board_views
from issuetracker.health import health
from tickets import public_views

urlpatterns = [
    path("health", health, name="health"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("accounts.auth_urls")),
    path("", board_views.dashboard, name="dashboard"),
    path("boards/", include("boards.urls")),
    path("boards/<int:board_id>/tickets/", include("tickets.urls")),
    path("standby-queue/", include("standby.urls")),
    path("settings/inboxes/", include("inboxes.urls")),
    path("settings/", include("accounts.urls")),
    path("board/<str:unique_name>", public_views.board_form, name="public_board"),
    path("board/<str:unique_name>/submitted", public_views.board_submitted, name="public_board_submitted"),
    path("ticket/<uuid:ticket_uuid>", public_views.ticket_page, name="public_ticket"),
    path("ticket/<uuid:ticket_uuid>/files/<int:attachment_id>/", public_views.ticket_file, name="public_ticket_file"),
]

admin.site.site_header = "Issue Tracker administration"
