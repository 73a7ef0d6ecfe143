"""Inboxes and the standby queue in headless Chromium: connect a mailbox, test it without
leaving the form, take a message in, and place it from the standby queue."""

from __future__ import annotations

import re

import pytest

from accounts.tests.factories import DEFAULT_PASSWORD, ManagerFactory
from boards.tests.factories import BoardFactory
from inboxes.models import Inbox
from inboxes.polling import inbox_poll
from standby.models import StandbyItem
from tickets.models import Ticket

from .mails import make_mail


def field(page, label: str):  # type: ignore[no-untyped-def]
    """A form field by its label; crispy marks required ones with a trailing "*"."""
    return page.get_by_label(re.compile(rf"^\s*{re.escape(label)}\*?\s*$"))


pytestmark = [pytest.mark.browser, pytest.mark.mailserver, pytest.mark.django_db(transaction=True)]


def test_connect_an_inbox_test_it_in_place_then_place_a_queued_message(
    live_server, browser_page, screenshot, dovecot, imap_account, smtp_server
):
    page = browser_page
    manager = ManagerFactory(email="desk@example.com", name="Dana Desk")
    board = BoardFactory(manager=manager, name="Printers", unique_name="printers-desk")

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill("desk@example.com")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/settings/inboxes/")
    page.get_by_role("link", name="Add inbox").click()
    field(page, "Name").fill("Front desk")
    field(page, "From address").fill("desk@tracker.example")
    field(page, "IMAP host").fill(imap_account.host)
    field(page, "IMAP port").fill(str(imap_account.port))
    field(page, "IMAP over SSL/TLS").uncheck()
    field(page, "IMAP username").fill(imap_account.username)
    field(page, "IMAP password").fill("not-the-password")
    field(page, "SMTP host").fill(smtp_server.host)
    field(page, "SMTP port").fill(str(smtp_server.port))
    field(page, "SMTP STARTTLS").uncheck()
    field(page, "SMTP username").fill(smtp_server.username or "")
    field(page, "SMTP password").fill(smtp_server.password or "")

    # "Test connection" answers in place: no navigation, typed passwords stay in the form.
    page.get_by_role("button", name="Test connection").click()
    page.wait_for_selector("text=IMAP: login refused by 127.0.0.1.")
    assert page.get_by_text("SMTP: logged in to 127.0.0.1.").is_visible()
    assert page.url.endswith("/settings/inboxes/new/")
    screenshot("test-connection-refused")
    field(page, "IMAP password").fill(imap_account.password)
    page.get_by_role("button", name="Test connection").click()
    page.wait_for_selector("text=IMAP: logged in to 127.0.0.1 and opened the inbox.")
    assert field(page, "SMTP password").input_value() == smtp_server.password
    screenshot("test-connection-ok")

    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/settings/inboxes/\d+/$"))
    inbox = Inbox.objects.get(name="Front desk")
    assert inbox.get_imap_password() == imap_account.password
    screenshot("inbox-page")

    dovecot.append(imap_account.username, make_mail(subject="Toner is empty", sender="Tom <tom@example.org>"))
    assert inbox_poll(inbox=inbox).outcomes == {"queued": 1}

    # The count in the navigation, then the item on a phone-sized screen.
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(f"{live_server.url}/standby-queue/")
    assert page.get_by_test_id("standby-count").inner_text() == "1"
    page.get_by_role("link", name=re.compile("Toner is empty")).click()
    field(page, "Board").select_option(label="Printers")
    screenshot("standby-item-phone")
    page.get_by_role("button", name="Create ticket").click()
    page.wait_for_url(f"{live_server.url}/standby-queue/")
    assert page.get_by_test_id("standby-empty").is_visible()
    ticket = Ticket.objects.get()
    assert (ticket.board, ticket.title, ticket.creator_email) == (board, "Toner is empty", "tom@example.org")
    assert not StandbyItem.objects.exists()
