"""THR-2 on a phone-sized screen in headless Chromium: reply with a move, then the reporter's page."""

from __future__ import annotations

import re

import pytest

from accounts.tests.factories import DEFAULT_PASSWORD
from boards.tests.factories import BoardFactory
from testsupport.browser import SCREENSHOT_DIR
from tickets.models import Entry, EntryKind, TicketState

from .factories import TicketFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _shots():  # type: ignore[no-untyped-def]
    folder = SCREENSHOT_DIR / "test_reply_with_a_move_on_a_phone"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_reply_with_a_move_on_a_phone_then_the_secret_page(live_server, chromium, manager, compiled_messages):
    board = BoardFactory(manager=manager, name="Printer Help")
    ticket = TicketFactory(board=board, title="Paper jam on floor 2", description="It beeps.")
    Entry.objects.create(ticket=ticket, kind=EntryKind.NOTE, body="INTERNAL: the reporter is the CEO", author=manager)

    phone = chromium.new_context(locale="en-US", viewport={"width": 375, "height": 740}, has_touch=True, is_mobile=True)
    phone.set_default_timeout(10_000)
    page = phone.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(manager.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/boards/{board.pk}/tickets/{ticket.pk}/")
    # Nothing overflows sideways on a phone: the thread and the composer fit the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert page.get_by_text("INTERNAL: the reporter is the CEO").is_visible()
    composer = page.get_by_test_id("composer")
    composer.get_by_label("Reply to the reporter").check()
    composer.get_by_label("Message").fill("A technician is on the way.")
    composer.get_by_label("State").select_option(label="Move to “In progress”")
    composer.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r"#thread-end$"))
    assert page.get_by_text("“Paper jam on floor 2” is now In progress; the reporter was told.").is_visible()
    reply = page.locator("[data-kind=reply]").last
    assert "A technician is on the way." in reply.inner_text()
    page.screenshot(path=str(_shots() / "phone-1-reply-with-move.png"), full_page=True)
    ticket.refresh_from_db()
    assert ticket.state == TicketState.IN_PROGRESS

    # The reporter's secret page on a phone: the reply and the move, never the note; they answer.
    reporter_context = chromium.new_context(locale="en-US", viewport={"width": 375, "height": 740})
    reporter = reporter_context.new_page()
    reporter.goto(f"{live_server.url}/ticket/{ticket.uuid}")
    assert reporter.evaluate("document.documentElement.scrollWidth") <= 375
    text = reporter.locator("[data-testid=thread]").inner_text()
    assert "A technician is on the way." in text and "INTERNAL" not in reporter.content()
    reporter.get_by_label("Your message").fill("Thanks, I will be at my desk.")
    reporter.get_by_role("button", name="Send").click()
    reporter.wait_for_url(re.compile(r"#thread-end$"))
    assert reporter.get_by_text("Your message was added to the ticket.").is_visible()
    assert reporter.get_by_text("Thanks, I will be at my desk.").is_visible()
    reporter.screenshot(path=str(_shots() / "phone-2-secret-page.png"), full_page=True)
    assert Entry.objects.filter(ticket=ticket, kind=EntryKind.MESSAGE).count() == 1
    reporter_context.close()
    phone.close()
