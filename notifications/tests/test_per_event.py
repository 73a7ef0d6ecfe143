"""THR-8, one mail per event: a new ticket (web form and email), a reporter's message, an inbox that
starts failing. Each carries the manager's link and never the reporter's secret link."""

from __future__ import annotations

import pytest
from django.core import mail

from accounts.models import NotificationMode
from accounts.services import manager_suspend
from boards.tests.factories import BoardFactory
from inboxes.models import Inbox
from inboxes.polling import inbox_poll
from inboxes.tests.mails import make_mail
from notifications.models import Notification, NotificationKind
from notifications.services import notify_inbox_failing, notify_reporter_message, notify_ticket_created
from outbox.models import OutgoingMail, OutgoingMailKind
from testsupport.mailservers import find_free_port
from tickets.models import Ticket, TicketSource
from tickets.services import ticket_create
from tickets.tests.factories import TicketFactory

from .helpers import assert_no_secret, manager_ticket_link, notification_rows, sent_to

pytestmark = pytest.mark.django_db

REPORT = {"email": "rita@example.org", "title": "Printer jammed", "description": "Floor 2, error 42.", "website": ""}


def test_a_web_form_ticket_mails_the_manager_their_ticket_page(
    client, board, manager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/board/{board.unique_name}", REPORT).status_code == 302

    ticket = Ticket.objects.get()
    [row] = notification_rows(manager)
    assert row.inbox is None and row.ticket is None  # the site's sender; not part of the reporter's thread
    [sent] = sent_to(manager)
    assert sent.subject == "New ticket on Printers: Printer jammed"
    assert manager_ticket_link(ticket) in sent.body
    assert "rita@example.org" in sent.body and "Floor 2, error 42." in sent.body
    assert_no_secret(sent, ticket)
    notification = Notification.objects.get()
    assert (notification.kind, notification.ticket, notification.mailed_at is not None) == (
        NotificationKind.NEW_TICKET,
        ticket,
        True,
    )
    # The reporter's own confirmation still carries the secret link: only the manager's mail differs.
    [confirmation] = [message for message in mail.outbox if message.to == ["rita@example.org"]]
    assert f"/ticket/{ticket.uuid}" in confirmation.body


@pytest.mark.mailserver
def test_a_web_form_ticket_notification_arrives_over_smtp(
    client, board, manager, site_mailer_on, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/board/{board.unique_name}", REPORT)

    ticket = Ticket.objects.get()
    received = [mail for mail in site_mailer_on.wait_for(2) if mail.rcpt_tos == (manager.email,)]
    assert len(received) == 1
    message = received[0].message
    assert message["Subject"] == "New ticket on Printers: Printer jammed"
    assert message["Auto-Submitted"] == "auto-generated"
    assert manager_ticket_link(ticket) in message.get_body(("plain",)).get_content()
    assert_no_secret(message, ticket)


@pytest.mark.mailserver
def test_an_email_ticket_notification_arrives_over_smtp(
    manager, live_inbox, deliver, site_mailer_on, django_capture_on_commit_callbacks
):
    board = BoardFactory(manager=manager, name="Printers", exclusive_inbox=live_inbox)
    deliver(make_mail(subject="Toner everywhere", body="The toner cartridge burst."))

    with django_capture_on_commit_callbacks(execute=True):
        result = inbox_poll(inbox=live_inbox)

    assert not result.error, result.error
    ticket = Ticket.objects.get(board=board)
    assert ticket.source == TicketSource.EMAIL
    # The confirmation to the reporter goes through the inbox, the notification through the site's
    # sender: both land on the one test SMTP server here.
    [received] = [mail for mail in site_mailer_on.wait_for(2) if mail.rcpt_tos == (manager.email,)]
    message = received.message
    assert message["Subject"] == "New ticket on Printers: Toner everywhere"
    body = message.get_body(("plain",)).get_content()
    assert manager_ticket_link(ticket) in body and "The toner cartridge burst." in body
    assert_no_secret(message, ticket)


def test_a_reporter_message_mails_the_manager(board, manager, django_capture_on_commit_callbacks):
    ticket = TicketFactory(board=board, title="Printer jammed")
    with django_capture_on_commit_callbacks(execute=True):
        notify_reporter_message(ticket=ticket, sender_email="rita@example.org", body="Still jammed.\n\nRita")

    [sent] = sent_to(manager)
    assert sent.subject == 'New message from rita@example.org on "Printer jammed"'
    assert "Still jammed." in sent.body and manager_ticket_link(ticket) in sent.body
    assert_no_secret(sent, ticket)
    assert Notification.objects.get().kind == NotificationKind.REPORTER_MESSAGE


def test_a_long_message_is_cut_to_an_excerpt(board, manager):
    ticket = TicketFactory(board=board)
    notification = notify_reporter_message(ticket=ticket, sender_email="rita@example.org", body="word " * 1000)
    assert notification is not None and len(notification.text) == 1000 and notification.text.endswith("…")


def test_a_forwarding_stub_notifies_nobody(manager):
    jira_board = BoardFactory(manager=manager, jira=True)
    ticket = ticket_create(
        board=jira_board, title="On Jira", description="x", creator_email="rita@example.org", source=TicketSource.WEB
    )
    assert ticket.is_forwarded
    assert notify_ticket_created(ticket=ticket) is None
    assert not Notification.objects.exists() and notification_rows(manager) == []


def test_mail_is_in_the_managers_language(board, manager, django_capture_on_commit_callbacks):
    manager.language = "pl"
    manager.save(update_fields=["language"])
    with django_capture_on_commit_callbacks(execute=True):
        ticket_create(
            board=board, title="Drukarka", description="x", creator_email="rita@example.org", source=TicketSource.WEB
        )
    [sent] = sent_to(manager)
    assert sent.subject == "Nowe zgłoszenie na tablicy Printers: Drukarka"


def test_mail_off_sends_and_keeps_nothing(board, manager, inbox, django_capture_on_commit_callbacks):
    manager.notification_mode = NotificationMode.OFF
    manager.save(update_fields=["notification_mode"])
    with django_capture_on_commit_callbacks(execute=True):
        ticket = ticket_create(
            board=board, title="T", description="D", creator_email="rita@example.org", source=TicketSource.WEB
        )
        notify_reporter_message(ticket=ticket, sender_email="rita@example.org", body="More.")
        notify_inbox_failing(inbox=inbox, error="IMAP: login refused by imap.example.com.")
    assert sent_to(manager) == [] and notification_rows(manager) == []
    assert not Notification.objects.exists()
    # The reporter's confirmation is all that was written.
    assert list(OutgoingMail.objects.values_list("kind", "to_email")) == [
        (OutgoingMailKind.TICKET_CREATED, "rita@example.org")
    ]


def test_a_suspended_manager_is_not_mailed(board, manager, inbox):
    manager_suspend(manager=manager, message="Closed for good.")
    ticket = TicketFactory(board=board)
    assert notify_reporter_message(ticket=ticket, sender_email="rita@example.org", body="Hello?") is None
    assert notify_inbox_failing(inbox=inbox, error="IMAP: down") is None
    assert notification_rows(manager) == []


# --- A failing inbox --------------------------------------------------------------------------


def _break(inbox: Inbox) -> None:
    """Point the inbox at a port nobody listens on: the next poll fails with connection refused."""
    Inbox.objects.filter(pk=inbox.pk).update(imap_port=find_free_port())


def _repair(inbox: Inbox, port: int) -> None:
    Inbox.objects.filter(pk=inbox.pk).update(imap_port=port)


def _failing_mails(manager) -> list[OutgoingMail]:  # type: ignore[no-untyped-def]
    return [row for row in notification_rows(manager) if "stopped working" in row.subject]


@pytest.mark.mailserver
def test_a_failing_inbox_is_mailed_once_per_streak_and_again_after_recovery(
    manager, live_inbox, django_capture_on_commit_callbacks
):
    port = live_inbox.imap_port
    _break(live_inbox)
    with django_capture_on_commit_callbacks(execute=True):
        first = inbox_poll(inbox=live_inbox)
        second = inbox_poll(inbox=live_inbox)
    assert first.error.startswith("IMAP: connection refused") and second.error
    [row] = _failing_mails(manager)
    assert row.subject == 'Your inbox "Live support" has stopped working'
    assert first.error in row.body
    assert f"http://testserver/settings/inboxes/{live_inbox.pk}/" in row.body
    [sent] = sent_to(manager)
    assert sent.subject == row.subject

    _repair(live_inbox, port)
    assert not inbox_poll(inbox=live_inbox).error
    live_inbox.refresh_from_db()
    assert live_inbox.last_error == ""
    assert len(_failing_mails(manager)) == 1  # recovering is not news by mail; the banner goes

    _break(live_inbox)
    inbox_poll(inbox=live_inbox)
    inbox_poll(inbox=live_inbox)
    assert len(_failing_mails(manager)) == 2
    assert Notification.objects.filter(kind=NotificationKind.INBOX_FAILING, inbox=live_inbox).count() == 2


def test_a_notification_that_cannot_be_written_never_costs_the_polls_record(manager, monkeypatch):
    from inboxes import polling
    from inboxes.tests.factories import InboxFactory

    inbox = InboxFactory(manager=manager, imap_host="127.0.0.1", imap_port=find_free_port(), imap_use_ssl=False)

    def broken(**kwargs: object) -> None:
        raise RuntimeError("template missing")

    monkeypatch.setattr(polling, "notify_inbox_failing", broken)
    result = inbox_poll(inbox=inbox)
    inbox.refresh_from_db()
    assert result.error and inbox.last_error == result.error and inbox.poll_lease_until is None
