"""ADM-1 for boards and tickets: pages load, secrets stay hidden, state moves go through the service."""

from __future__ import annotations

import pytest
from django.core import mail

from accounts.tests.factories import ManagerFactory
from boards.models import Board, Keyword
from boards.tests.factories import BoardFactory, KeywordFactory
from outbox.models import OutgoingMail, OutgoingMailKind
from tickets.models import Entry, Ticket, TicketState
from tickets.tests.factories import StateChangeFactory, TicketFactory

pytestmark = pytest.mark.django_db

BOARDS = "/admin/boards/board/"
TICKETS = "/admin/tickets/ticket/"
SECRET_CIPHERTEXT = "v1:very-secret-ciphertext-must-never-show"


@pytest.fixture
def admin_client_(client, db):  # type: ignore[no-untyped-def]
    admin = ManagerFactory(email="admin@example.com", is_staff=True, is_superuser=True)
    client.force_login(admin)
    client.admin = admin
    return client


@pytest.fixture
def board(manager):  # type: ignore[no-untyped-def]
    return BoardFactory(manager=manager, name="Office IT", unique_name="office-it", external_secrets=SECRET_CIPHERTEXT)


def _messages(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in response.context["messages"]]


# --- Boards ---------------------------------------------------------------------------------


def test_board_pages_load_and_never_show_external_secrets(admin_client_, board):
    KeywordFactory(board=board, text="printer")
    TicketFactory(board=board)
    changelist = admin_client_.get(BOARDS)
    assert changelist.status_code == 200
    assert "Office IT" in changelist.content.decode()

    change = admin_client_.get(f"{BOARDS}{board.pk}/change/")
    assert change.status_code == 200
    html = change.content.decode()
    assert "printer" in html, "keywords inline"
    assert SECRET_CIPHERTEXT not in html
    assert "external_secrets" not in html
    assert "external_secrets" not in change.context["adminform"].form.fields

    assert admin_client_.get(f"{BOARDS}add/").status_code == 200


def test_board_list_filters_and_search(admin_client_, board, other_manager):
    BoardFactory(manager=other_manager, name="Archived lab", unique_name="lab", archived=True)
    BoardFactory(manager=other_manager, name="Forwarding", unique_name="fwd", jira=True)

    def names(response) -> set[str]:  # type: ignore[no-untyped-def]
        return {b.name for b in response.context["cl"].result_list}

    assert names(admin_client_.get(BOARDS, {"is_archived__exact": "1"})) == {"Archived lab"}
    assert names(admin_client_.get(BOARDS, {"external_platform__exact": "jira"})) == {"Forwarding"}
    assert names(admin_client_.get(BOARDS, {"q": "office-it"})) == {"Office IT"}
    assert names(admin_client_.get(BOARDS, {"q": "other@example.com"})) == {"Archived lab", "Forwarding"}


def test_board_keyword_inline_refuses_a_keyword_of_another_board(admin_client_, manager, board):
    other = BoardFactory(manager=manager, name="Facilities")
    KeywordFactory(board=other, text="Heating")
    data = {
        "name": board.name,
        "unique_name": board.unique_name,
        "greeting": "",
        "exclusive_inbox": "",
        "keywords-TOTAL_FORMS": "2",
        "keywords-INITIAL_FORMS": "0",
        "keywords-MIN_NUM_FORMS": "0",
        "keywords-MAX_NUM_FORMS": "1000",
        "keywords-0-text": "HEATING",
        "keywords-1-text": "printer",
    }
    response = admin_client_.post(f"{BOARDS}{board.pk}/change/", data)
    assert response.status_code == 200
    assert "Keyword &#x27;HEATING&#x27; is already used by board &#x27;Facilities&#x27;" in response.content.decode()
    assert not board.keywords.exists()

    data["keywords-0-text"] = "projector"
    response = admin_client_.post(f"{BOARDS}{board.pk}/change/", data)
    assert response.status_code == 302
    assert sorted(Keyword.objects.filter(board=board).values_list("text", "manager_id")) == [
        ("printer", board.manager_id),
        ("projector", board.manager_id),
    ]
    board.refresh_from_db()
    assert board.external_secrets == SECRET_CIPHERTEXT, "saving the form leaves the secrets alone"


