from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from boards.models import ExternalPlatform
from outbox.models import OutgoingMailStatus

from .quoting import FoldedText, fold_quoted

TITLE_MAX_LENGTH = 255
DESCRIPTION_MAX_LENGTH = 6000
COMMENT_MAX_LENGTH = 2000
# A manager's reply or note, typed on the page.
REPLY_MAX_LENGTH = 10_000
# A reporter's mail is kept whole, quoted history included (folded away on the page, never lost).
ENTRY_BODY_MAX_LENGTH = 100_000


class TicketState(models.TextChoices):
    NEW = "new", _("New")
    IN_PROGRESS = "in_progress", _("In progress")
    CLOSED = "closed", _("Closed")
    REJECTED = "rejected", _("Rejected")


# TKT-2: the only moves there are.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    TicketState.NEW: frozenset({TicketState.IN_PROGRESS, TicketState.REJECTED}),
    TicketState.IN_PROGRESS: frozenset({TicketState.CLOSED, TicketState.REJECTED}),
    TicketState.CLOSED: frozenset(),
    TicketState.REJECTED: frozenset(),
}
TERMINAL_STATES = frozenset({TicketState.CLOSED, TicketState.REJECTED})


class TicketSource(models.TextChoices):
    WEB = "web", _("Web form")
    EMAIL = "email", _("Email")


class ForwardStatus(models.TextChoices):
    """Where a stub of a forwarding board stands (EXT-2, EXT-3); empty for internal tickets."""

    PENDING = "pending", _("Being forwarded")
    FORWARDED = "forwarded", _("Forwarded")
    FAILED = "failed", _("Forwarding failed")


_INTERNAL = models.Q(external_platform="")


class TicketQuerySet(models.QuerySet["Ticket"]):
    def internal(self) -> TicketQuerySet:
        return self.filter(external_platform="")

    def forwarded(self) -> TicketQuerySet:
        return self.exclude(external_platform="")


