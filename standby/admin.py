"""ADM-1: standby items, read-only."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from .models import StandbyFollowUp, StandbyItem


class StandbyFollowUpInline(admin.TabularInline):
    """Later mail of the item's conversation (THR-4), read-only like the item."""

    model = StandbyFollowUp
    fields = ("created_at", "sender_email", "body", "message_id")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(StandbyItem)
class StandbyItemAdmin(admin.ModelAdmin):
    inlines = [StandbyFollowUpInline]
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
