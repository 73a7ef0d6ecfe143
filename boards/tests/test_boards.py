from __future__ import annotations

import pytest
from django.urls import reverse

from boards.models import Board, Keyword
from boards.services import board_create
from tickets.models import TicketSource, TicketState
from tickets.services import ticket_change_state, ticket_create

pytestmark = pytest.mark.django_db


def make_board(manager, name="Website", unique_name="website", keywords=()):  # type: ignore[no-untyped-def]
    return board_create(
        manager=manager,
        name=name,
        unique_name=unique_name,
        greeting="Hi",
        keywords=list(keywords),
        exclusive_inbox=None,
    )


def make_ticket(board, title="Broken", state=TicketState.NEW):  # type: ignore[no-untyped-def]
    ticket = ticket_create(
        board=board, title=title, description="It broke.", creator_email="r@example.com", source=TicketSource.WEB
    )
    path = {
        TicketState.NEW: [],
        TicketState.IN_PROGRESS: [TicketState.IN_PROGRESS],
        TicketState.CLOSED: [TicketState.IN_PROGRESS, TicketState.CLOSED],
        TicketState.REJECTED: [TicketState.REJECTED],
    }[state]
    for step in path:
        ticket = ticket_change_state(ticket=ticket, to_state=step, comment="", actor=None)
    return ticket


def test_create_board_suggests_unique_name_from_name(manager_client, manager):
    response = manager_client.post(
        reverse("boards:create"), {"name": "Ćma Żółta Support", "unique_name": "", "greeting": "", "keywords": ""}
    )
    board = Board.objects.get(manager=manager)
    assert response.status_code == 302
    assert response["Location"] == reverse("boards:detail", args=[board.pk])
    assert board.unique_name == "cma-zolta-support"


def test_suggested_unique_name_avoids_taken_ones(manager_client, manager, other_manager):
    make_board(other_manager, unique_name="help")
    manager_client.post(reverse("boards:create"), {"name": "Help", "unique_name": "", "greeting": "", "keywords": ""})
    assert Board.objects.get(manager=manager).unique_name == "help-2"


@pytest.mark.parametrize("bad", ["under_score", "-start", "end-", "spa ce", "ünï", "a" * 64])
def test_unique_name_format_refused_inline(manager_client, bad):
    response = manager_client.post(reverse("boards:create"), {"name": "X", "unique_name": bad})
    assert response.status_code == 200
    assert "unique_name" in response.context["form"].errors
    assert not Board.objects.exists()


def test_unique_name_is_unique_site_wide(manager_client, other_manager):
    make_board(other_manager, unique_name="shared")
    response = manager_client.post(reverse("boards:create"), {"name": "X", "unique_name": "shared"})
    assert "is taken" in response.context["form"].errors["unique_name"][0]


def test_keyword_conflict_message(manager_client, manager):
    make_board(manager, name="Billing", unique_name="billing", keywords=["Invoice"])
    response = manager_client.post(
        reverse("boards:create"), {"name": "Other", "unique_name": "other", "keywords": "refund, INVOICE"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["keywords"] == ["Keyword 'Invoice' is already used by board 'Billing'"]


def test_same_keyword_allowed_for_another_manager(manager_client, other_manager, manager):
    make_board(other_manager, unique_name="theirs", keywords=["invoice"])
    manager_client.post(reverse("boards:create"), {"name": "Mine", "unique_name": "mine", "keywords": "Invoice"})
    assert Keyword.objects.filter(manager=manager, text="Invoice").exists()


def test_edit_replaces_keywords(manager_client, manager):
    board = make_board(manager, keywords=["a", "b"])
    manager_client.post(
        reverse("boards:edit", args=[board.pk]),
        {"name": "Website", "unique_name": "website", "greeting": "", "keywords": "b\nc"},
    )
    assert sorted(board.keywords.values_list("text", flat=True)) == ["b", "c"]


def test_board_with_open_tickets_cannot_be_deleted(manager_client, manager):
    board = make_board(manager)
    make_ticket(board)
    response = manager_client.post(reverse("boards:delete", args=[board.pk]), {"confirm": "on"})
    assert response.status_code == 302
    assert Board.objects.filter(pk=board.pk).exists()


def test_board_with_only_rejected_tickets_is_deleted_with_them(manager_client, manager):
    board = make_board(manager)
    make_ticket(board, state=TicketState.REJECTED)
    response = manager_client.post(reverse("boards:delete", args=[board.pk]), {"confirm": "on"})
    assert response.status_code == 302
    assert not Board.objects.filter(pk=board.pk).exists()


def test_delete_needs_confirmation(manager_client, manager):
    board = make_board(manager)
    response = manager_client.post(reverse("boards:delete", args=[board.pk]), {})
    assert response.status_code == 200
    assert Board.objects.filter(pk=board.pk).exists()


def test_archive_is_confirmed_and_hides_board_by_default(manager_client, manager):
    board = make_board(manager)
    make_ticket(board)
    manager_client.post(reverse("boards:archive", args=[board.pk]), {"confirm": "on"})
    board.refresh_from_db()
    assert board.is_archived and board.archived_at
    assert board not in manager_client.get(reverse("boards:list")).context["boards"]
    assert board in manager_client.get(reverse("boards:list") + "?archived=1").context["boards"]


def test_archived_board_tickets_can_still_change_state(manager_client, manager):
    board = make_board(manager)
    ticket = make_ticket(board)
    manager_client.post(reverse("boards:archive", args=[board.pk]), {"confirm": "on"})
    response = manager_client.post(
        reverse("tickets:change_state", args=[board.pk, ticket.pk]), {"to_state": "in_progress"}
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.state == "in_progress"


def test_board_list_shows_counts_per_state(manager_client, manager):
    board = make_board(manager)
    make_ticket(board)
    make_ticket(board, state=TicketState.IN_PROGRESS)
    make_ticket(board, state=TicketState.CLOSED)
    make_ticket(board, state=TicketState.REJECTED)
    make_ticket(board, state=TicketState.REJECTED)
    board.refresh_from_db()
    assert (board.count_new, board.count_in_progress, board.count_closed, board.count_rejected) == (1, 1, 1, 2)
    response = manager_client.get(reverse("boards:list"))
    assert '?state=rejected">2</a>' in response.content.decode()


@pytest.mark.parametrize("name", ["boards:archive", "boards:delete"])
def test_get_on_mutating_views_only_shows_confirmation(manager_client, manager, name):
    board = make_board(manager)
    response = manager_client.get(reverse(name, args=[board.pk]))
    assert response.status_code == 200
    board.refresh_from_db()
    assert not board.is_archived


def test_exclusive_inbox_choices_are_own_and_free(manager_client, manager, other_manager):
    from inboxes.models import Inbox

    def inbox(owner, name):  # type: ignore[no-untyped-def]
        box = Inbox(manager=owner, name=name, imap_host="h", imap_username="u", smtp_host="h", from_address="a@b.c")
        box.set_imap_password("p")
        box.save()
        return box

    mine, taken, theirs = inbox(manager, "mine"), inbox(manager, "taken"), inbox(other_manager, "theirs")
    board_create(manager=manager, name="B", unique_name="b", greeting="", keywords=[], exclusive_inbox=taken)
    form = manager_client.get(reverse("boards:create")).context["form"]
    assert list(form.fields["exclusive_inbox"].queryset) == [mine]
    response = manager_client.post(
        reverse("boards:create"), {"name": "X", "unique_name": "x", "exclusive_inbox": theirs.pk}
    )
    assert "exclusive_inbox" in response.context["form"].errors
