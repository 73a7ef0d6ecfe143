"""Two managers acting on one ticket at the same moment, on two real database connections (TKT-2,
TKT-3): the moves are checked one after the other, so only allowed moves ever happen."""

from __future__ import annotations

import pytest

from boards.models import Board
from outbox.models import OutgoingMail, OutgoingMailKind
from tickets.errors import InvalidTransitionError
from tickets.models import Entry, Ticket, TicketState
from tickets.services import ticket_change_state

from .factories import TicketFactory
from .races import Gate, paused_after, race

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("first_move", "second_move"),
    [(TicketState.IN_PROGRESS, TicketState.IN_PROGRESS), (TicketState.REJECTED, TicketState.IN_PROGRESS)],
)
def test_two_simultaneous_moves_of_one_ticket_one_wins_the_other_is_refused(
    board, manager, monkeypatch, first_move, second_move
):
    ticket = TicketFactory(board=board)
    gate = Gate()
    # The first move stops right after it locked the row and before it checks the move.
    monkeypatch.setattr(Ticket, "can_move_to", paused_after(gate, Ticket.can_move_to))

    def move(to_state: str):  # type: ignore[no-untyped-def]
        # Each manager's request loaded the ticket while it was still new.
        return lambda: ticket_change_state(
            ticket=Ticket.objects.get(pk=ticket.pk), to_state=to_state, comment="", actor=manager
        )

    first, second = race(move(first_move), move(second_move), gate=gate)

    assert first.error is None, first.error
    assert isinstance(second.error, InvalidTransitionError), second.error
    ticket.refresh_from_db()
    assert ticket.state == first_move
    assert list(Entry.objects.values_list("from_state", "to_state")) == [(TicketState.NEW, first_move)]
    assert OutgoingMail.objects.filter(ticket=ticket, kind=OutgoingMailKind.STATE_CHANGED).count() == 1
    counts = Board.objects.values("count_new", "count_in_progress", "count_rejected").get(pk=board.pk)
    assert counts == {"count_new": 0, "count_in_progress": 0, "count_rejected": 0} | {f"count_{first_move}": 1}