def test_board_delete_follows_brd_3(admin_client_, board, manager):
    TicketFactory(board=board, state=TicketState.IN_PROGRESS)
    assert admin_client_.get(f"{BOARDS}{board.pk}/delete/").status_code == 403

    bulk = admin_client_.post(BOARDS, {"action": "delete_selected", "_selected_action": [board.pk], "post": "yes"})
    assert bulk.status_code == 200, "the confirmation page lists it as protected and refuses"
    assert "archive it instead" in bulk.content.decode()
    assert Board.objects.filter(pk=board.pk).exists()

    only_rejected = BoardFactory(manager=manager)
    StateChangeFactory(ticket=TicketFactory(board=only_rejected), to_state=TicketState.REJECTED)
    confirm = admin_client_.get(f"{BOARDS}{only_rejected.pk}/delete/")
    assert confirm.status_code == 200
    assert not confirm.context["perms_lacking"] and not confirm.context["protected"]
    admin_client_.post(f"{BOARDS}{only_rejected.pk}/delete/", {"post": "yes"})
    assert not Board.objects.filter(pk=only_rejected.pk).exists()
    assert not Ticket.objects.filter(board_id=only_rejected.pk).exists()


def test_board_archive_action(admin_client_, board):
    response = admin_client_.post(BOARDS, {"action": "archive_boards", "_selected_action": [board.pk]}, follow=True)
    assert "1 board archived." in _messages(response)
    board.refresh_from_db()
    assert board.is_archived and board.archived_at is not None


# --- Tickets --------------------------------------------------------------------------------


def test_ticket_pages_load_with_history_read_only(admin_client_, board):
    ticket = TicketFactory(board=board, title="Printer jammed")
    StateChangeFactory(ticket=ticket, body="On it")
    changelist = admin_client_.get(TICKETS)
    assert changelist.status_code == 200
    assert "Printer jammed" in changelist.content.decode()

    change = admin_client_.get(f"{TICKETS}{ticket.pk}/change/")
    assert change.status_code == 200
    html = change.content.decode()
    assert "On it" in html
    assert f"http://testserver/ticket/{ticket.uuid}" in html
    assert change.context["has_change_permission"] is False, "read-only page"
    assert 'name="title"' not in html
    assert 'name="_save"' not in html

    before = (ticket.title, ticket.state)
    admin_client_.post(f"{TICKETS}{ticket.pk}/change/", {"title": "edited", "state": "closed"})
    ticket.refresh_from_db()
    assert (ticket.title, ticket.state) == before

    assert admin_client_.get(f"{TICKETS}add/").status_code == 403


def test_ticket_list_filters_and_search(admin_client_, board, other_manager):
    printer = TicketFactory(board=board, title="Printer jammed", creator_email="ann@example.org")
    TicketFactory(board=board, title="Broken chair", state=TicketState.CLOSED)
    elsewhere = TicketFactory(board=BoardFactory(manager=other_manager), title="Leaking tap")

    def titles(response) -> set[str]:  # type: ignore[no-untyped-def]
        return {t.title for t in response.context["cl"].result_list}

    assert titles(admin_client_.get(TICKETS, {"state__exact": "closed"})) == {"Broken chair"}
    assert titles(admin_client_.get(TICKETS, {"source__exact": "web"})) == {
        "Printer jammed",
        "Broken chair",
        "Leaking tap",
    }
    assert titles(admin_client_.get(TICKETS, {"board__id__exact": elsewhere.board_id})) == {"Leaking tap"}
    assert titles(admin_client_.get(TICKETS, {"q": "ann@example"})) == {"Printer jammed"}
    assert titles(admin_client_.get(TICKETS, {"q": "jammed"})) == {"Printer jammed"}
    assert titles(admin_client_.get(TICKETS, {"q": str(printer.uuid)})) == {"Printer jammed"}
    # The short reference in mail subjects ("[#1a2b3c4d]") finds the ticket too.
    assert titles(admin_client_.get(TICKETS, {"q": str(printer.uuid)[:8]})) == {"Printer jammed"}


