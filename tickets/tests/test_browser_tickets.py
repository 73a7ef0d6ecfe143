"""The core loop in headless Chromium: board → public report → kanban drag → reporter informed."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from accounts.tests.factories import DEFAULT_PASSWORD, ManagerFactory
from outbox.models import OutgoingMail, OutgoingMailKind, OutgoingMailStatus
from tickets.models import Entry, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_board_public_report_drag_to_in_progress_and_secret_page(
    live_server, chromium, browser_page, screenshot, compiled_messages
):
    page = browser_page
    ManagerFactory(email="kanban@example.com", name="Kara Kanban")

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill("kanban@example.com")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")

    # Create a board; its public address is suggested from the name.
    page.get_by_role("link", name="New board").first.click()
    page.get_by_label("Name").fill("Printer Help")
    page.get_by_label("Greeting message").fill("Tell us which printer.")
    screenshot("new-board")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/boards/\d+/$"))
    folder = screenshot("empty-kanban").parent

    # A reporter without an account files a ticket on a phone-sized window.
    reporter_context = chromium.new_context(locale="en-US", viewport={"width": 375, "height": 800})
    reporter = reporter_context.new_page()
    reporter.goto(f"{live_server.url}/board/printer-help")
    assert reporter.get_by_text("Tell us which printer.").is_visible()
    reporter.get_by_label("Your email address").fill("reporter@example.com")
    reporter.get_by_label("Title").fill("Paper jam on floor 2")
    reporter.get_by_label("Description").fill("It beeps <b>loudly</b>.")
    reporter.get_by_role("button", name="Send report").click()
    reporter.wait_for_url(re.compile(r"/board/printer-help/submitted"))
    reporter.screenshot(path=str(folder / "phone-1-public-submitted.png"), full_page=True)
    ticket = Ticket.objects.get(title="Paper jam on floor 2")
    assert str(ticket.uuid) in reporter.content()

    # The ticket is on the kanban; drag it to "In progress" (SortableJS + fetch to the server).
    page.reload()
    card = page.locator("[data-testid=column-new] .kanban-card", has_text="Paper jam on floor 2")
    assert card.is_visible()
    # On success the script redraws the board with a reload.
    with page.expect_navigation():
        card.drag_to(page.locator("[data-testid=column-in_progress]"))
    page.wait_for_selector("[data-testid=column-in_progress] .kanban-card")
    screenshot("dragged-to-in-progress")
    ticket.refresh_from_db()
    assert ticket.state == "in_progress"
    assert Entry.objects.filter(ticket=ticket, to_state="in_progress").exists()

    # The reporter's notification is in the outbox, and was sent.
    notice = OutgoingMail.objects.get(ticket=ticket, kind=OutgoingMailKind.STATE_CHANGED)
    assert notice.status == OutgoingMailStatus.SENT and notice.to_email == "reporter@example.com"
    assert any("In progress" in m.body and str(ticket.uuid) in m.body for m in mail.outbox)

    # A refused move snaps back: in_progress → new is not allowed.
    moved = page.locator("[data-testid=column-in_progress] .kanban-card", has_text="Paper jam on floor 2")
    moved.drag_to(page.locator("[data-testid=column-new]"))
    page.wait_for_selector(".alert-danger")
    assert page.locator("[data-testid=column-in_progress] .kanban-card", has_text="Paper jam").is_visible()
    screenshot("refused-move-snaps-back")
    # The server's 409 for the refused move is expected; Chromium logs every non-2xx fetch.
    page.console_errors[:] = [e for e in page.console_errors if "409 (Conflict)" not in e]
    ticket.refresh_from_db()
    assert ticket.state == "in_progress"

    # The secret page shows the new state to the reporter, the description as text.
    reporter.goto(f"{live_server.url}/ticket/{ticket.uuid}")
    assert reporter.get_by_text("In progress").first.is_visible()
    assert "It beeps <b>loudly</b>." in reporter.inner_text("main")
    reporter.screenshot(path=str(folder / "phone-2-secret-page.png"), full_page=True)
    reporter_context.close()
