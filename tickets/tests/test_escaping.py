"""Text from outside is never markup on a manager's page (NFR): titles, descriptions, reporter
addresses and messages, comments, board and manager names are shown escaped on the kanban, the
ticket list, the dashboard and the ticket page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from boards.models import ExternalPlatform
from boards.tests.factories import BoardFactory
from tickets.models import Entry, EntryKind, ForwardStatus

from .factories import StateChangeFactory, TicketFactory
from .hostile import assert_shown_escaped, hostile

pytestmark = pytest.mark.django_db


@pytest.fixture
def hostile_board(manager):  # type: ignore[no-untyped-def]
    return BoardFactory(manager=manager, name=hostile("board name"))


@pytest.fixture
def hostile_ticket(hostile_board):  # type: ignore[no-untyped-def]
    return TicketFactory(
        board=hostile_board,
        title=hostile("ticket title"),
        description=hostile("description"),
        creator_email=hostile("reporter email"),
    )


def test_kanban_shows_hostile_text_escaped(manager_client, hostile_board, hostile_ticket):
    response = manager_client.get(reverse("boards:detail", args=[hostile_board.pk]))
    assert response.status_code == 200
    assert_shown_escaped(
        response.content.decode(), hostile_board.name, hostile_ticket.title, hostile_ticket.creator_email
    )


def test_ticket_list_shows_hostile_text_escaped(manager_client, hostile_board, hostile_ticket):
    response = manager_client.get(reverse("tickets:list", args=[hostile_board.pk]))
    assert response.status_code == 200
    assert_shown_escaped(
        response.content.decode(), hostile_board.name, hostile_ticket.title, hostile_ticket.creator_email
    )


def test_dashboard_shows_hostile_text_escaped(manager_client, hostile_board, hostile_ticket):
    # A forwarded ticket links to its issue, one still being forwarded to the board's page.
    forwarded = TicketFactory(board=hostile_board, forwarded=True, title=hostile("forwarded title"))
    pending = TicketFactory(
        board=hostile_board,
        external_platform=ExternalPlatform.JIRA,
        forward_status=ForwardStatus.PENDING,
        title=hostile("pending title"),
    )
    response = manager_client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert_shown_escaped(
        response.content.decode(), hostile_board.name, hostile_ticket.title, forwarded.title, pending.title
    )


def test_ticket_page_shows_hostile_text_escaped(manager_client, manager, hostile_board, hostile_ticket):
    manager.name = hostile("manager name")
    manager.save(update_fields=["name"])
    change = StateChangeFactory(ticket=hostile_ticket, body=hostile("comment"), author=manager)
    message = Entry.objects.create(
        ticket=hostile_ticket,
        kind=EntryKind.MESSAGE,
        body=hostile("reporter message"),
        sender_email=hostile("reporter message sender"),
    )
    note = Entry.objects.create(ticket=hostile_ticket, kind=EntryKind.NOTE, body=hostile("note"), author=manager)
    response = manager_client.get(reverse("tickets:detail", args=[hostile_board.pk, hostile_ticket.pk]))
    assert response.status_code == 200
    assert_shown_escaped(
        response.content.decode(),
        hostile_ticket.title,
        hostile_ticket.description,
        hostile_ticket.creator_email,
        hostile_board.name,
        change.body,
        manager.name,
        message.body,
        message.sender_email,
        note.body,
    )
