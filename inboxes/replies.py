"""Which conversation an incoming mail continues (THR-4), if any.

First hit wins:

1. Its In-Reply-To or References name a Message-ID of a ticket's thread: the mail that opened
   it, a later mail of the reporter's, or any mail we sent about it.
2. They name the mail that waits in the standby queue, or one of its follow-ups: the mail joins
   that item and goes with it when the item is assigned.
3. Its subject carries a ticket's reference ``[#1a2b3c4d]`` (our subjects carry it) and its
   sender already wrote on that ticket, so a guessed reference attaches nothing.
4. The same sender wrote with the same subject (``Re:``/``Fwd:`` aside) within
   ``DUPLICATE_EMAIL_THRESHOLD_MINUTES``: a follow-up of what that mail created (THR-5 — it used
   to be dropped as a duplicate). The caller passes what it knows of that earlier mail.

Tickets only of the inbox's manager, and internal ones: a forwarded report lives on its platform.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import QuerySet

from outbox.selectors import ticket_id_for_message_ids
from standby.models import StandbyFollowUp, StandbyItem, StandbyReason
from tickets.models import Ticket
from tickets.selectors import ticket_has_writer, ticket_id_for_thread_message_ids

SUBJECT_REFERENCE = re.compile(r"\[#([0-9a-f]{8})\]", re.IGNORECASE)
MAX_HEADER_IDS = 50
# Reply and forward prefixes of common clients, in any case, with an optional counter: "Re[2]:".
_SUBJECT_PREFIX = re.compile(
    r"^\s*(?:re|fw|fwd|aw|wg|odp|pd|sv|vs|tr|antw|rif|enc|r)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*", re.IGNORECASE
)


def subject_reference(subject: str) -> str | None:
    match = SUBJECT_REFERENCE.search(subject)
    return match.group(1).lower() if match else None


def conversation_subject(subject: str) -> str:
    """The subject with reply/forward prefixes and case folded away, whitespace collapsed."""
    text = subject
    while True:
        stripped = _SUBJECT_PREFIX.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class EarlierMail:
    """An earlier mail of the same sender and subject (rule 4): what it was turned into."""

    row_id: int
    ticket_id: int | None


@dataclass(frozen=True)
class ThreadTarget:
    """Exactly one of ``ticket`` and ``standby_item`` is set."""

    ticket: Ticket | None = None
    standby_item: StandbyItem | None = None


def thread_target(
    *,
    manager_id: int,
    sender_email: str,
    in_reply_to: Sequence[str],
    references: Sequence[str],
    subject: str,
    earlier: Sequence[EarlierMail] = (),
) -> ThreadTarget | None:
    """The conversation this message continues, or None when it starts a new one."""
    header_ids = list(dict.fromkeys([*in_reply_to, *references]))[-MAX_HEADER_IDS:]
    if header_ids:
        ticket_id = ticket_id_for_message_ids(manager_id=manager_id, message_ids=header_ids)
        if ticket_id is None:
            ticket_id = ticket_id_for_thread_message_ids(manager_id=manager_id, message_ids=header_ids)
        ticket = _internal_ticket(manager_id, ticket_id)
        if ticket is not None:
            return ThreadTarget(ticket=ticket)
        item = _standby_item_for_message_ids(manager_id, header_ids)
        if item is not None:
            return ThreadTarget(standby_item=item)
    reference = subject_reference(subject)
    if reference and sender_email:
        for ticket in Ticket.objects.internal().filter(manager_id=manager_id, uuid__startswith=reference)[:5]:
            if ticket_has_writer(ticket=ticket, sender_email=sender_email):
                return ThreadTarget(ticket=ticket)
    # Newest first: a follow-up continues the latest state of the conversation.
    for mail in sorted(earlier, key=lambda mail: mail.row_id, reverse=True):
        ticket = _internal_ticket(manager_id, mail.ticket_id)
        if ticket is not None:
            return ThreadTarget(ticket=ticket)
        item = _standby_item_for_row(manager_id, mail.row_id)
        if item is not None:
            return ThreadTarget(standby_item=item)
    return None


def _internal_ticket(manager_id: int, ticket_id: int | None) -> Ticket | None:
    if ticket_id is None:
        return None
    return Ticket.objects.internal().filter(pk=ticket_id, manager_id=manager_id).first()


def _items(manager_id: int) -> QuerySet[StandbyItem]:
    """Items a follow-up can join: mail no board took. A report whose forwarding failed (EXT-3)
    already lives on its platform-bound stub, and a retry that succeeds removes the item, so a
    follow-up parked there would be lost; it is routed as a report of its own instead."""
    return StandbyItem.objects.filter(manager_id=manager_id).exclude(reason=StandbyReason.EXTERNAL_CREATION_FAILED)


def _standby_item_for_message_ids(manager_id: int, message_ids: list[str]) -> StandbyItem | None:
    item = _items(manager_id).filter(message_id__in=message_ids).order_by("-id").first()
    if item is not None:
        return item
    follow_up = (
        StandbyFollowUp.objects.filter(item__in=_items(manager_id), message_id__in=message_ids)
        .select_related("item")
        .order_by("-id")
        .first()
    )
    return follow_up.item if follow_up is not None else None


def _standby_item_for_row(manager_id: int, row_id: int) -> StandbyItem | None:
    item = _items(manager_id).filter(processed_email_id=row_id).first()
    if item is not None:
        return item
    follow_up = (
        StandbyFollowUp.objects.filter(item__in=_items(manager_id), processed_email_id=row_id)
        .select_related("item")
        .first()
    )
    return follow_up.item if follow_up is not None else None
