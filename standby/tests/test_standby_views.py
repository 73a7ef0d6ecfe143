"""The standby queue pages (SBQ-1 … SBQ-3) through the test client."""

from __future__ import annotations

import pytest
from django.urls import reverse

from boards.tests.factories import BoardFactory
from outbox.models import OutgoingMail, OutgoingMailKind, OutgoingMailStatus
from standby.models import StandbyItem
from standby.selectors import standby_queue_count
from standby.tests.factories import StandbyItemFactory
from tickets.models import Ticket, TicketSource

pytestmark = pytest.mark.django_db


def test_list_newest_first_paginated_and_only_mine(
    manager_client, manager, other_manager, django_assert_max_num_queries
):
    items = [StandbyItemFactory(manager=manager, subject=f"Item {n:02}") for n in range(30)]
    StandbyItemFactory(manager=other_manager, subject="Not mine")
    with django_assert_max_num_queries(10):
        response = manager_client.get(reverse("standby:list"))
    page_items = list(response.context["items"])
    assert len(page_items) == 25
    assert page_items[0] == items[-1]
    assert b"Not mine" not in response.content
    second = manager_client.get(reverse("standby:list") + "?page=2")
    assert len(list(second.context["items"])) == 5


def test_navigation_badge_counts_my_items(manager_client, manager, other_manager, board):
    StandbyItemFactory.create_batch(3, manager=manager)
    StandbyItemFactory(manager=other_manager)
    assert standby_queue_count(manager=manager) == 3
    response = manager_client.get(reverse("standby:list"))
    assert b'data-testid="standby-count">3<' in response.content


def test_detail_shows_the_email_escaped(manager_client, manager):
    item = StandbyItemFactory(manager=manager, body="<script>alert(1)</script> please help")
    response = manager_client.get(reverse("standby:detail", args=[item.pk]))
    assert response.status_code == 200
    assert b"&lt;script&gt;alert(1)&lt;/script&gt; please help" in response.content
    assert item.sender_email.encode() in response.content


def test_assign_creates_the_ticket_and_removes_the_item(manager_client, manager):
    board = BoardFactory(manager=manager)
    item = StandbyItemFactory(manager=manager, subject="Scanner offline", message_id="<q@example.org>")

    response = manager_client.post(reverse("standby:assign", args=[item.pk]), {"board": board.pk})

    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert (ticket.board, ticket.title, ticket.source) == (board, "Scanner offline", TicketSource.EMAIL)
    assert ticket.creator_email == item.sender_email and ticket.source_message_id == "<q@example.org>"
    mail = OutgoingMail.objects.get(ticket=ticket)
    assert mail.inbox == item.receiving_inbox and mail.in_reply_to == "<q@example.org>"
    assert mail.status == OutgoingMailStatus.PENDING
    assert not StandbyItem.objects.exists()


def test_assign_keeps_loop_protection(manager_client, manager):
    board = BoardFactory(manager=manager)
    item = StandbyItemFactory(manager=manager, auto_generated_reason="auto-submitted")
    manager_client.post(reverse("standby:assign", args=[item.pk]), {"board": board.pk})
    assert OutgoingMail.objects.get(kind=OutgoingMailKind.TICKET_CREATED).status == OutgoingMailStatus.SUPPRESSED


def test_assign_confirms_within_the_hourly_limit_of_the_senders_mailbox(manager_client, manager, settings):
    # THR-6: the limit counts the person's mailbox (any spelling, any inbox), not this inbox.
    settings.RATE_LIMIT_REPORTER_PER_HOUR = 2
    board = BoardFactory(manager=manager)
    items = [
        StandbyItemFactory(manager=manager, sender_email=email)
        for email in ("rita@example.org", "rita+x@example.org", "RITA@example.org")
    ]
    for item in items:
        manager_client.post(reverse("standby:assign", args=[item.pk]), {"board": board.pk})
    mails = OutgoingMail.objects.filter(kind=OutgoingMailKind.TICKET_CREATED).order_by("id")
    assert [mail.status for mail in mails] == [
        OutgoingMailStatus.PENDING,
        OutgoingMailStatus.PENDING,
        OutgoingMailStatus.SUPPRESSED,
    ]
    assert "already got 2 automatic answers" in mails[2].last_error


def test_assign_sends_nothing_to_a_server_named_by_its_ip_address(manager_client, manager):
    board = BoardFactory(manager=manager)
    item = StandbyItemFactory(manager=manager, sender_email="rita@[192.0.2.1]")
    manager_client.post(reverse("standby:assign", args=[item.pk]), {"board": board.pk})
    assert Ticket.objects.get().creator_email == "rita@[192.0.2.1]"
    assert OutgoingMail.objects.get(kind=OutgoingMailKind.TICKET_CREATED).status == OutgoingMailStatus.SUPPRESSED


def test_assign_only_to_my_open_boards(manager_client, manager, other_manager):
    item = StandbyItemFactory(manager=manager)
    theirs = BoardFactory(manager=other_manager)
    archived = BoardFactory(manager=manager, is_archived=True, archived_at="2025-01-01T00:00Z")
    for board in (theirs, archived):
        response = manager_client.post(reverse("standby:assign", args=[item.pk]), {"board": board.pk})
        assert response.status_code == 400
    assert StandbyItem.objects.filter(pk=item.pk).exists() and not Ticket.objects.exists()


def test_discard_with_confirmation(manager_client, manager):
    item = StandbyItemFactory(manager=manager)
    page = manager_client.get(reverse("standby:detail", args=[item.pk]) + "?confirm=discard")
    assert reverse("standby:discard", args=[item.pk]).encode() in page.content
    response = manager_client.post(reverse("standby:discard", args=[item.pk]))
    assert response.status_code == 302
    assert not StandbyItem.objects.exists()


@pytest.mark.parametrize("url_name", ["standby:assign", "standby:discard"])
def test_changes_are_post_only_and_scoped(client, manager, other_manager, url_name):
    item = StandbyItemFactory(manager=manager)
    board = BoardFactory(manager=other_manager)
    url = reverse(url_name, args=[item.pk])
    client.force_login(manager)
    assert client.get(url).status_code == 405
    client.force_login(other_manager)
    assert client.post(url, {"board": board.pk}).status_code == 404
    assert StandbyItem.objects.filter(pk=item.pk).exists()


def test_other_managers_get_404_on_the_detail(other_client, manager):
    item = StandbyItemFactory(manager=manager)
    assert other_client.get(reverse("standby:detail", args=[item.pk])).status_code == 404


def test_a_second_click_finds_the_item_gone(manager_client, manager):
    board = BoardFactory(manager=manager)
    item = StandbyItemFactory(manager=manager)
    manager_client.post(reverse("standby:assign", args=[item.pk]), {"board": board.pk})
    assert manager_client.post(reverse("standby:assign", args=[item.pk]), {"board": board.pk}).status_code == 404
    assert Ticket.objects.count() == 1
