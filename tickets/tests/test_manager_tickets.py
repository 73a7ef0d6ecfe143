from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from boards.tests.test_boards import make_board, make_ticket
from outbox.models import OutgoingMail, OutgoingMailKind, OutgoingMailStatus
from tickets.errors import InvalidTransitionError
from tickets.models import Entry, Ticket, TicketSource, TicketState
from tickets.services import ticket_change_state

pytestmark = pytest.mark.django_db

ALL_MOVES = [(a, b) for a in TicketState.values for b in TicketState.values if a != b]
ALLOWED = {("new", "in_progress"), ("new", "rejected"), ("in_progress", "closed"), ("in_progress", "rejected")}


@pytest.fixture
def board(manager):  # type: ignore[no-untyped-def]
    return make_board(manager)


@pytest.mark.parametrize(("from_state", "to_state"), ALL_MOVES)
def test_every_transition_is_allowed_or_refused(board, manager, from_state, to_state):
    ticket = make_ticket(board, state=from_state)
    if (from_state, to_state) in ALLOWED:
        ticket_change_state(ticket=ticket, to_state=to_state, comment="ok", actor=manager)
        ticket.refresh_from_db()
        assert ticket.state == to_state
    else:
        with pytest.raises(InvalidTransitionError, match="cannot move"):
            ticket_change_state(ticket=ticket, to_state=to_state, comment="", actor=manager)
        ticket.refresh_from_db()
        assert ticket.state == from_state


def test_state_change_is_recorded_and_mailed_after_commit(board, manager, django_capture_on_commit_callbacks):
    ticket = make_ticket(board)
    mail.outbox.clear()
    before = ticket.updated_at
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ticket_change_state(ticket=ticket, to_state="in_progress", comment="Looking <b>now</b>", actor=manager)
    assert mail.outbox == []  # nothing leaves before the transaction commits
    for callback in callbacks:
        callback()
    change = Entry.objects.get(ticket=ticket)
    assert (change.from_state, change.to_state, change.body, change.author) == (
        "new",
        "in_progress",
        "Looking <b>now</b>",
        manager,
    )
    ticket.refresh_from_db()
    assert ticket.updated_at > before
    [sent] = mail.outbox
    assert sent.to == ["r@example.com"]
    assert "In progress" in sent.body and "Looking <b>now</b>" in sent.body  # plain text, not escaped
    assert f"http://testserver/ticket/{ticket.uuid}" in sent.body
    # A manager's move is a person's mail (RFC 3834): not marked automatic, still no auto-answers.
    assert "Auto-Submitted" not in sent.extra_headers
    assert sent.extra_headers["X-Auto-Response-Suppress"] == "All"
    row = OutgoingMail.objects.get(ticket=ticket, kind=OutgoingMailKind.STATE_CHANGED)
    assert row.status == OutgoingMailStatus.SENT and row.message_id == sent.extra_headers["Message-ID"]


