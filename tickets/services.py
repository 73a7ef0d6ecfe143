"""Writes on tickets. Every ticket creation and every state change goes through here."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from attachments.services import attachments_add
from boards.models import Board, ExternalPlatform
from inboxes.models import Inbox
from issuetracker.wakeups import publish_on_commit
from notifications.services import notify_reporter_message, notify_ticket_created
from outbox.models import OutgoingMail, OutgoingMailKind
from outbox.rendering import RenderedEmail
from outbox.services import choose_sending_inbox, outgoing_mail_create

from .emails import render_reply, render_state_changed, render_ticket_created
from .errors import BoardClosedError, InvalidTransitionError, TicketError
from .forwarding import claimed_error, stub_is_claimed
from .models import (
    DESCRIPTION_MAX_LENGTH,
    ENTRY_BODY_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Entry,
    EntryKind,
    EntrySource,
    ForwardStatus,
    Ticket,
    TicketSource,
    TicketState,
)
from .selectors import thread_message_ids
from .tasks import forward_ticket

logger = logging.getLogger(__name__)


def ticket_create(
    *,
    board: Board,
    title: str,
    description: str,
    creator_email: str,
    source: TicketSource,
    receiving_inbox: Inbox | None = None,
    source_message_id: str = "",
    source_references: str = "",
    reporter_language: str = "",
    files: Sequence[Any] = (),
) -> Ticket:
    """Create a ticket and its confirmation mail (EML-1) in one transaction.

    For an email ticket the confirmation goes out through the receiving inbox, threaded as a
    reply to the reporter's message (ING-6).

    On a board that forwards to Jira or Trello the ticket is a pending stub (EXT-2): same row,
    same secret link, and a task creates the issue or card after commit.

    ``files`` are the report's attachments (ATT-2), stored in the same transaction.
    """
    if board.is_archived:
        raise BoardClosedError(_("This board no longer accepts tickets."))
    forwards = board.forwards_externally
    # Inside a caller's transaction (intake takes a batch of mail in one) no savepoint of our own:
    # a failure here fails the caller's transaction, which redoes its messages one by one.
    with transaction.atomic(savepoint=False):
        ticket = Ticket.objects.create(
            board=board,
            manager_id=board.manager_id,
            receiving_inbox=receiving_inbox,
            reporter_language=reporter_language,
            title=title.strip()[:TITLE_MAX_LENGTH] or _("(no subject)"),
            description=description[:DESCRIPTION_MAX_LENGTH],
            creator_email=creator_email.strip().lower(),
            source=source,
            source_message_id=source_message_id,
            source_references=source_references if source_message_id else "",
            external_platform=board.external_platform,
            forward_status=ForwardStatus.PENDING if forwards else "",
            forward_next_attempt_at=timezone.now() if forwards else None,
        )
        attachments_add(ticket=ticket, files=files)
        counter = "count_forwarded" if forwards else "count_new"
        Board.objects.filter(pk=board.pk).update(**{counter: F(counter) + 1})
        rendered = render_ticket_created(ticket)
        outgoing_mail_create(
            kind=OutgoingMailKind.TICKET_CREATED,
            to_email=ticket.creator_email,
            subject=rendered.subject,
            body=rendered.body,
            manager=board.manager,
            inbox=choose_sending_inbox(board=board, receiving_inbox=receiving_inbox),
            ticket=ticket,
            in_reply_to=source_message_id,
            references=" ".join(part for part in (source_references, source_message_id) if part),
        )
        notify_ticket_created(ticket=ticket)
        if forwards:
            publish_on_commit(forward_ticket, ticket.pk)
    logger.info("ticket created", extra={"ticket_id": ticket.pk, "board_id": board.pk, "source": source})
    return ticket


def ticket_post(
    *,
    ticket: Ticket,
    actor: Any | None,
    body: str = "",
    to_state: str = "",
    internal: bool = False,
    files: Sequence[Any] = (),
) -> list[Entry]:
    """A manager writes on the thread: a reply to the reporter (THR-2), an internal note (THR-3),
    a move (TKT-2), or a reply or note with a move, in one transaction. Returns the new entries.

    A reply, and every move, is mailed to the reporter through the sending inbox (EML-3), threaded
    under every Message-ID of the thread, in the reporter's language, with the secret link. A note
    is never mailed; a note with a move is a note plus the move, so the reporter still learns of
    the move (EML-2) but never of the note. Replies are allowed on closed and rejected tickets;
    moves only where TKT-2 allows them. The row is locked so two managers' moves are checked one
    after the other.

    ``files`` go with the reply and its mail (ATT-3), or with the note, which is never mailed.
    """
    body = body.strip()
    if not body and not to_state:
        raise TicketError(_("Write a message or choose a new state."))
    with transaction.atomic():
        locked = (
            # Lock the ticket row only: the joined inbox rows may be absent (outer join).
            Ticket.objects.select_for_update(of=("self",))
            .select_related("board", "board__manager", "board__exclusive_inbox", "receiving_inbox")
            .get(pk=ticket.pk)
        )
        if locked.is_forwarded:
            raise InvalidTransitionError(_("This ticket was forwarded to an external platform."))
        if to_state and not locked.can_move_to(to_state):
            raise InvalidTransitionError(
                _("A ticket cannot move from “%(from)s” to “%(to)s”.")
                % {"from": TicketState(locked.state).label, "to": _label(to_state)}
            )
        now = timezone.now()
        entries: list[Entry] = []
        public_body = "" if internal else body
        if to_state or public_body:
            reply = Entry(
                ticket=locked,
                kind=EntryKind.REPLY,
                author=actor,
                body=public_body,
                from_state=locked.state if to_state else "",
                to_state=to_state,
                created_at=now,
            )
            if to_state:
                _move(locked, to_state, now)
            rendered = render_state_changed(locked, reply) if to_state else render_reply(locked, reply)
            reply.save()
            reply_files = [] if internal else attachments_add(ticket=locked, entry=reply, files=files)
            reply.mail = _mail_reporter(
                locked,
                kind=OutgoingMailKind.STATE_CHANGED if to_state else OutgoingMailKind.REPLY,
                rendered=rendered,
                attachments=reply_files,
            )
            reply.message_id = reply.mail.message_id
            reply.save(update_fields=["mail", "message_id"])
            entries.append(reply)
        if internal and body:
            note = Entry.objects.create(ticket=locked, kind=EntryKind.NOTE, author=actor, body=body, created_at=now)
            attachments_add(ticket=locked, entry=note, files=files)
            entries.append(note)
    logger.info(
        "ticket entry posted",
        extra={"ticket_id": locked.pk, "kinds": [entry.kind for entry in entries], "to_state": to_state},
    )
    ticket.state, ticket.updated_at = locked.state, locked.updated_at
    return entries


def ticket_change_state(*, ticket: Ticket, to_state: str, comment: str, actor: Any | None) -> Ticket:
    """Move a ticket (TKT-2), record it on the thread (TKT-3) and tell the reporter (EML-2)."""
    ticket_post(ticket=ticket, actor=actor, body=comment, to_state=to_state)
    return ticket


def _move(locked: Ticket, to_state: str, now: Any) -> None:
    Board.objects.filter(pk=locked.board_id).update(
        **{
            f"count_{locked.state}": F(f"count_{locked.state}") - 1,
            f"count_{to_state}": F(f"count_{to_state}") + 1,
        }
    )
    locked.state = to_state
    locked.updated_at = now
    locked.save(update_fields=["state", "updated_at"])


def _mail_reporter(
    ticket: Ticket, *, kind: OutgoingMailKind, rendered: RenderedEmail, attachments: Sequence[Any] = ()
) -> OutgoingMail:
    """Mail the reporter, continuing the thread: In-Reply-To the newest message of it, References
    every Message-ID it holds (THR-2)."""
    thread = thread_message_ids(ticket=ticket)
    return outgoing_mail_create(
        kind=kind,
        to_email=ticket.creator_email,
        subject=rendered.subject,
        body=rendered.body,
        manager=ticket.board.manager,
        inbox=choose_sending_inbox(board=ticket.board, receiving_inbox=ticket.receiving_inbox),
        ticket=ticket,
        in_reply_to=thread[-1] if thread else "",
        references=" ".join(thread),
        attachments=attachments,
    )


def ticket_add_reporter_message(
    *,
    ticket: Ticket,
    body: str,
    sender_email: str,
    source: EntrySource,
    message_id: str = "",
    created_at: datetime | None = None,
    unread: bool = True,
    files: Sequence[Any] = (),
) -> Entry:
    """The reporter wrote (THR-4): by mail, or on the secret page. No mail goes back to them; the
    ticket is marked unread for the managers (THR-7), who are told (THR-8).

    ``unread=False`` for messages a manager already saw elsewhere (a standby item's follow-ups
    moving with it onto its ticket). ``files`` are the message's attachments (ATT-2).
    """
    with transaction.atomic(savepoint=False):
        entry = Entry.objects.create(
            ticket=ticket,
            kind=EntryKind.MESSAGE,
            body=body[:ENTRY_BODY_MAX_LENGTH],
            sender_email=sender_email.strip().lower()[:320],
            source=source,
            message_id=message_id,
            created_at=created_at or timezone.now(),
        )
        attachments_add(ticket=ticket, entry=entry, files=files)
        if unread:
            Ticket.objects.filter(pk=ticket.pk, has_unread=False).update(has_unread=True)
            ticket.has_unread = True
            notify_reporter_message(ticket=ticket, sender_email=entry.sender_email, body=entry.folded.own)
    logger.info("reporter message added", extra={"ticket_id": ticket.pk, "entry_id": entry.pk, "source": source})
    return entry


def ticket_mark_read(*, ticket: Ticket) -> None:
    """A manager opened the ticket (THR-7). A conditional write, so reading a read ticket writes nothing."""
    if ticket.has_unread:
        Ticket.objects.filter(pk=ticket.pk, has_unread=True).update(has_unread=False)
        ticket.has_unread = False


def ticket_delete_unhandled(*, ticket: Ticket) -> None:
    """Delete a ticket nobody has acted on yet (spam, from the admin); anything with a thread is a record.

    The board's per-state counter is kept in the same transaction.
    """
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if locked.state != TicketState.NEW or locked.entries.exists():
            raise TicketError(_("Only a ticket that is still new, with no thread, can be deleted."))
        counter = "count_forwarded" if locked.is_forwarded else f"count_{locked.state}"
        locked.delete()
        Board.objects.filter(pk=locked.board_id).update(**{counter: F(counter) - 1})


def ticket_stub_discard(*, ticket_id: int) -> bool:
    """The manager discards a failed report (SBQ-2): its stub goes too. Call inside the transaction
    that removes the standby item.

    Otherwise the stub would count on its board for ever (BRD-3: the board could never be
    deleted) and the reporter's secret page would say "being processed" for ever; now the link
    answers 404, which is honest. Returns whether a stub was deleted; a stub that is no longer
    failed (forwarded or moved to a board since) is left alone.
    """
    locked = Ticket.objects.select_for_update().filter(pk=ticket_id).first()
    if locked is None or not locked.is_forwarded or locked.forward_status != ForwardStatus.FAILED:
        return False
    if stub_is_claimed(locked):
        raise claimed_error()
    locked.delete()
    Board.objects.filter(pk=locked.board_id).update(count_forwarded=F("count_forwarded") - 1)
    logger.info("failed forwarding stub discarded", extra={"ticket_id": ticket_id, "board_id": locked.board_id})
    return True


def ticket_stub_assign(*, ticket: Ticket, board: Board) -> Ticket:
    """Move a failed stub to a board of the manager's choice, keeping its uuid (SBQ-2, EXT-3).

    On an internal board it becomes an ordinary new ticket; on a forwarding board it is forwarded
    anew. No second confirmation mail: the reporter already has the secret link, which now shows
    the ticket. Call inside the transaction that removes the standby item.
    """
    if board.is_archived:
        raise BoardClosedError(_("This board no longer accepts tickets."))
    locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if stub_is_claimed(locked):
        raise claimed_error()
    old_counter = "count_forwarded" if locked.is_forwarded else f"count_{locked.state}"
    locked.forward_claimed_until = None
    if board.forwards_externally:
        locked.external_platform = board.external_platform
        locked.forward_status = ForwardStatus.PENDING
        # A new round with a fresh budget starts now.
        locked.forward_attempts = 0
        locked.forward_next_attempt_at = timezone.now()
        new_counter = "count_forwarded"
    else:
        locked.external_platform = ExternalPlatform.NONE
        locked.forward_status = ""
        locked.state = TicketState.NEW
        new_counter = "count_new"
    locked.external_id = ""
    locked.external_url = ""
    old_board_id, locked.board = locked.board_id, board
    locked.save(
        update_fields=[
            "board",
            "external_platform",
            "forward_status",
            "external_id",
            "external_url",
            "state",
            "forward_claimed_until",
            "forward_attempts",
            "forward_next_attempt_at",
        ]
    )
    Board.objects.filter(pk=old_board_id).update(**{old_counter: F(old_counter) - 1})
    Board.objects.filter(pk=board.pk).update(**{new_counter: F(new_counter) + 1})
    if board.forwards_externally:
        publish_on_commit(forward_ticket, locked.pk)
    logger.info(
        "forwarding stub assigned",
        extra={"ticket_id": locked.pk, "from_board_id": old_board_id, "board_id": board.pk},
    )
    return locked


def _label(state: str) -> str:
    try:
        return str(TicketState(state).label)
    except ValueError:
        return state