class Ticket(models.Model):
    """A report on a board. With external_platform set it is only a stub of a forwarded report.

    Internal tickets and forwarding stubs share this table, so a secret link (uuid) is unique
    across both by construction (EXT-2).
    """

    uuid = models.UUIDField(_("secret id"), default=uuid.uuid4, unique=True, editable=False)
    board = models.ForeignKey("boards.Board", on_delete=models.CASCADE, related_name="tickets")
    # The board's manager, copied (boards never change hands) so the dashboard can read a
    # manager's newest tickets from one index instead of sorting all of them.
    manager = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False)
    title = models.CharField(_("title"), max_length=TITLE_MAX_LENGTH)
    description = models.TextField(_("description"), max_length=DESCRIPTION_MAX_LENGTH, blank=True)
    state = models.CharField(_("state"), max_length=12, choices=TicketState.choices, default=TicketState.NEW)
    creator_email = models.EmailField(_("creator email"))
    source = models.CharField(_("source"), max_length=5, choices=TicketSource.choices)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("last state change"), default=timezone.now)
    # Message-ID of the email that opened the ticket, so our answers thread under it, and the
    # inbox it came through, which sends every later mail about it too (EML-3).
    source_message_id = models.CharField(max_length=998, blank=True, default="")
    receiving_inbox = models.ForeignKey(
        "inboxes.Inbox", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    # The References of that email, so every later mail of ours continues the reporter's thread.
    source_references = models.TextField(blank=True, default="", editable=False)
    # The language of mail to the reporter: the public form's page language, or the receiving
    # inbox's language (THR-9).
    reporter_language = models.CharField(max_length=10, blank=True, default="")
    # A reporter message that no manager has opened yet (THR-7); opening the ticket clears it.
    has_unread = models.BooleanField(_("unread reply"), default=False, editable=False)

    external_platform = models.CharField(
        _("forwarded to"), max_length=10, choices=ExternalPlatform.choices, blank=True, default=""
    )
    external_id = models.CharField(_("external id"), max_length=100, blank=True, default="")
    external_url = models.URLField(_("external link"), max_length=500, blank=True, default="")
    forward_status = models.CharField(
        _("forwarding"), max_length=10, choices=ForwardStatus.choices, blank=True, default=""
    )
    # A claim (issuetracker.leases) taken before each call to the platform, so two deliveries of
    # the task (or a task and a manager's retry) never both create the issue; the claim token
    # fences the write of the outcome, and the attempt count is the retry budget.
    forward_claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    forward_claim_token = models.CharField(max_length=32, blank=True, default="", editable=False)
    forward_attempts = models.PositiveIntegerField(default=0, editable=False)
    # When the next attempt is due (backoff after a temporary failure); the beat drain reads it.
    forward_next_attempt_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = TicketQuerySet.as_manager()

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(state__in=TicketState.values), name="ticket_state_valid"),
            models.CheckConstraint(condition=models.Q(source__in=TicketSource.values), name="ticket_source_valid"),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("description"), DESCRIPTION_MAX_LENGTH),
                name="ticket_description_max_length",
            ),
            models.CheckConstraint(condition=~models.Q(title=""), name="ticket_title_not_empty"),
            # A stub is created before the platform answers (EXT-2), so only a forwarded one
            # must carry its link; pending and failed stubs have none yet.
            models.CheckConstraint(
                condition=~models.Q(forward_status=ForwardStatus.FORWARDED) | ~models.Q(external_url=""),
                name="ticket_forwarded_has_url",
            ),
            models.CheckConstraint(
                condition=(models.Q(external_platform="") & models.Q(forward_status=""))
                | (~models.Q(external_platform="") & models.Q(forward_status__in=ForwardStatus.values)),
                name="ticket_forward_status_valid",
            ),
        ]
        # The kanban and the list read internal tickets only, so their indexes leave stubs out.
        indexes = [
            models.Index(
                fields=["board", "state", "-created_at", "-id"], name="ticket_board_state_created", condition=_INTERNAL
            ),
            models.Index(fields=["board", "-created_at", "-id"], name="ticket_board_created", condition=_INTERNAL),
            models.Index(fields=["board", "-updated_at", "-id"], name="ticket_board_updated", condition=_INTERNAL),
            models.Index(fields=["board", "title", "id"], name="ticket_board_title", condition=_INTERNAL),
            # The dashboard: a manager's newest tickets, and those created today / this week.
            models.Index(fields=["manager", "-created_at", "-id"], name="ticket_manager_created"),
            # The dashboard's unread replies (THR-7): few rows, so a small partial index.
            models.Index(
                fields=["manager", "-created_at"], condition=models.Q(has_unread=True), name="ticket_manager_unread"
            ),
            # Reply matching: a mail answering the one that opened a ticket (THR-4).
            models.Index(
                fields=["source_message_id"], condition=~models.Q(source_message_id=""), name="ticket_source_message"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_forwarded(self) -> bool:
        """A stub of a forwarding board, whether or not the platform has it yet."""
        return bool(self.external_platform)

    @property
    def external_link(self) -> str:
        """The issue or card on the platform, once it exists there."""
        return self.external_url if self.forward_status == ForwardStatus.FORWARDED else ""

    def can_move_to(self, state: str) -> bool:
        return state in ALLOWED_TRANSITIONS.get(self.state, frozenset())

    @property
    def allowed_next_states(self) -> list[TicketState]:
        return [TicketState(s) for s in TicketState.values if self.can_move_to(s)]


class EntryKind(models.TextChoices):
    """What a thread entry is (THR-1)."""

    # The reporter wrote: by mail (a reply or a follow-up) or on the secret page (THR-4).
    MESSAGE = "message", _("Reporter message")
    # A manager wrote to the reporter, moved the ticket, or both in one submit (THR-2, TKT-3).
    REPLY = "reply", _("Reply")
    # For the managers only: never mailed, never on the secret page (THR-3).
    NOTE = "note", _("Internal note")


class EntrySource(models.TextChoices):
    EMAIL = "email", _("Email")
    WEB = "web", _("Secret page")


class EntryQuerySet(models.QuerySet["Entry"]):
    def public(self) -> EntryQuerySet:
        """What the reporter may see: everything but internal notes."""
        return self.exclude(kind=EntryKind.NOTE)


class Entry(models.Model):
    """One entry of a ticket's conversation (THR-1), after the report itself (the ticket's description).

    A state change is a reply with ``from_state``/``to_state`` set, its body the comment mailed with
    it (possibly empty), so "reply and move to closed" is one entry and one mail. ``message_id`` is
    the Message-ID of the mail that carried the entry: the reporter's for a message by mail, ours
    for a reply. Reply matching (THR-4) looks mail up by it.
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(_("kind"), max_length=10, choices=EntryKind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    sender_email = models.EmailField(_("from"), max_length=320, blank=True, default="")
    source = models.CharField(_("source"), max_length=5, choices=EntrySource.choices, blank=True, default="")
    body = models.TextField(_("text"), max_length=ENTRY_BODY_MAX_LENGTH, blank=True, default="")
    from_state = models.CharField(_("from"), max_length=12, choices=TicketState.choices, blank=True, default="")
    to_state = models.CharField(_("to"), max_length=12, choices=TicketState.choices, blank=True, default="")
    message_id = models.CharField(max_length=998, blank=True, default="")
    # The mail that took a reply to the reporter, so the thread can say whether it arrived.
    mail = models.ForeignKey(
        "outbox.OutgoingMail", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    objects = EntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("thread entry")
        verbose_name_plural = _("thread entries")
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=EntryKind.values), name="entry_kind_valid"),
            # Only a reply moves a ticket, and a move names both ends.
            models.CheckConstraint(
                condition=(models.Q(from_state="") & models.Q(to_state=""))
                | (
                    models.Q(kind=EntryKind.REPLY)
                    & models.Q(from_state__in=TicketState.values)
                    & models.Q(to_state__in=TicketState.values)
                ),
                name="entry_state_change_valid",
            ),
            # An entry says something: a text, or a move.
            models.CheckConstraint(condition=~models.Q(body="") | ~models.Q(to_state=""), name="entry_not_empty"),
        ]
        indexes = [
            models.Index(fields=["ticket", "created_at", "id"], name="entry_ticket_created"),
            # Reply matching: which ticket's thread holds this Message-ID (THR-4).
            models.Index(fields=["message_id"], condition=~models.Q(message_id=""), name="entry_message_id"),
        ]

    def __str__(self) -> str:
        if self.to_state and not self.body:
            return f"{self.from_state} → {self.to_state}"
        return f"{self.get_kind_display()}: {self.body[:40]}"

    @property
    def is_note(self) -> bool:
        return self.kind == EntryKind.NOTE

    @property
    def is_message(self) -> bool:
        return self.kind == EntryKind.MESSAGE

    @property
    def mail_status_label(self) -> str:
        """The delivery state of a reply's mail, read as ``mail_status`` by the thread selector."""
        status = getattr(self, "mail_status", "")
        return str(OutgoingMailStatus(status).label) if status else ""

    @property
    def is_state_change(self) -> bool:
        return bool(self.to_state)

    @cached_property
    def folded(self) -> FoldedText:
        """The text with quoted history split off, so the page can fold it away (THR-4)."""
        return fold_quoted(self.body) if self.kind == EntryKind.MESSAGE else FoldedText(self.body, "")
