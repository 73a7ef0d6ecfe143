"""ADM-1: standby items, read-only."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from .models import StandbyItem


@admin.register(StandbyItem)
class StandbyItemAdmin(admin.ModelAdmin):
    list_display = ["subject", "sender_email", "manager", "receiving_inbox", "reason", "retry_count", "created_at"]
    list_filter = ["reason"]
    search_fields = ["subject", "sender_email", "manager__email"]
    list_select_related = ["manager", "receiving_inbox"]
    raw_id_fields = ["manager", "receiving_inbox", "processed_email", "original_board", "ticket"]

    # A record of what intake did: managers assign, retry and discard items on their standby page,
    # through the services. Here it can be read, and only the list's actions change anything.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: StandbyItem | None = None) -> bool:
        return False