def test_state_action_moves_through_the_service_and_notifies(admin_client_, board, django_capture_on_commit_callbacks):
    ticket = TicketFactory(board=board)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(
            TICKETS, {"action": "move_to_in_progress", "_selected_action": [ticket.pk]}, follow=True
        )
    assert response.status_code == 200
    ticket.refresh_from_db()
    assert ticket.state == TicketState.IN_PROGRESS
    change = Entry.objects.get(ticket=ticket)
    assert (change.from_state, change.to_state, change.author) == ("new", "in_progress", admin_client_.admin)
    assert OutgoingMail.objects.filter(ticket=ticket, kind=OutgoingMailKind.STATE_CHANGED).count() == 1
    assert len(mail.outbox) == 1 and ticket.creator_email in mail.outbox[0].to
    assert any("1 ticket moved to “In progress”" in m for m in _messages(response))
    board.refresh_from_db()
    assert (board.count_new, board.count_in_progress) == (0, 1)


def test_state_action_refuses_invalid_moves_with_a_message(admin_client_, board):
    fresh = TicketFactory(board=board, title="Fresh")
    done = TicketFactory(board=board, title="Done", state=TicketState.CLOSED)
    response = admin_client_.post(
        TICKETS, {"action": "move_to_closed", "_selected_action": [fresh.pk, done.pk]}, follow=True
    )
    texts = _messages(response)
    assert any(t.startswith("“Fresh” was not moved: A ticket cannot move from “New” to “Closed”") for t in texts)
    assert any(t.startswith("“Done” was not moved") for t in texts)
    assert not any("moved to" in t and "not moved" not in t for t in texts)
    fresh.refresh_from_db()
    done.refresh_from_db()
    assert (fresh.state, done.state) == (TicketState.NEW, TicketState.CLOSED)
    assert not Entry.objects.exists()
    assert not OutgoingMail.objects.exists()


def test_state_action_refuses_forwarded_tickets(admin_client_, board):
    stub = TicketFactory(board=board, forwarded=True, title="Stub")
    response = admin_client_.post(TICKETS, {"action": "move_to_rejected", "_selected_action": [stub.pk]}, follow=True)
    assert any("“Stub” was not moved" in t for t in _messages(response))


def test_only_moves_to_real_targets_are_offered(admin_client_, board):
    TicketFactory(board=board)
    actions = {name for name, _label in admin_client_.get(TICKETS).context["action_form"].fields["action"].choices}
    assert {"move_to_in_progress", "move_to_closed", "move_to_rejected"} <= actions
    assert "move_to_new" not in actions
    assert "delete_selected" not in actions


def test_ticket_delete_only_without_history(admin_client_, board):
    spam = TicketFactory(board=board, title="Buy pills")
    worked = TicketFactory(board=board)
    StateChangeFactory(ticket=worked)

    assert admin_client_.get(f"{TICKETS}{worked.pk}/delete/").status_code == 403
    assert admin_client_.get(f"{TICKETS}{spam.pk}/delete/").status_code == 200
    admin_client_.post(f"{TICKETS}{spam.pk}/delete/", {"post": "yes"})
    assert not Ticket.objects.filter(pk=spam.pk).exists()
    assert Ticket.objects.filter(pk=worked.pk).exists()
    board.refresh_from_db()
    assert (board.count_new, board.count_in_progress) == (0, 1), "the board's counters follow the deletion"
