"""Polling a real Dovecot mailbox: exactly-once intake, \\Seen after commit, failures recorded."""

from __future__ import annotations

import pytest

from inboxes.models import ProcessedEmail, ProcessedEmailStatus, StandbyItem
from inboxes.polling import inbox_poll
from tickets.models import Ticket

from .factories import BoardFactory
from .mails import make_mail

pytestmark = [pytest.mark.mailserver, pytest.mark.django_db]


def test_poll_turns_mail_into_tickets_and_marks_seen(
    live_inbox, deliver, dovecot, imap_account, smtp_server, django_capture_on_commit_callbacks
):
    board = BoardFactory(manager=live_inbox.manager, keywords=["printer"])
    uid_ticket = deliver(make_mail(subject="Printer on fire"))
    uid_queue = deliver(make_mail(subject="Coffee machine broken", sender="bob@example.org"))

    with django_capture_on_commit_callbacks(execute=True):
        result = inbox_poll(inbox=live_inbox)

    assert result.claimed and not result.error, result.error
    ticket = Ticket.objects.get()
    assert ticket.board == board
    assert ticket.title == "Printer on fire"
    assert ticket.creator_email == "rita@example.org"
    assert StandbyItem.objects.get().subject == "Coffee machine broken"
    flags = dovecot.fetch_flags(imap_account.username)
    assert "\\Seen" in flags[uid_ticket] and "\\Seen" in flags[uid_queue]
    live_inbox.refresh_from_db()
    assert live_inbox.imap_last_uid == uid_queue
    assert live_inbox.last_error == ""
    assert live_inbox.poll_lease_until is None
    assert set(ProcessedEmail.objects.values_list("status", flat=True)) == {
        ProcessedEmailStatus.TICKET,
        ProcessedEmailStatus.QUEUED,
    }
    # ING-6: the confirmation goes out through the receiving inbox, threaded under the report.
    (confirmation,) = smtp_server.wait_for(1)
    assert confirmation.message["To"] == "rita@example.org"
    assert confirmation.message["From"] == live_inbox.from_address
    assert confirmation.message["In-Reply-To"] == ticket.source_message_id
