"""Reads on tickets: kanban columns and the filtered, sorted list (TKT-4, TKT-5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils import timezone

from boards.models import Board

from .models import ALLOWED_TRANSITIONS, TERMINAL_STATES, ReporterMessage, StateChange, Ticket, TicketState

# Terminal columns only show the latest cards; open columns show more but are capped too, so
# a board with 100,000 tickets opens as fast as one with 10.
KANBAN_OPEN_LIMIT = 20
KANBAN_TERMINAL_LIMIT = 10

SORT_FIELDS = ("created", "title", "state", "updated")
PAGE_SIZES = (10, 25, 50)

_STATE_ORDER = Case(
    *[When(state=state, then=Value(i)) for i, state in enumerate(TicketState.values)],
    output_field=IntegerField(),
)


@dataclass(frozen=True)
class KanbanColumn:
    state: TicketState
    tickets: list[Ticket]
    total: int

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def hidden(self) -> int:
        return max(self.total - len(self.tickets), 0)

    @property
    def moves(self) -> list[TicketState]:
        """Where this column's cards may go: the same for every card, as they share a state."""
        return [TicketState(s) for s in TicketState.values if s in ALLOWED_TRANSITIONS[self.state]]


def kanban_columns(*, board: Board) -> list[KanbanColumn]:
    columns = []
    for state in TicketState:
        limit = KANBAN_TERMINAL_LIMIT if state in TERMINAL_STATES else KANBAN_OPEN_LIMIT
        tickets = list(
            Ticket.objects.internal()
            .filter(board=board, state=state)
            .only("id", "uuid", "title", "state", "creator_email", "created_at", "source", "board_id")
            .order_by("-created_at", "-id")[:limit]
        )
        columns.append(KanbanColumn(state=state, tickets=tickets, total=board.count_for(state)))
    return columns


@dataclass(frozen=True)
class TicketFilter:
    title: str = ""
    description: str = ""
    states: tuple[str, ...] = ()
    created_from: date | None = None
    created_to: date | None = None
    sort: str = "created"
    descending: bool = True


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def ticket_list(*, board: Board, filters: TicketFilter) -> QuerySet[Ticket]:
    tickets = Ticket.objects.internal().filter(board=board)
    if filters.title:
        tickets = tickets.filter(title__icontains=filters.title)
    if filters.description:
        tickets = tickets.filter(description__icontains=filters.description)
    if filters.states:
        tickets = tickets.filter(state__in=filters.states)
    # Dates are the manager's calendar days, in their timezone (ACC-5).
    if filters.created_from:
        tickets = tickets.filter(created_at__gte=_local_midnight(filters.created_from))
    if filters.created_to:
        tickets = tickets.filter(created_at__lt=_local_midnight(filters.created_to) + timezone.timedelta(days=1))

    prefix = "-" if filters.descending else ""
    if filters.sort == "title":
        order: list[Any] = [f"{prefix}title", f"{prefix}id"]
    elif filters.sort == "state":
        tickets = tickets.annotate(state_order=_STATE_ORDER)
        order = [f"{prefix}state_order", "-created_at", "-id"]
    elif filters.sort == "updated":
        order = [f"{prefix}updated_at", f"{prefix}id"]
    else:
        order = [f"{prefix}created_at", f"{prefix}id"]
    return tickets.only(
        "id", "uuid", "title", "state", "creator_email", "source", "created_at", "updated_at", "board_id"
    ).order_by(*order)


def ticket_list_known_count(*, board: Board, filters: TicketFilter) -> int | None:
    """The number of matches read from the board's counters, when only states are filtered.

    Counting 100,000 rows for the page numbers would cost more than the page itself.
    """
    if filters.title or filters.description or filters.created_from or filters.created_to:
        return None
    states = filters.states or tuple(TicketState.values)
    return sum(board.count_for(state) for state in set(states))


def ticket_timeline(*, ticket: Ticket) -> list[StateChange]:
    return list(ticket.state_changes.select_related("changed_by").order_by("created_at", "id"))


def reporter_messages(*, ticket: Ticket) -> list[ReporterMessage]:
    return list(ticket.reporter_messages.order_by("created_at", "id"))
