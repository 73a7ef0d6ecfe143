"""One standby item acted on twice at the same moment (two tabs, a double click, two managers of a
team), on two real database connections (SBQ-2): it becomes at most one ticket with one
confirmation, and whoever comes second is told the item is gone."""

from __future__ import annotations

import pytest

from boards.models import Board
from boards.tests.factories import BoardFactory
from inboxes.tests.factories import InboxFactory
from outbox.models import OutgoingMail, OutgoingMailKind
from standby import services
from standby.models import StandbyItem
from standby.services import StandbyItemGoneError, standby_item_assign, standby_item_discard
from standby.tests.factories import StandbyItemFactory
from tickets.models import Ticket
from tickets.tests.races import Gate, paused_before, race

pytestmark = [pytest.mark.mailserver, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def item(manager, smtp_server):  # type: ignore[no-untyped-def]
    # Committed confirmations really go out, to the test SMTP server.
    inbox = InboxFactory(
        manager=manager,
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        smtp_username=smtp_server.username,
        smtp_use_starttls=False,
        passwords=("unused", smtp_server.password),
    )
    return StandbyItemFactory(manager=manager, receiving_inbox=inbox, subject="Scanner offline")


def assign(item: StandbyItem, board: Board):  # type: ignore[no-untyped-def]
    # Each request loaded the item before either of them changed it.
    return lambda: standby_item_assign(standby_item=StandbyItem.objects.get(pk=item.pk), board=board)


def discard(item: StandbyItem):  # type: ignore[no-untyped-def]
    return lambda: standby_item_discard(standby_item=StandbyItem.objects.get(pk=item.pk))


def test_two_simultaneous_assignments_of_one_item_make_one_ticket(manager, item, smtp_server, monkeypatch):
    first_board, second_board = BoardFactory(manager=manager), BoardFactory(manager=manager)
    gate = Gate()
    # The first assignment stops after it locked the item, before it creates the ticket.
    monkeypatch.setattr(
        services, "automatic_reply_block_reason", paused_before(gate, services.automatic_reply_block_reason)
    )

    first, second = race(assign(item, first_board), assign(item, second_board), gate=gate)

    assert first.error is None, first.error
    assert isinstance(second.error, StandbyItemGoneError), second.error
    ticket = Ticket.objects.get()
    assert first.result == ticket and ticket.board == first_board and ticket.title == "Scanner offline"
    assert OutgoingMail.objects.filter(kind=OutgoingMailKind.TICKET_CREATED).count() == 1
    assert len(smtp_server.received) == 1
    assert not StandbyItem.objects.exists()
    counts = dict(Board.objects.values_list("pk", "count_new"))
    assert counts == {first_board.pk: 1, second_board.pk: 0}


def test_an_item_discarded_while_it_is_assigned_is_gone_for_the_discard(manager, item, smtp_server, monkeypatch):
    board = BoardFactory(manager=manager)
    gate = Gate()
    monkeypatch.setattr(
        services, "automatic_reply_block_reason", paused_before(gate, services.automatic_reply_block_reason)
    )

    first, second = race(assign(item, board), discard(item), gate=gate)

    assert first.error is None, first.error
    assert isinstance(second.error, StandbyItemGoneError), second.error
    assert Ticket.objects.get().board == board
    assert OutgoingMail.objects.filter(kind=OutgoingMailKind.TICKET_CREATED).count() == 1
    assert not StandbyItem.objects.exists()


def test_an_item_assigned_while_it_is_discarded_makes_no_ticket(manager, item, smtp_server, monkeypatch):
    board = BoardFactory(manager=manager)
    gate = Gate()
    # The discard stops after it locked the item, before it deletes it.
    monkeypatch.setattr(StandbyItem, "delete", paused_before(gate, StandbyItem.delete))

    first, second = race(discard(item), assign(item, board), gate=gate)

    assert first.error is None, first.error
    assert isinstance(second.error, StandbyItemGoneError), second.error
    assert not Ticket.objects.exists()
    assert not OutgoingMail.objects.exists() and not smtp_server.received
    assert not StandbyItem.objects.exists()
    assert Board.objects.get(pk=board.pk).count_new == 0
