"""What a manager is told about by mail (THR-8): a new ticket, a reporter's message, a failing inbox.

A row is written in the transaction of the event itself. In the per-event mode its mail is written
alongside it and the row is born mailed; in the digest modes it waits, and the beat task
(``tasks.send_notification_digests``) mails a manager's waiting rows together once a period is over.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import NotificationMode

# What a row keeps of the ticket's description, the reporter's message or the error.
TEXT_MAX_LENGTH = 1000

DIGEST_PERIODS = {NotificationMode.HOURLY: timedelta(hours=1), NotificationMode.DAILY: timedelta(days=1)}


class NotificationKind(models.TextChoices):
    NEW_TICKET = "new_ticket", _("New ticket")
    REPORTER_MESSAGE = "reporter_message", _("Message from a reporter")
    INBOX_FAILING = "inbox_failing", _("Inbox failing")


TICKET_KINDS = (NotificationKind.NEW_TICKET, NotificationKind.REPORTER_MESSAGE)


class Notification(models.Model):
    manager = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(_("kind"), max_length=20, choices=NotificationKind.choices)
    # A deleted ticket or inbox takes its notifications with it: a digest never links to nothing.
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    inbox = models.ForeignKey("inboxes.Inbox", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    # Who wrote, for tickets and reporters' messages.
    sender_email = models.CharField(_("from"), max_length=320, blank=True, default="")
    # An excerpt: the start of the description or the message, or the inbox's error.
    text = models.TextField(_("text"), blank=True, default="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # Set when the mail that carries it is written; empty while it waits for the manager's digest.
    mailed_at = models.DateTimeField(_("mailed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=NotificationKind.values), name="notification_kind_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(kind__in=TICKET_KINDS) | models.Q(ticket__isnull=False),
                name="notification_ticket_kinds_have_ticket",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind=NotificationKind.INBOX_FAILING) | models.Q(inbox__isnull=False),
                name="notification_inbox_failing_has_inbox",
            ),
        ]
        indexes = [
            # The digest: a manager's waiting rows, oldest first (the beat reads the oldest one).
            models.Index(
                fields=["manager", "created_at"],
                condition=models.Q(mailed_at__isnull=True),
                name="notification_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.text[:40]}"


def digest_due(*, mode: str, sent_at: datetime | None, oldest_pending: datetime, now: datetime) -> bool:
    """Whether a manager's waiting notifications go out now.

    A digest waits a full period after the previous digest, or, before the first one, after the
    oldest waiting notification. Rows left over from a digest mode by a manager who switched to a
    mail for each event go out at once; with mail off nothing goes out.
    """
    if mode == NotificationMode.EACH:
        return True
    period = DIGEST_PERIODS.get(mode)  # type: ignore[call-overload]
    if period is None:
        return False
    return now >= (sent_at or oldest_pending) + period
