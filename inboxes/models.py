from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Manager
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
    # The language of mail to reporters who write to this inbox (THR-9); empty: the owner's language.
    language = models.CharField(_("language of mail to reporters"), max_length=10, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    # Polling state (ING-1, INB-4). The lease is the claim that keeps two workers off one inbox.
    poll_lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_polled_at = models.DateTimeField(_("last poll"), null=True, blank=True, editable=False)
    last_success_at = models.DateTimeField(_("last successful poll"), null=True, blank=True, editable=False)
    last_error = models.TextField(_("last error"), blank=True, default="", editable=False)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True, editable=False)
    imap_uidvalidity = models.BigIntegerField(null=True, blank=True, editable=False)
    imap_last_uid = models.BigIntegerField(default=0, editable=False)
    # Who holds the lease: a worker renews or releases only its own claim, so one whose lease ran
    # out (a long stall) cannot extend the claim another worker has taken over since.
    poll_lease_token = models.CharField(max_length=32, blank=True, default="", editable=False)

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
        indexes = [
            models.Index(fields=["is_active", "last_polled_at"], name="inbox_active_polled"),
            # Loop protection looks senders up among our own from addresses (ING-7).
            models.Index(Lower("from_address"), name="inbox_from_address_lower"),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.from_address}>"

    @property
    def poll_abandoned(self) -> bool:
        """A poll's claim that nobody released and nobody renews: its worker died mid-poll."""
        return (
            bool(self.poll_lease_token) and self.poll_lease_until is not None and self.poll_lease_until < timezone.now()
        )

    # Secrets are set and read only through these, never rendered (INB-2).
    def set_imap_password(self, password: str) -> None:
        self.imap_password_encrypted = crypto.encrypt(password)

    def get_imap_password(self) -> str:
        return crypto.decrypt(self.imap_password_encrypted)

    def set_smtp_password(self, password: str) -> None:
        self.smtp_password_encrypted = crypto.encrypt(password) if password else ""

    def get_smtp_password(self) -> str:
        return crypto.decrypt(self.smtp_password_encrypted)


def inbox_reporter_language(*, inbox: Inbox | None, manager: Manager) -> str:
    """The language of mail to reporters who wrote to ``inbox`` (THR-9).

    The inbox's own setting, else its owner's language, else the site's. ``manager`` is the
    inbox's owner, passed in because every caller already has it loaded; ``inbox`` may be None
    for mail whose receiving inbox was deleted since. A code no longer among LANGUAGES counts as
    unset, so a language dropped from the site cannot leave mail untranslated.
    """
    available = {code for code, _name in settings.LANGUAGES}
    for language in (inbox.language if inbox is not None else "", manager.language):
        if language in available:
            return language
    return settings.LANGUAGE_CODE


def language_name(code: str) -> str:
    """The name of one of the site's languages, in the language of the page showing it."""
    return str(dict(settings.LANGUAGES).get(code, code))


class ProcessedEmailStatus(models.TextChoices):
    RECEIVED = "received", _("Waiting to be processed")
    TICKET = "ticket", _("Turned into a ticket")
    QUEUED = "queued", _("Sent to the standby queue")
    REPLY = "reply", _("Added to an existing ticket as the reporter's reply")
    DUPLICATE = "duplicate", _("Ignored as a duplicate")
    IGNORED = "ignored", _("Ignored (account suspended)")
    FAILED = "failed", _("Failed")


# Statuses that are final: the message is handled and may be marked \\Seen on the server.
HANDLED_STATUSES = frozenset(set(ProcessedEmailStatus.values) - {ProcessedEmailStatus.RECEIVED})


class ProcessedEmail(models.Model):
    """One message fetched from an inbox, stored (raw bytes first) before anything else happens.

    The row is the unit of exactly-once intake (ING-4, ING-5): it is unique per IMAP message
    (inbox, UIDVALIDITY, UID) and per Message-ID on the inbox, and its status changes from
    ``received`` in the same transaction that creates the ticket or standby item.
    """

    # No index of its own: the unique (inbox, UIDVALIDITY, UID) index starts with it. Every index
    # here is written twice per message (insert, then the status update), so each one must earn it.
    inbox = models.ForeignKey(Inbox, on_delete=models.CASCADE, related_name="processed_emails", db_index=False)
    imap_uidvalidity = models.BigIntegerField()
    imap_uid = models.BigIntegerField()
    raw = models.BinaryField(_("raw message"), editable=False)
    raw_size = models.PositiveIntegerField(_("size in bytes"), default=0)
    # The Message-ID, or for a message without one a hash of its bytes; empty until parsed.
    message_id = models.CharField(_("Message-ID"), max_length=255, blank=True, default="")
    subject = models.CharField(_("subject"), max_length=998, blank=True, default="")
    sender_email = models.CharField(_("sender"), max_length=320, blank=True, default="")
    # SHA-256 of sender, subject and body: a message without a Message-ID is the same message as
    # an earlier one only when all three match (THR-5). Empty until parsed.
    content_hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    # When the mail server received it (IMAP INTERNALDATE); the duplicate window is measured on it.
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    status = models.CharField(
        _("status"), max_length=10, choices=ProcessedEmailStatus.choices, default=ProcessedEmailStatus.RECEIVED
    )
    # Why it failed, was ignored or counted as a duplicate, in words a manager understands.
    reason = models.TextField(_("reason"), blank=True, default="")
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(_("fetched at"), default=timezone.now)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("processed email")
        verbose_name_plural = _("processed emails")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["inbox", "imap_uidvalidity", "imap_uid"], name="processedemail_unique_imap_uid"
            ),
            # A duplicate keeps its Message-ID for the record but does not claim it.
            models.UniqueConstraint(
                fields=["inbox", "message_id"],
                condition=~models.Q(message_id="") & ~models.Q(status=ProcessedEmailStatus.DUPLICATE),
                name="processedemail_unique_message_id",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=ProcessedEmailStatus.values), name="processedemail_status_valid"
            ),
        ]
        # Partial indexes: a row enters each one only in the state that is looked up, so taking a
        # message in writes fewer index entries.
        indexes = [
            # The inbox page's list of failed and retrying messages.
            models.Index(
                fields=["inbox", "-created_at"],
                condition=models.Q(status__in=[ProcessedEmailStatus.RECEIVED, ProcessedEmailStatus.FAILED]),
                name="processedemail_unfinished",
            ),
            # The inbox page's list of ignored duplicates (THR-5: they stay viewable and downloadable).
            models.Index(
                fields=["inbox", "-created_at"],
                condition=models.Q(status__in=[ProcessedEmailStatus.DUPLICATE, ProcessedEmailStatus.IGNORED]),
                name="processedemail_ignored",
            ),
            # Recent mail of the same sender (THR-4, THR-5): a follow-up with the same subject joins
            # what the earlier one created; the same content without a Message-ID is a duplicate.
            models.Index(
                fields=["inbox", "sender_email", "received_at"],
                condition=models.Q(
                    status__in=[ProcessedEmailStatus.TICKET, ProcessedEmailStatus.QUEUED, ProcessedEmailStatus.REPLY]
                ),
                name="processedemail_sender_window",
            ),
            # SET_NULL when tickets are deleted with their board.
            models.Index(fields=["ticket"], condition=models.Q(ticket__isnull=False), name="processedemail_ticket"),
        ]

    def __str__(self) -> str:
        return self.subject or f"UID {self.imap_uid}"