def test_ticket_created_mail_has_secret_link(board, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket(board, title="Printer on fire")
    [sent] = [message for message in mail.outbox if message.to == [ticket.creator_email]]
    assert "Printer on fire" in sent.subject
    assert f"/ticket/{ticket.uuid}" in sent.body and "It broke." in sent.body and board.name in sent.body


def test_detail_shows_allowed_moves_and_timeline(manager_client, board, manager):
    ticket = make_ticket(board)
    ticket_change_state(ticket=ticket, to_state="in_progress", comment="On it", actor=manager)
    response = manager_client.get(reverse("tickets:detail", args=[board.pk, ticket.pk]))
    body = response.content.decode()
    assert 'value="closed"' in body and 'value="rejected"' in body and 'value="new"' not in body
    assert "On it" in body


def test_detail_escapes_html(manager_client, board):
    ticket = make_ticket(board, title="<script>alert(1)</script>")
    Ticket.objects.filter(pk=ticket.pk).update(description="<img src=x onerror=alert(2)>")
    body = manager_client.get(reverse("tickets:detail", args=[board.pk, ticket.pk])).content.decode()
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<img src=x" not in body


def test_form_post_changes_state_and_redirects(manager_client, board):
    ticket = make_ticket(board)
    url = reverse("tickets:change_state", args=[board.pk, ticket.pk])
    response = manager_client.post(url, {"to_state": "rejected", "comment": "spam"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.state == "rejected"


def test_refused_move_by_form_shows_message(manager_client, board):
    ticket = make_ticket(board)
    url = reverse("tickets:change_state", args=[board.pk, ticket.pk])
    response = manager_client.post(url, {"to_state": "closed"}, follow=True)
    assert "cannot move" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.state == "new"


def test_kanban_drop_endpoint_answers_json(manager_client, board):
    ticket = make_ticket(board)
    url = reverse("tickets:change_state", args=[board.pk, ticket.pk])
    ok = manager_client.post(url, {"to_state": "in_progress"}, HTTP_ACCEPT="application/json")
    assert ok.status_code == 200 and json.loads(ok.content)["state"] == "in_progress"
    refused = manager_client.post(url, {"to_state": "new"}, HTTP_ACCEPT="application/json")
    assert refused.status_code == 409
    assert json.loads(refused.content) == {
        "ok": False,
        "state": "in_progress",
        "message": "A ticket cannot move from “In progress” to “New”.",
    }


def test_state_change_get_is_refused(manager_client, board):
    ticket = make_ticket(board)
    response = manager_client.get(reverse("tickets:change_state", args=[board.pk, ticket.pk]) + "?to_state=rejected")
    assert response.status_code == 405


def test_next_parameter_must_be_local(manager_client, board):
    ticket = make_ticket(board)
    url = reverse("tickets:change_state", args=[board.pk, ticket.pk])
    response = manager_client.post(url, {"to_state": "rejected", "next": "https://evil.example/"})
    assert response["Location"] == reverse("tickets:detail", args=[board.pk, ticket.pk])


def test_kanban_columns_and_terminal_cap(manager_client, board):
    for i in range(12):
        make_ticket(board, title=f"closed {i}", state=TicketState.CLOSED)
    make_ticket(board, title="fresh")
    response = manager_client.get(reverse("boards:detail", args=[board.pk]))
    columns = {c.state: c for c in response.context["columns"]}
    assert [t.title for t in columns["new"].tickets] == ["fresh"]
    assert len(columns["closed"].tickets) == 10 and columns["closed"].total == 12 and columns["closed"].hidden == 2
    assert f"{reverse('tickets:list', args=[board.pk])}?state=closed" in response.content.decode()


# --- the list (TKT-4) -------------------------------------------------------------------------


@pytest.fixture
def listed(board):  # type: ignore[no-untyped-def]
    now = timezone.now()
    specs = [
        ("Alpha login fails", "password reset loop", "new", 5),
        ("Beta invoice wrong", "VAT missing", "in_progress", 4),
        ("Gamma crash", "stack trace attached", "closed", 3),
        ("Delta login slow", "takes a minute", "rejected", 2),
        ("Epsilon typo", "homepage", "new", 1),
    ]
    tickets = {}
    for title, description, state, days_ago in specs:
        t = make_ticket(board, title=title, state=state)
        Ticket.objects.filter(pk=t.pk).update(
            description=description,
            created_at=now - timedelta(days=days_ago),
            updated_at=now - timedelta(hours=days_ago),
        )
        tickets[title.split()[0]] = t
    return tickets


def _titles(client, board, query=""):  # type: ignore[no-untyped-def]
    response = client.get(reverse("tickets:list", args=[board.pk]) + query)
    assert response.status_code == 200
    return [t.title.split()[0] for t in response.context["page"]]


def test_list_default_is_newest_first(manager_client, board, listed):
    assert _titles(manager_client, board) == ["Epsilon", "Delta", "Gamma", "Beta", "Alpha"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?title=login", ["Delta", "Alpha"]),
        ("?description=vat", ["Beta"]),
        ("?state=new&state=closed", ["Epsilon", "Gamma", "Alpha"]),
        ("?sort=title&direction=asc", ["Alpha", "Beta", "Delta", "Epsilon", "Gamma"]),
        ("?sort=title&direction=desc", ["Gamma", "Epsilon", "Delta", "Beta", "Alpha"]),
        ("?sort=created&direction=asc", ["Alpha", "Beta", "Gamma", "Delta", "Epsilon"]),
        ("?sort=state&direction=asc", ["Epsilon", "Alpha", "Beta", "Gamma", "Delta"]),
        ("?sort=updated&direction=desc", ["Epsilon", "Delta", "Gamma", "Beta", "Alpha"]),
        ("?title=login&sort=title&direction=asc", ["Alpha", "Delta"]),
    ],
)
def test_list_filters_and_sorts(manager_client, board, listed, query, expected):
    assert _titles(manager_client, board, query) == expected


def test_list_created_date_range_in_manager_timezone(manager_client, manager, board, listed):
    today = timezone.localdate()
    start = (today - timedelta(days=4)).isoformat()
    end = (today - timedelta(days=2)).isoformat()
    assert _titles(manager_client, board, f"?created_from={start}&created_to={end}") == ["Delta", "Gamma", "Beta"]


def test_list_page_size_is_remembered(manager_client, manager, board, listed):
    response = manager_client.get(reverse("tickets:list", args=[board.pk]) + "?page_size=10")
    assert response.context["page"].paginator.per_page == 10
    manager.refresh_from_db()
    assert manager.ticket_page_size == 10
    response = manager_client.get(reverse("tickets:list", args=[board.pk]))
    assert response.context["page"].paginator.per_page == 10


def test_list_pagination_keeps_filters_in_links(manager_client, board):
    for i in range(12):
        make_ticket(board, title=f"login {i}")
    response = manager_client.get(reverse("tickets:list", args=[board.pk]) + "?title=login&page_size=10")
    body = response.content.decode()
    assert "title=login&amp;page_size=10&amp;page=2" in body
    second = manager_client.get(reverse("tickets:list", args=[board.pk]) + "?title=login&page_size=10&page=2")
    assert len(second.context["page"]) == 2


def test_list_bad_filter_values_are_inline_errors(manager_client, board, listed):
    response = manager_client.get(
        reverse("tickets:list", args=[board.pk]) + "?created_from=2026-02-10&created_to=2026-01-01&state=bogus"
    )
    assert response.status_code == 200
    assert "created_to" in response.context["form"].errors and "state" in response.context["form"].errors


def test_email_source_is_shown(manager_client, board):
    from tickets.services import ticket_create

    ticket = ticket_create(
        board=board, title="By mail", description="x", creator_email="A@Example.com", source=TicketSource.EMAIL
    )
    assert ticket.creator_email == "a@example.com"
    body = manager_client.get(reverse("tickets:detail", args=[board.pk, ticket.pk])).content.decode()
    assert "Email" in body
