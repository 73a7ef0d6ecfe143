"""Writes on the standby queue (SBQ-2): assign an item to a board, retry its forwarding, discard it.

Two producers feed the queue by writing ``StandbyItem`` rows in their own transactions: intake
(mail no board could take) and forwarding (a report the platform refused, EXT-3).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from attachments.services import standby_files_move
from boards.external import ExternalError
from boards.models import Board
from inboxes.models import ProcessedEmail, inbox_reporter_language
from outbox.loops import automatic_reply_block_reason
from outbox.services import outgoing_mail_suppress_confirmation
from tickets.errors import ForwardingError, TicketError
from tickets.forwarding import claimed_error, forward_claim, forward_record, forward_send
from tickets.models import Entry, EntrySource, ForwardStatus, Ticket, TicketSource
from tickets.services import ticket_add_reporter_message, ticket_create, ticket_stub_assign, ticket_stub_discard

from .models import StandbyItem, StandbyReason

logger = logging.getLogger(__name__)


class StandbyItemGoneError(TicketError):
    """Somebody else assigned or discarded the item first (a second tab, a double click)."""


def standby_item_assign(*, standby_item: StandbyItem, board: Board) -> Ticket:
    """Create the ticket (with its confirmation, EML-1/ING-6) and remove the item, in one transaction.

    An item whose forwarding failed carries its ticket stub, which is moved instead (SBQ-2).
    """
    if board.manager_id != standby_item.manager_id:
        raise ValueError("a standby item can only be assigned to a board of its own manager")
    with transaction.atomic():
        locked = StandbyItem.objects.select_for_update().filter(pk=standby_item.pk).first()
        if locked is None:
            raise StandbyItemGoneError(_("This item was already assigned or discarded."))
        stub = Ticket.objects.filter(pk=locked.ticket_id).first() if locked.ticket_id else None
        if stub is not None:
            # A report whose forwarding failed (EXT-3) already has its ticket row and the reporter
            # its secret link: move that row (same uuid), and mail nothing a second time.
            ticket = ticket_stub_assign(ticket=stub, board=board)
        else:
            # A manager's click is not a reason to answer an auto-responder (ING-7).
            blocked = automatic_reply_block_reason(
                to_email=locked.sender_email,
                auto_generated_reason=locked.auto_generated_reason,
            )
            ticket = ticket_create(
                board=board,
                title=locked.title,
                description=locked.body,
                creator_email=locked.sender_email,
                source=TicketSource.EMAIL,
                receiving_inbox=locked.receiving_inbox,
                source_message_id=locked.message_id,
                source_references=locked.references,
                reporter_language=inbox_reporter_language(inbox=locked.receiving_inbox, manager=board.manager),
            )
            if blocked:
                outgoing_mail_suppress_confirmation(ticket_id=ticket.pk, reason=blocked)
        if locked.processed_email_id is not None:
            ProcessedEmail.objects.filter(pk=locked.processed_email_id).update(ticket=ticket)
        entries_by_follow_up = _move_follow_ups(item=locked, ticket=ticket)
        # Before the delete, whose cascade would take the files with the item (ATT-1).
        standby_files_move(standby_item=locked, ticket=ticket, entries_by_follow_up=entries_by_follow_up)
        locked.delete()
    logger.info(
        "standby item assigned",
        extra={"standby_item_id": standby_item.pk, "board_id": board.pk, "ticket_id": ticket.pk},
    )
    return ticket


def _move_follow_ups(*, item: StandbyItem, ticket: Ticket) -> dict[int, Entry]:
    """The item's later mails become the reporter's messages on its ticket, in order (THR-4).
    Returns the entry each follow-up became.

    Not marked unread: the manager read them with the item just now.
    """
    follow_ups = list(item.follow_ups.order_by("created_at", "id"))
    entries: dict[int, Entry] = {}
    for follow_up in follow_ups:
        entries[follow_up.pk] = ticket_add_reporter_message(
            ticket=ticket,
            body=follow_up.body,
            sender_email=follow_up.sender_email,
            source=EntrySource.EMAIL,
            message_id=follow_up.message_id,
            created_at=follow_up.created_at,
            unread=False,
        )
    row_ids = [follow_up.processed_email_id for follow_up in follow_ups if follow_up.processed_email_id]
    if row_ids:
        ProcessedEmail.objects.filter(pk__in=row_ids).update(ticket=ticket)
    return entries


def standby_item_discard(*, standby_item: StandbyItem) -> None:
    """Remove the item; a report whose forwarding failed loses its ticket stub in the same transaction.

    The stub would otherwise count on its board for ever (BRD-3) and keep the reporter's secret
    page saying "being processed"; the link answers 404 instead (EXT-3).
    """
    with transaction.atomic():
        locked = StandbyItem.objects.select_for_update().filter(pk=standby_item.pk).first()
        if locked is None:
            raise StandbyItemGoneError(_("This item was already assigned or discarded."))
        stub_deleted = ticket_stub_discard(ticket_id=locked.ticket_id) if locked.ticket_id else False
        locked.delete()
    logger.info(
        "standby item discarded",
        extra={"standby_item_id": standby_item.pk, "ticket_id": locked.ticket_id, "stub_deleted": stub_deleted},
    )


def standby_item_retry_external(*, standby_item: StandbyItem, timeout: float | None = None) -> Ticket:
    """Try the platform again now, while the manager waits; success removes the item.

    The platform is called with the stub's lease held and no transaction open: a second click
    (or the discard button) is refused meanwhile, and no row lock waits on a slow platform. The
    outcome is then written in one short transaction. Raises ForwardingError with the platform's
    reason; the retry is counted either way.
    """
    if standby_item.reason != StandbyReason.EXTERNAL_CREATION_FAILED:
        raise ForwardingError(_("Only reports whose creation on the external platform failed can be retried."))
    with transaction.atomic():
        locked = StandbyItem.objects.select_for_update().filter(pk=standby_item.pk).first()
        if locked is None:
            raise ForwardingError(_("This item was already assigned or discarded."))
        if locked.ticket_id is None:
            raise ForwardingError(_("The original board no longer exists; assign this report to a board instead."))
        claimed = forward_claim(ticket_id=locked.ticket_id, from_status=ForwardStatus.FAILED)
        if claimed is None:
            raise claimed_error()
        claim, ticket = claimed
        StandbyItem.objects.filter(pk=locked.pk).update(retry_count=F("retry_count") + 1)
    standby_item.retry_count += 1
    try:
        platform, issue = forward_send(ticket, timeout=timeout)
    except ExternalError as exc:
        reason = exc.message
        with transaction.atomic():
            StandbyItem.objects.filter(pk=standby_item.pk).update(external_error=reason)
            claim.release()
        standby_item.external_error = reason
        logger.warning(
            "standby retry of forwarding failed",
            extra={"standby_item_id": standby_item.pk, "ticket_id": ticket.pk, "reason": reason},
        )
        raise ForwardingError(_("It failed again: %(reason)s") % {"reason": reason}) from exc
    with transaction.atomic():
        ticket = forward_record(ticket, claim, platform=platform, issue=issue)
        StandbyItem.objects.filter(pk=standby_item.pk).delete()
    logger.info(
        "standby retry of forwarding succeeded", extra={"standby_item_id": standby_item.pk, "ticket_id": ticket.pk}
    )
    return ticket
