"""What intake must know about earlier mail (THR-4, THR-5, THR-6, ING-7), fetched once per batch.

Asking the database "was this Message-ID seen?", "what did this sender's mail with this subject
become within the window?", "is this one of our own addresses?" and "how much automatic mail did
this mailbox get in the last hour?" for every message would cost four round trips each. Here they
are asked once for a whole batch of parsed messages, and the answers are kept up to date as the
batch's messages are committed.

Only one worker polls an inbox at a time (the lease), so nothing else adds rows for it while a
batch runs; the one exception, a manager reprocessing a failed message, is still caught by the
unique Message-ID constraint. The automatic mail a mailbox got is counted across all inboxes
(outbox.loops), so batches of other inboxes running at the same moment can add to it unseen:
the limit may then be passed by what those batches send to the same person in that moment.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils.translation import gettext as _

from outbox.loops import automatic_mail_counts, counted_mailbox, own_addresses

from .models import Inbox, ProcessedEmail, ProcessedEmailStatus
from .parsing import MessageParseError, ParsedMessage, parse_message
from .replies import EarlierMail, conversation_subject

logger = logging.getLogger(__name__)

SUBJECT_MAX_LENGTH = 998
MESSAGE_KEY_MAX_LENGTH = 255
# Mail that started or continued a conversation: a later mail can follow it up (THR-4).
_CONVERSATION = (ProcessedEmailStatus.TICKET, ProcessedEmailStatus.QUEUED, ProcessedEmailStatus.REPLY)


@dataclass(frozen=True)
class StoredMessage:
    """A stored row's message, parsed (or the reason it could not be)."""

    row_id: int
    received_at: datetime
    parsed: ParsedMessage | None
    parse_failure: str
    key: str

    @property
    def sender(self) -> str:
        return (self.parsed.sender_email or "")[:320] if self.parsed else ""

    @property
    def subject(self) -> str:
        return self.parsed.subject[:SUBJECT_MAX_LENGTH] if self.parsed else ""

    @property
    def content_hash(self) -> str:
        """Sender, subject and body: what makes a message without a Message-ID the same message (THR-5)."""
        if self.parsed is None:
            return ""
        content = "\x00".join((self.sender.lower(), self.subject, self.parsed.body))
        return hashlib.sha256(content.encode("utf-8", "replace")).hexdigest()


def message_key(parsed: ParsedMessage, raw: bytes) -> str:
    """The Message-ID deduplication is keyed on (ING-4).

    A message without one is keyed on a hash of its bytes, so the very same message fetched again
    (after a UIDVALIDITY change, say) is still recognised. Overlong or non-ASCII ids are hashed
    too, to keep the unique index within its size limit.
    """
    message_id = parsed.message_id or ""
    if message_id and len(message_id) <= MESSAGE_KEY_MAX_LENGTH and message_id.isascii():
        return message_id
    source = message_id.encode("utf-8", "replace") if message_id else raw
    suffix = "long-message-id.invalid" if message_id else "no-message-id.invalid"
    return f"<{hashlib.sha256(source).hexdigest()}@{suffix}>"


def stored_message_parse(*, row_id: int, raw: bytes, received_at: datetime) -> StoredMessage:
    try:
        parsed = parse_message(raw)
    except MessageParseError as exc:
        return StoredMessage(row_id, received_at, None, str(exc), "")
    except Exception as exc:
        # The parser promises MessageParseError only; a bug there must still not stop the batch.
        logger.exception("email parser crashed", extra={"processed_email_id": row_id})
        reason = _("The message could not be read (%(error)s).") % {"error": exc.__class__.__name__}
        return StoredMessage(row_id, received_at, None, reason, "")
    return StoredMessage(row_id, received_at, parsed, "", message_key(parsed, raw))


def duplicate_window() -> timedelta:
    return timedelta(minutes=settings.DUPLICATE_EMAIL_THRESHOLD_MINUTES)


@dataclass
class _Earlier:
    received_at: datetime
    mail: EarlierMail


