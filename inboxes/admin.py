"""ADM-1: inboxes (secrets hidden) and processed emails."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .models import Inbox, ProcessedEmail, ProcessedEmailStatus
from .services import processed_email_reprocess


@admin.register(Inbox)
class InboxAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "from_address",
        "manager",
        "is_active",
        "poll_interval_minutes",
        "last_polled_at",
        "has_error",
    ]
    list_filter = ["is_active", "poll_interval_minutes"]
    search_fields = ["name", "from_address", "imap_host", "imap_username", "manager__email"]
    list_select_related = ["manager"]
    raw_id_fields = ["manager"]
    # The encrypted password columns are not editable and never listed here (INB-2).
    readonly_fields = [
        "last_polled_at",
        "last_success_at",
        "last_error",
        "last_error_at",
        "poll_lease_until",
        "imap_uidvalidity",
        "imap_last_uid",
        "created_at",
    ]
    fieldsets = [
        (None, {"fields": ["manager", "name", "from_address", "poll_interval_minutes", "is_active"]}),
        (_("IMAP"), {"fields": ["imap_host", "imap_port", "imap_username", "imap_use_ssl"]}),
        (_("SMTP"), {"fields": ["smtp_host", "smtp_port", "smtp_username", "smtp_use_starttls"]}),
        (_("Polling"), {"fields": readonly_fields}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Inbox | None = None) -> list[str]:
        if obj is not None:
            # Moving an inbox to another manager would leave it exclusive to, and its mail and
            # standby items with, the old manager's boards (NFR-4).
            return [*self.readonly_fields, "manager"]
        return list(self.readonly_fields)

    @admin.display(boolean=True, description=_("error"))
    def has_error(self, inbox: Inbox) -> bool:
        return bool(inbox.last_error)


@admin.register(ProcessedEmail)
class ProcessedEmailAdmin(admin.ModelAdmin):
    list_display = ["subject", "sender_email", "inbox", "status", "received_at", "attempts"]
    list_filter = ["status"]
    search_fields = ["subject", "sender_email", "message_id", "inbox__name"]
    list_select_related = ["inbox"]
    raw_id_fields = ["inbox", "ticket"]
    date_hierarchy = "created_at"
    actions = ["reprocess_failed"]
    readonly_fields = [
        "inbox",
        "imap_uidvalidity",
        "imap_uid",
        "raw_size",
        "message_id",
        "subject",
        "sender_email",
        "received_at",
        "status",
        "reason",
        "attempts",
        "ticket",
        "created_at",
        "processed_at",
    ]
    # The raw bytes can be megabytes; the list and the form load everything else.
    exclude = ["raw"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ProcessedEmail]:
        return super().get_queryset(request).defer("raw")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=_("Reprocess selected failed emails"))
    def reprocess_failed(self, request: HttpRequest, queryset: QuerySet[ProcessedEmail]) -> None:
        done = 0
        for processed_email in queryset.filter(status=ProcessedEmailStatus.FAILED).select_related("inbox"):
            if processed_email_reprocess(processed_email=processed_email) != ProcessedEmailStatus.FAILED:
                done += 1
        self.message_user(
            request, ngettext("%d email was processed.", "%d emails were processed.", done) % done, messages.SUCCESS
        )
