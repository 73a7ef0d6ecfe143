"""THR-9: a report assigned from the standby queue is confirmed in the receiving inbox's language."""

from __future__ import annotations

import pytest

from boards.tests.factories import BoardFactory
from inboxes.tests.factories import InboxFactory
from outbox.models import OutgoingMail, OutgoingMailKind
from standby.services import standby_item_assign

from .factories import StandbyItemFactory

pytestmark = pytest.mark.django_db


def test_an_assigned_item_is_confirmed_in_the_inbox_language(manager):
    inbox = InboxFactory(manager=manager, language="pl")
    board = BoardFactory(manager=manager)
    item = StandbyItemFactory(manager=manager, receiving_inbox=inbox)
    ticket = standby_item_assign(standby_item=item, board=board)
    assert ticket.reporter_language == "pl"
    confirmation = OutgoingMail.objects.get(ticket=ticket, kind=OutgoingMailKind.TICKET_CREATED)
    assert confirmation.body.startswith("Dzień dobry,")