@dataclass
class BatchFacts:
    inbox_id: int
    taken_keys: set[str] = field(default_factory=set)
    # (sender, conversation subject) → earlier mail of that conversation within reach of the window.
    earlier_mail: dict[tuple[str, str], list[_Earlier]] = field(default_factory=dict)
    # content hash → when earlier mail with that content arrived (for mail without a Message-ID).
    earlier_contents: dict[str, list[datetime]] = field(default_factory=dict)
    own_addresses: set[str] = field(default_factory=set)
    # Normalised mailbox → automatic mail it got within the last hour, from any inbox (THR-6).
    automatic_mail_counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, *, inbox: Inbox, messages: Sequence[StoredMessage]) -> BatchFacts:
        """At most four queries, whatever the batch size."""
        facts = cls(inbox_id=inbox.pk)
        readable = [message for message in messages if message.parsed is not None]
        if not readable:
            return facts
        row_ids = [message.row_id for message in messages]
        keys = {message.key for message in readable}
        facts.taken_keys = set(
            # Written to match the partial unique index's condition, so that index answers it.
            ProcessedEmail.objects.filter(inbox=inbox, message_id__in=keys)
            .exclude(message_id="")
            .exclude(status=ProcessedEmailStatus.DUPLICATE)
            .exclude(pk__in=row_ids)
            .values_list("message_id", flat=True)
        )
        senders = {message.sender for message in readable if message.sender}
        if not senders:
            return facts
        window = duplicate_window()
        if window > timedelta(0):
            times = [message.received_at for message in readable]
            earlier = (
                ProcessedEmail.objects.filter(
                    inbox=inbox,
                    sender_email__in=senders,
                    status__in=_CONVERSATION,
                    received_at__gt=min(times) - window,
                    received_at__lt=max(times) + window,
                )
                .exclude(pk__in=row_ids)
                .values_list("id", "sender_email", "subject", "received_at", "ticket_id", "content_hash")
            )
            for row_id, sender, subject, received_at, ticket_id, content_hash in earlier:
                facts._remember(row_id, sender, subject, received_at, ticket_id, content_hash)
        facts.own_addresses = own_addresses(addresses=senders)
        facts.automatic_mail_counts = automatic_mail_counts(addresses=senders)
        return facts

    def _remember(
        self, row_id: int, sender: str, subject: str, received_at: datetime, ticket_id: int | None, content_hash: str
    ) -> None:
        key = (sender, conversation_subject(subject))
        self.earlier_mail.setdefault(key, []).append(_Earlier(received_at, EarlierMail(row_id, ticket_id)))
        if content_hash:
            self.earlier_contents.setdefault(content_hash, []).append(received_at)

    def same_message_id_seen(self, message: StoredMessage) -> bool:
        return bool(message.key) and message.key in self.taken_keys

    def same_content_recently(self, message: StoredMessage) -> bool:
        """THR-5: without a Message-ID, the same sender, subject and body within the window."""
        window = duplicate_window()
        if window <= timedelta(0) or not message.sender or message.parsed is None or message.parsed.message_id:
            return False
        arrivals = self.earlier_contents.get(message.content_hash, [])
        return any(abs(arrival - message.received_at) < window for arrival in arrivals)

    def earlier_in_conversation(self, message: StoredMessage) -> list[EarlierMail]:
        """Earlier mail of the same sender and subject within the window (THR-4, rule 4)."""
        window = duplicate_window()
        if window <= timedelta(0) or not message.sender:
            return []
        earlier = self.earlier_mail.get((message.sender, conversation_subject(message.subject)), [])
        return [item.mail for item in earlier if abs(item.received_at - message.received_at) < window]

    def is_own_address(self, address: str) -> bool:
        return address.strip().lower() in self.own_addresses

    def record(self, message: StoredMessage, *, status: str, answered: bool, ticket_id: int | None = None) -> None:
        """Called once the message's transaction committed."""
        if message.key and status != ProcessedEmailStatus.DUPLICATE:
            self.taken_keys.add(message.key)
        if status in _CONVERSATION and message.sender:
            self._remember(
                message.row_id, message.sender, message.subject, message.received_at, ticket_id, message.content_hash
            )
        mailbox = counted_mailbox(message.sender) if answered else None
        if mailbox:
            self.automatic_mail_counts[mailbox] = self.automatic_mail_counts.get(mailbox, 0) + 1
