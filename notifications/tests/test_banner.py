"""THR-8: a failing inbox shows a banner on every manager page until a poll succeeds again; never
on public pages, never another manager's inbox, and at no extra query."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from inboxes.models import Inbox
from inboxes.polling import inbox_poll
from inboxes.tests.factories import InboxFactory
from testsupport.mailservers import find_free_port
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

BANNER = 'data-testid="failing-inboxes"'
ERROR = "IMAP: login refused by imap.example.com."


def _manager_pages(board) -> list[str]:  # type: ignore[no-untyped-def]
    return [reverse("dashboard"), reverse("boards:detail", args=[board.pk]), reverse("accounts:profile")]


def _fail(inbox: Inbox, error: str = ERROR) -> None:
    Inbox.objects.filter(pk=inbox.pk).update(last_error=error)


@pytest.mark.mailserver
def test_the_banner_shows_while_polls_fail_and_goes_after_a_successful_one(manager_client, board, live_inbox):
    port = live_inbox.imap_port
    Inbox.objects.filter(pk=live_inbox.pk).update(imap_port=find_free_port())
    error = inbox_poll(inbox=live_inbox).error
    assert error

    for url in _manager_pages(board):
        html = manager_client.get(url).content.decode()
        assert BANNER in html, url
        assert "Live support" in html and error in html
        assert f'href="{reverse("inboxes:detail", args=[live_inbox.pk])}"' in html

    Inbox.objects.filter(pk=live_inbox.pk).update(imap_port=port)
    assert not inbox_poll(inbox=live_inbox).error
    for url in _manager_pages(board):
        assert BANNER not in manager_client.get(url).content.decode(), url


def test_never_on_public_pages_even_for_the_logged_in_manager(manager_client, client, board, inbox):
    _fail(inbox)
    ticket = TicketFactory(board=board)
    for url in (f"/board/{board.unique_name}", f"/ticket/{ticket.uuid}"):
        assert BANNER not in manager_client.get(url).content.decode(), url
    manager_client.logout()
    for url in (f"/board/{board.unique_name}", f"/ticket/{ticket.uuid}", "/accounts/login/"):
        assert BANNER not in client.get(url).content.decode(), url


def test_only_the_managers_own_active_inboxes(manager_client, board, manager, other_manager):
    _fail(InboxFactory(manager=other_manager, name="Their inbox"), "IMAP: theirs is broken")
    _fail(InboxFactory(manager=manager, name="Switched off", is_active=False), "IMAP: old news")
    html = manager_client.get(reverse("dashboard")).content.decode()
    assert BANNER not in html
    assert "Their inbox" not in html and "theirs is broken" not in html and "old news" not in html


def test_the_error_is_escaped(manager_client, board, inbox):
    _fail(inbox, '<script>alert("x")</script>')
    html = manager_client.get(reverse("dashboard")).content.decode()
    assert BANNER in html and "<script>alert" not in html and "&lt;script&gt;" in html


def _queries(client, url: str) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    return len(context.captured_queries)


def test_the_banner_costs_no_query_of_its_own(manager_client, board, manager):
    failing = [InboxFactory(manager=manager, name=f"Inbox {n}") for n in range(3)]
    pages = [reverse("dashboard"), reverse("boards:detail", args=[board.pk])]
    manager_client.get(pages[0])  # the session's first renewal is written here, not below
    without = [_queries(manager_client, url) for url in pages]
    for inbox in failing:
        _fail(inbox)
    with_banner = [_queries(manager_client, url) for url in pages]
    assert with_banner == without
    html = manager_client.get(pages[0]).content.decode()
    assert html.count('data-testid="failing-inbox"') == 3


def test_public_pages_run_no_navigation_query(client, manager, board, inbox):
    _fail(inbox)
    ticket = TicketFactory(board=board)
    for logged_in in (False, True):
        if logged_in:
            client.force_login(manager)
        for url in (f"/board/{board.unique_name}", f"/ticket/{ticket.uuid}"):
            with CaptureQueriesContext(connection) as context:
                client.get(url)
            sql = " ".join(query["sql"] for query in context.captured_queries)
            assert '"inboxes_inbox"' not in sql and '"standby_standbyitem"' not in sql, (url, logged_in)
