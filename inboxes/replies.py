"""Replies by email (TKT-7): a reporter's answer to one of our mails joins the existing ticket.

Matching, first hit wins: the In-Reply-To/References of the message name a mail we sent about a
ticket; otherwise the subject carries the ticket reference ``[#1a2b3c4d]`` that our subjects
carry, and the sender is the ticket's reporter (so a guessed reference attaches nothing).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from outbox.selectors import ticket_id_for_message_ids
from tickets.models import Ticket

SUBJECT_REFERENCE = re.compile(r"\[#([0-9a-f]{8})\]", re.IGNORECASE)
# Where mail clients start quoting the message answered: "On … wrote:", Outlook's separator,
# and the Polish and German forms our reporters' clients use.
_QUOTE_HEADER = re.compile(
    r"^(On .{1,200} wrote:|-{2,} ?Original Message ?-{2,}|W dniu .{1,200} pisze:|Am .{1,200} schrieb .{1,100}:|"
    r"From: .{1,300})\s*$",
    re.IGNORECASE,
)
MAX_HEADER_IDS = 50


def subject_reference(subject: str) -> str | None:
    match = SUBJECT_REFERENCE.search(subject)
    return match.group(1).lower() if match else None


def strip_quoted_reply(body: str) -> str:
    """The reporter's own words: what comes before the quoted message, without '>' lines."""
    kept: list[str] = []
    for line in body.splitlines():
        if _QUOTE_HEADER.match(line.strip()):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    text = "\n".join(kept).strip()
    return text or body.strip()


def reply_target(
    *, manager_id: int, sender_email: str, in_reply_to: Sequence[str], references: Sequence[str], subject: str
) -> Ticket | None:
    """The manager's internal ticket this message answers, if any."""
    header_ids = [*in_reply_to, *references][-MAX_HEADER_IDS:]
    if header_ids:
        ticket_id = ticket_id_for_message_ids(manager_id=manager_id, message_ids=header_ids)
        if ticket_id is not None:
            ticket = Ticket.objects.internal().filter(pk=ticket_id, board__manager_id=manager_id).first()
            if ticket is not None:
                return ticket
    reference = subject_reference(subject)
    if reference and sender_email:
        candidates = Ticket.objects.internal().filter(board__manager_id=manager_id, creator_email=sender_email.lower())
        for ticket in candidates.only("id", "uuid", "board_id", "title"):
            if ticket.uuid.hex.startswith(reference):
                return ticket
    return None
