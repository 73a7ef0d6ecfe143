"""Factories for tickets and their history, shared by every app's tests.

Tickets and state changes are written straight to the database here (no outbox row, no mail);
tests of the services call the services. The factories still keep the board's per-state
counters right, so pages that read them agree with the rows a test created.
"""

from __future__ import annotations

from typing import Any

import factory
from django.db.models import F
from django.utils import timezone

from boards.models import Board, ExternalPlatform
from boards.tests.factories import BoardFactory
from tickets.models import Entry, EntryKind, ForwardStatus, Ticket, TicketSource, TicketState


def _bump_board_counter(board_id: int, field: str, delta: int) -> None:
    Board.objects.filter(pk=board_id).update(**{field: F(field) + delta})


def _counter_for(ticket: Ticket, state: str) -> str:
    return "count_forwarded" if ticket.is_forwarded else f"count_{state}"


class TicketFactory(factory.django.DjangoModelFactory):
    """A ticket in any state, without history: `TicketFactory(board=board, state=TicketState.CLOSED)`.

    Add history with StateChangeFactory, which moves the ticket along as it records.
    """

    class Meta:
        model = Ticket

    board = factory.SubFactory(BoardFactory)
    manager = factory.SelfAttribute("board.manager")
    title = factory.Sequence(lambda n: f"Printer on floor {n} is jammed")
    description = "It shows error 42 and makes a grinding noise."
    creator_email = factory.Sequence(lambda n: f"reporter{n}@example.org")
    source = TicketSource.WEB
    state = TicketState.NEW

    class Params:
        forwarded = factory.Trait(
            external_platform=ExternalPlatform.JIRA,
            forward_status=ForwardStatus.FORWARDED,
            external_id=factory.Sequence(lambda n: f"PRJ-{n + 1}"),
            external_url=factory.LazyAttribute(lambda o: f"https://example.atlassian.net/browse/{o.external_id}"),
        )

    @classmethod
    def _create(cls, model_class: type[Ticket], *args: Any, **kwargs: Any) -> Ticket:
        ticket = super()._create(model_class, *args, **kwargs)
        _bump_board_counter(ticket.board_id, _counter_for(ticket, ticket.state), +1)
        return ticket


def _first_allowed_move(change: Any) -> str:
    allowed = change.ticket.allowed_next_states
    if not allowed:
        raise ValueError(f"ticket in state {change.ticket.state!r} cannot move; pass to_state and from_state")
    return allowed[0]


class StateChangeFactory(factory.django.DjangoModelFactory):
    """One move recorded on the thread (a reply entry with a state change); the ticket is moved to `to_state` too.

    Defaults to the ticket's first allowed move (new → in progress, in progress → closed).
    """

    class Meta:
        model = Entry

    ticket = factory.SubFactory(TicketFactory)
    kind = EntryKind.REPLY
    from_state = factory.LazyAttribute(lambda o: o.ticket.state)
    to_state = factory.LazyAttribute(_first_allowed_move)
    body = ""
    author = factory.LazyAttribute(lambda o: o.ticket.board.manager)
    created_at = factory.LazyFunction(timezone.now)

    @classmethod
    def _create(cls, model_class: type[Entry], *args: Any, **kwargs: Any) -> Entry:
        change = super()._create(model_class, *args, **kwargs)
        ticket = change.ticket
        if ticket.state != change.to_state:
            _bump_board_counter(ticket.board_id, _counter_for(ticket, ticket.state), -1)
            _bump_board_counter(ticket.board_id, _counter_for(ticket, change.to_state), +1)
            ticket.state = change.to_state
        ticket.updated_at = change.created_at
        ticket.save(update_fields=["state", "updated_at"])
        return change
