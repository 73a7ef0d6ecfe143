"""Reads on tickets: kanban columns and the filtered, sorted list (TKT-4, TKT-5)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from django.db.models import Case, Count, F, IntegerField, QuerySet, Value, When, Window
from django.utils import timezone

from attachments.models import Attachment
from attachments.selectors import thread_files
from boards.models import Board
from outbox.models import OutgoingMail

from .models import ALLOWED_TRANSITIONS, TERMINAL_STATES, Entry, EntryKind, Ticket, TicketState

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
            .only("id", "uuid", "title", "state", "creator_email", "created_at", "source", "board_id", "has_unread")
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
        "id", "uuid", "title", "state", "creator_email", "source", "created_at", "updated_at", "board_id", "has_unread"
    ).order_by(*order)


def ticket_list_known_count(*, board: Board, filters: TicketFilter) -> int | None:
    """The number of matches read from the board's counters, when only states are filtered.

    Counting 100,000 rows for the page numbers would cost more than the page itself.
    """
    if filters.title or filters.description or filters.created_from or filters.created_to:
        return None
    states = filters.states or tuple(TicketState.values)
    return sum(board.count_for(state) for state in set(states))


# A long conversation opens on its newest entries; the rest is one click away (?thread=all).
THREAD_NEWEST = 50


@dataclass(frozen=True)
class Thread:
    entries: list[Entry]
    # Older entries not in ``entries``.
    earlier: int
    # The report's files; each entry carries its own as ``entry.files``.
    report_files: list[Attachment] = field(default_factory=list)


def ticket_thread(*, ticket: Ticket, public: bool = False, newest: int | None = THREAD_NEWEST) -> Thread:
    """The conversation after the report, oldest first (THR-1): the newest ``newest`` entries (all
    with None) and how many older ones there are, in one query however long the thread is.

    ``public`` leaves internal notes out: what the secret page shows (THR-3). Files come in one
    more query, for the rows shown only, so a note's files are never read for the secret page.
    """
    entries = Entry.objects.filter(ticket=ticket)
    if public:
        entries = entries.public()
    else:
        # Of a reply's mail only its status is shown: a column, not a joined model to build.
        entries = entries.select_related("author").annotate(mail_status=F("mail__status"))
    # The window counts the whole thread before LIMIT applies: the total comes with the rows.
    entries = entries.annotate(thread_total=Window(Count("id"))).order_by("-created_at", "-id")
    rows = list(entries[:newest] if newest is not None else entries)
    rows.reverse()
    report_files, files_by_entry = thread_files(ticket=ticket, entry_ids=[row.pk for row in rows])
    for row in rows:
        row.files = files_by_entry.get(row.pk, [])
    return Thread(entries=rows, earlier=rows[0].thread_total - len(rows) if rows else 0, report_files=report_files)


# A References header names the thread's root and its newest messages; RFC 5322 allows trimming
# the middle, and mail clients thread on the root and the parent.
MAX_REFERENCES = 20


def thread_message_ids(*, ticket: Ticket) -> list[str]:
    """Every Message-ID of a ticket's thread, oldest first (THR-2): the mail that opened it (and
    what it referenced), the reporter's later mail and every mail we sent about it."""
    dated: list[tuple[object, int, str]] = [
        (created_at, 0, message_id)
        for created_at, message_id in Entry.objects.filter(ticket=ticket, kind=EntryKind.MESSAGE)
        .exclude(message_id="")
        .values_list("created_at", "message_id")
    ]
    dated += [
        (created_at, 1, message_id)
        for created_at, message_id in OutgoingMail.objects.filter(ticket=ticket).values_list("created_at", "message_id")
    ]
    ids = [*ticket.source_references.split(), ticket.source_message_id] if ticket.source_message_id else []
    ids += [message_id for _, _, message_id in sorted(dated, key=lambda item: (item[0], item[1]))]
    seen: set[str] = set()
    unique = [i for i in ids if i and not (i in seen or seen.add(i))]
    if len(unique) > MAX_REFERENCES:
        unique = [unique[0], *unique[-(MAX_REFERENCES - 1) :]]
    return unique


def ticket_id_for_thread_message_ids(*, manager_id: int, message_ids: list[str]) -> int | None:
    """The internal ticket whose thread holds one of ``message_ids`` (THR-4): the mail that opened
    it or a reporter's later mail. (Our own mail is looked up in the outbox.)"""
    if not message_ids:
        return None
    ticket_id = (
        Entry.objects.filter(message_id__in=message_ids, ticket__manager_id=manager_id, ticket__external_platform="")
        .order_by("-created_at")
        .values_list("ticket_id", flat=True)
        .first()
    )
    if ticket_id is not None:
        return ticket_id
    return (
        Ticket.objects.internal()
        .filter(source_message_id__in=message_ids, manager_id=manager_id)
        .order_by("-created_at")
        .values_list("id", flat=True)
        .first()
    )


def ticket_has_writer(*, ticket: Ticket, sender_email: str) -> bool:
    """Whether ``sender_email`` opened the ticket or already wrote on it (THR-4)."""
    sender = sender_email.strip().lower()
    if ticket.creator_email == sender:
        return True
    return Entry.objects.filter(ticket=ticket, kind=EntryKind.MESSAGE, sender_email=sender).exists()
