from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class OutgoingMailStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    # Loop protection (ING-7) decided not to send it; kept so the decision is visible.
    SUPPRESSED = "suppressed", _("Not sent (loop protection)")


class OutgoingMailKind(models.TextChoices):
    TICKET_CREATED = "ticket_created", _("Ticket created")
    STATE_CHANGED = "state_changed", _("State changed")
    SUSPENSION_REPLY = "suspension_reply", _("Suspension auto-reply")
    # A manager's message to the reporter from the ticket page (THR-2).
    REPLY = "reply", _("Reply")
    # Mail to a manager about their workspace: a new ticket, a reporter's message, a failing inbox (THR-8).
    NOTIFICATION = "notification", _("Notification")
    # Verification and password-reset mail (ACC-8): its body carries a single-use link, so it is
    # blanked once the mail is sent, and never shown in the admin.
    ACCOUNT = "account", _("Account mail")


# Kinds a person wrote (a manager's reply or move), not a robot: sent without Auto-Submitted.
PERSONAL_KINDS = frozenset({OutgoingMailKind.REPLY, OutgoingMailKind.STATE_CHANGED})

# Kinds whose body is a secret: kept only until the mail is sent.
SECRET_KINDS = frozenset({OutgoingMailKind.ACCOUNT})


class OutgoingMail(models.Model):
    """The outbox (EML-4): written in the transaction that caused the mail, sent after commit.

    A row is the unit of exactly-once delivery: the sending task claims it (issuetracker.leases),
    sends with the row's own Message-ID and marks it sent; a task that runs twice finds it already
    sent. Its attempt count is the only retry budget, and ``next_attempt_at`` its schedule, so a
    beat task can send what a lost wake-up task missed without ever sending it early.
    """

    kind = models.CharField(_("kind"), max_length=20, choices=OutgoingMailKind.choices)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="outgoing_mail"
    )
    inbox = models.ForeignKey(
        "inboxes.Inbox",
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
    # to_email in the one spelling all its equivalent forms share (issuetracker.mailboxes), so the
    # hourly limit on automatic mail (THR-6) counts a person once however they write their address.
    to_mailbox = models.CharField(max_length=320, blank=True, default="", editable=False)
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
    # When the next attempt is due: now for a new row, later after a temporary failure (backoff).
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    # While a worker sends this row nobody else may; a crashed worker's claim runs out.
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True, default="", editable=False)
    # Files sent with a manager's reply (ATT-3), read from storage when the mail is built.
    attachments = models.ManyToManyField("attachments.Attachment", blank=True, related_name="+", editable=False)

    class Meta:
        verbose_name = _("outgoing mail")
        verbose_name_plural = _("outgoing mail")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=OutgoingMailStatus.values), name="outgoingmail_status_valid"
            ),
        ]
        indexes = [
            # The beat drain: pending rows whose time has come.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status=OutgoingMailStatus.PENDING),
                name="outgoingmail_pending_due",
            ),
            models.Index(fields=["inbox", "status"], name="outgoingmail_inbox_status"),
            models.Index(fields=["to_mailbox", "created_at"], name="outgoingmail_mailbox_created"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} → {self.to_email}"

    @property
    def body_is_secret(self) -> bool:
        return self.kind in SECRET_KINDS
