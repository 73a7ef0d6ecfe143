"""Mail from strangers is never markup on the standby pages (SBQ-1, NFR): subjects, bodies, sender
names and addresses, inbox and board names, platform errors are shown escaped, also in the
message that confirms an assignment."""

from __future__ import annotations

import pytest
from django.urls import reverse

from boards.tests.factories import BoardFactory
from inboxes.tests.factories import InboxFactory
from standby.models import StandbyItem
from standby.tests.factories import StandbyItemFactory
from tickets.tests.hostile import assert_shown_escaped, hostile

pytestmark = pytest.mark.django_db


@pytest.fixture
def hostile_item(manager):  # type: ignore[no-untyped-def]
    inbox = InboxFactory(manager=manager, name=hostile("inbox name"), from_address=hostile("inbox address"))
    return StandbyItemFactory(
        manager=manager,
        receiving_inbox=inbox,
        subject=hostile("subject"),
        body=hostile("body"),
        sender_name=hostile("sender name"),
        sender_email=hostile("sender email"),
        original_board=BoardFactory(manager=manager, name=hostile("original board")),
        external_error=hostile("platform error"),
    )


@pytest.fixture
def nameless_item(manager):  # type: ignore[no-untyped-def]
    """Without a sender name the address is shown on its own."""
    return StandbyItemFactory(manager=manager, sender_name="", sender_email=hostile("bare sender email"))


def test_standby_list_shows_hostile_text_escaped(manager_client, hostile_item, nameless_item):
    response = manager_client.get(reverse("standby:list"))
    assert response.status_code == 200
    assert_shown_escaped(
        response.content.decode(),
        hostile_item.subject,
        hostile_item.sender_name,
        hostile_item.sender_email,
        hostile_item.receiving_inbox.name,
        nameless_item.sender_email,
    )


def test_standby_item_page_shows_hostile_text_escaped(manager_client, hostile_item):
    response = manager_client.get(reverse("standby:detail", args=[hostile_item.pk]))
    assert response.status_code == 200
    inbox = hostile_item.receiving_inbox
    assert_shown_escaped(
        response.content.decode(),
        hostile_item.subject,
        hostile_item.body,
        hostile_item.sender_name,
        hostile_item.sender_email,
        inbox.name,
        inbox.from_address,
        hostile_item.external_error,
        # Also one of the boards it can be assigned to.
        hostile_item.original_board.name,
    )


def test_standby_item_page_without_sender_name_shows_the_address_escaped(manager_client, nameless_item):
    response = manager_client.get(reverse("standby:detail", args=[nameless_item.pk]))
    assert response.status_code == 200
    assert_shown_escaped(response.content.decode(), nameless_item.sender_email)


def test_the_assignment_message_shows_hostile_text_escaped(manager_client, manager, hostile_item):
    board = BoardFactory(manager=manager, name=hostile("target board"))
    response = manager_client.post(reverse("standby:assign", args=[hostile_item.pk]), {"board": board.pk}, follow=True)
    assert response.status_code == 200 and not StandbyItem.objects.filter(pk=hostile_item.pk).exists()
    assert_shown_escaped(response.content.decode(), board.name, hostile_item.subject)
