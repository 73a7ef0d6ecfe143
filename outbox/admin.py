"""ADM-1: outgoing mail; failed mail can be sent again."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .models import OutgoingMail, OutgoingMailStatus
from .services import outgoing_mail_retry


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
        "shown_body",
        "message_id",
        "in_reply_to",
        "references",
        "status",
        "attempts",
        "last_error",
        "created_at",
        "sent_at",
        "next_attempt_at",
        "claimed_until",
    ]
    exclude = ["body"]

    @admin.display(description=_("body"))
    def shown_body(self, mail: OutgoingMail) -> str:
        # Verification and reset mail carry a single-use link to someone else's account.
        return str(_("(hidden: it carries a single-use account link)")) if mail.body_is_secret else mail.body

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=_("Retry failed mail"))
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[OutgoingMail]) -> None:
        retried = sum(1 for mail in queryset.filter(status=OutgoingMailStatus.FAILED) if outgoing_mail_retry(mail=mail))
        self.message_user(
            request, ngettext("%d mail will be sent again.", "%d mails will be sent again.", retried) % retried
        )
