"""ADM-1: inboxes (secrets hidden), processed emails, standby items and outgoing mail."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .models import (
    Inbox,
    OutgoingMail,
    OutgoingMailStatus,
    ProcessedEmail,
    ProcessedEmailStatus,
    StandbyItem,
)
from .outbox import outgoing_mail_retry
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


@admin.register(OutgoingMail)
class OutgoingMailAdmin(admin.ModelAdmin):
    list_display = ["subject", "to_email", "kind", "status", "attempts", "inbox", "created_at", "sent_at"]
    list_filter = ["status", "kind"]
    search_fields = ["subject", "to_email", "message_id"]
    list_select_related = ["inbox"]
    raw_id_fields = ["manager", "inbox", "ticket"]
    date_hierarchy = "created_at"
    actions = ["retry_failed"]
    readonly_fields = [
        "kind",
        "manager",
        "inbox",
        "ticket",
        "from_email",
        "to_email",
        "subject",
        "body",
        "message_id",
        "in_reply_to",
        "references",
        "status",
        "attempts",
        "last_error",
        "created_at",
        "sent_at",
        "claimed_until",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=_("Retry failed mail"))
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[OutgoingMail]) -> None:
        retried = sum(1 for mail in queryset.filter(status=OutgoingMailStatus.FAILED) if outgoing_mail_retry(mail=mail))
        self.message_user(
            request, ngettext("%d mail will be sent again.", "%d mails will be sent again.", retried) % retried
        )
