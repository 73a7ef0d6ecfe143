"""ADM-1: manager notifications, read only (what was told to whom, and what waits for a digest)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from .models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["kind", "manager", "sender_email", "created_at", "mailed_at"]
    list_filter = ["kind"]
    search_fields = ["manager__email", "sender_email", "text"]
    list_select_related = ["manager"]
    raw_id_fields = ["manager", "ticket", "inbox"]
    date_hierarchy = "created_at"
    readonly_fields = ["manager", "kind", "ticket", "inbox", "sender_email", "text", "created_at", "mailed_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
