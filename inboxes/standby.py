"""Writes on the standby queue (SBQ-2): assign an item to a board, or discard it."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils.translation import gettext as _

from boards.forwarding import ticket_stub_assign, ticket_stub_discard
from boards.models import Board
from tickets.models import Ticket, TicketSource
from tickets.services import TicketError, ticket_create

from .loops import automatic_reply_block_reason, confirmation_suppress
from .models import ProcessedEmail, StandbyItem

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
                inbox=locked.receiving_inbox,
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
            )
            if blocked:
                confirmation_suppress(ticket_id=ticket.pk, reason=blocked)
        if locked.processed_email_id is not None:
            ProcessedEmail.objects.filter(pk=locked.processed_email_id).update(ticket=ticket)
        locked.delete()
    logger.info(
        "standby item assigned",
        extra={"standby_item_id": standby_item.pk, "board_id": board.pk, "ticket_id": ticket.pk},
    )
    return ticket


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
