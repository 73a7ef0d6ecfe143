from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from issuetracker import crypto


class PollInterval(models.IntegerChoices):
    ONE_MINUTE = 1, _("Every minute")
    FIVE_MINUTES = 5, _("Every 5 minutes")
    FIFTEEN_MINUTES = 15, _("Every 15 minutes")


class InboxQuerySet(models.QuerySet["Inbox"]):
    def for_manager(self, manager: settings.AUTH_USER_MODEL) -> InboxQuerySet:
        return self.filter(manager=manager)

    def active(self) -> InboxQuerySet:
        return self.filter(is_active=True)


class Inbox(models.Model):
    """A mailbox of a manager: IMAP to take reports in, SMTP to answer (INB-1)."""

    manager = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="inboxes")
    name = models.CharField(_("name"), max_length=120)

    imap_host = models.CharField(_("IMAP host"), max_length=255)
    imap_port = models.PositiveIntegerField(_("IMAP port"), default=993)
    imap_username = models.CharField(_("IMAP username"), max_length=255)
    imap_password_encrypted = models.TextField(blank=True, default="", editable=False)
    imap_use_ssl = models.BooleanField(_("IMAP over SSL/TLS"), default=True)

    smtp_host = models.CharField(_("SMTP host"), max_length=255)
    smtp_port = models.PositiveIntegerField(_("SMTP port"), default=587)
    smtp_username = models.CharField(_("SMTP username"), max_length=255, blank=True)
    smtp_password_encrypted = models.TextField(blank=True, default="", editable=False)
    smtp_use_starttls = models.BooleanField(_("SMTP STARTTLS"), default=True)

    from_address = models.EmailField(_("from address"))
    poll_interval_minutes = models.PositiveSmallIntegerField(
        _("polling interval"), choices=PollInterval.choices, default=PollInterval.FIVE_MINUTES
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    # Polling state (ING-1, INB-4). The lease is the claim that keeps two workers off one inbox.
    poll_lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_polled_at = models.DateTimeField(_("last poll"), null=True, blank=True, editable=False)
    last_success_at = models.DateTimeField(_("last successful poll"), null=True, blank=True, editable=False)
    last_error = models.TextField(_("last error"), blank=True, default="", editable=False)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True, editable=False)
    imap_uidvalidity = models.BigIntegerField(null=True, blank=True, editable=False)
    imap_last_uid = models.BigIntegerField(default=0, editable=False)

    objects = InboxQuerySet.as_manager()

    class Meta:
        verbose_name = _("inbox")
        verbose_name_plural = _("inboxes")
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(poll_interval_minutes__in=PollInterval.values), name="inbox_poll_interval_allowed"
            ),
            models.CheckConstraint(
                condition=models.Q(imap_port__gte=1, imap_port__lte=65535), name="inbox_imap_port_range"
            ),
            models.CheckConstraint(
                condition=models.Q(smtp_port__gte=1, smtp_port__lte=65535), name="inbox_smtp_port_range"
            ),
        ]
        indexes = [models.Index(fields=["is_active", "last_polled_at"], name="inbox_active_polled")]

    def __str__(self) -> str:
        return f"{self.name} <{self.from_address}>"

    # Secrets are set and read only through these, never rendered (INB-2).
    def set_imap_password(self, password: str) -> None:
        self.imap_password_encrypted = crypto.encrypt(password)

    def get_imap_password(self) -> str:
        return crypto.decrypt(self.imap_password_encrypted)

    def set_smtp_password(self, password: str) -> None:
        self.smtp_password_encrypted = crypto.encrypt(password) if password else ""

    def get_smtp_password(self) -> str:
        return crypto.decrypt(self.smtp_password_encrypted)

    def is_poll_due(self, now: datetime | None = None) -> bool:
        if self.last_polled_at is None:
            return True
        # A few seconds of slack: beat fires every minute and a poll takes a moment.
        due_at = self.last_polled_at + timedelta(minutes=self.poll_interval_minutes) - timedelta(seconds=5)
        return due_at <= (now or timezone.now())


class OutgoingMailStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class OutgoingMailKind(models.TextChoices):
    TICKET_CREATED = "ticket_created", _("Ticket created")
    STATE_CHANGED = "state_changed", _("State changed")
    SUSPENSION_REPLY = "suspension_reply", _("Suspension auto-reply")


class OutgoingMail(models.Model):
    """The outbox (EML-4): written in the transaction that caused the mail, sent after commit.

    A row is the unit of exactly-once delivery: the sending task claims it, sends with the
    row's own Message-ID and marks it sent; a task that runs twice finds it already sent.
    """

    kind = models.CharField(_("kind"), max_length=20, choices=OutgoingMailKind.choices)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="outgoing_mail"
    )
    inbox = models.ForeignKey(
        Inbox,
        verbose_name=_("sent through"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="outgoing_mail",
    )
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.SET_NULL, null=True, blank=True, related_name="outgoing_mail"
    )
    from_email = models.CharField(_("from"), max_length=320)
    to_email = models.EmailField(_("to"))
    subject = models.CharField(_("subject"), max_length=998)
    body = models.TextField(_("body"))
    message_id = models.CharField(_("Message-ID"), max_length=255, unique=True)
    in_reply_to = models.CharField(max_length=998, blank=True, default="")
    references = models.TextField(blank=True, default="")
    status = models.CharField(
        _("status"), max_length=10, choices=OutgoingMailStatus.choices, default=OutgoingMailStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True, default="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    # While a worker sends this row nobody else may; a crashed worker's claim runs out.
    claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("outgoing mail")
        verbose_name_plural = _("outgoing mail")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="outgoingmail_status_created"),
            models.Index(fields=["inbox", "status"], name="outgoingmail_inbox_status"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} → {self.to_email}"
