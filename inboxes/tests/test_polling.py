"""Polling a real Dovecot mailbox: exactly-once intake, \\Seen after commit, failures recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from boards.tests.factories import BoardFactory
from inboxes import intake, polling
from inboxes.models import Inbox, ProcessedEmail, ProcessedEmailStatus
from inboxes.polling import due_inbox_ids, inbox_poll
from inboxes.tasks import enqueue_due_polls, poll_inbox
from inboxes.tests.factories import make_live_inbox
from outbox.models import OutgoingMail, OutgoingMailKind
from standby.models import StandbyItem
from testsupport.mailservers import ImapAccount, find_free_port
from tickets.models import Ticket

from .factories import InboxFactory
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


def clear_seen(dovecot, username: str) -> None:  # type: ignore[no-untyped-def]
    with dovecot.connect(username) as client:
        client.select("INBOX")
        client.uid("STORE", "1:*", "-FLAGS.SILENT", "(\\Seen)")


def test_an_interrupted_poll_repeated_takes_nothing_twice(live_inbox, deliver, dovecot, imap_account):
    BoardFactory(manager=live_inbox.manager, exclusive_inbox=live_inbox)
    for number in range(5):
        deliver(make_mail(subject=f"Report {number}"))
    assert inbox_poll(inbox=live_inbox, batch_size=2).outcomes == {"ticket": 5}

    # As if the worker died after committing but before saving its position or flagging \Seen.
    Inbox.objects.filter(pk=live_inbox.pk).update(imap_last_uid=0)
    clear_seen(dovecot, imap_account.username)
    live_inbox.refresh_from_db()
    result = inbox_poll(inbox=live_inbox, batch_size=2)

    assert result.fetched == 0 and not result.error
    assert Ticket.objects.count() == 5
    assert ProcessedEmail.objects.count() == 5
    assert all("\\Seen" in flags for flags in dovecot.fetch_flags(imap_account.username).values())


def test_a_new_mailbox_takes_unread_mail_then_everything_new(live_inbox, deliver, dovecot, imap_account):
    BoardFactory(manager=live_inbox.manager, exclusive_inbox=live_inbox)
    deliver(make_mail(subject="Old and read"), "\\Seen")
    deliver(make_mail(subject="Unread"))
    inbox_poll(inbox=live_inbox)
    assert list(Ticket.objects.values_list("title", flat=True)) == ["Unread"]

    # Read by a person in their mail client before the next poll: still a new message.
    deliver(make_mail(subject="New but already read"), "\\Seen")
    inbox_poll(inbox=Inbox.objects.get(pk=live_inbox.pk))
    assert set(Ticket.objects.values_list("title", flat=True)) == {"Unread", "New but already read"}


def test_a_uidvalidity_change_is_caught_by_the_message_id(live_inbox, deliver, dovecot, imap_account):
    BoardFactory(manager=live_inbox.manager, exclusive_inbox=live_inbox)
    deliver(make_mail(subject="One"))
    inbox_poll(inbox=live_inbox)
    # As if the server renumbered its messages: the stored rows belong to the old UIDVALIDITY.
    Inbox.objects.filter(pk=live_inbox.pk).update(imap_uidvalidity=1, imap_last_uid=0)
    ProcessedEmail.objects.update(imap_uidvalidity=1)
    clear_seen(dovecot, imap_account.username)

    result = inbox_poll(inbox=Inbox.objects.get(pk=live_inbox.pk))

    assert result.outcomes == {"duplicate": 1}
    assert Ticket.objects.count() == 1


def test_a_database_error_on_one_message_retries_it_and_takes_the_rest(
    live_inbox, deliver, dovecot, imap_account, monkeypatch
):
    BoardFactory(manager=live_inbox.manager, exclusive_inbox=live_inbox)
    uids = {subject: deliver(make_mail(subject=subject)) for subject in ("Before", "Poison", "After")}
    real_ticket_create = intake.ticket_create
    database_down_for_poison = [True]

    def failing_for_poison(**kwargs):  # type: ignore[no-untyped-def]
        if kwargs["title"] == "Poison" and database_down_for_poison[0]:
            raise OperationalError("server closed the connection unexpectedly")
        return real_ticket_create(**kwargs)

    monkeypatch.setattr(intake, "ticket_create", failing_for_poison)

    first = inbox_poll(inbox=live_inbox)

    assert first.outcomes == {"ticket": 2, "received": 1}
    assert set(Ticket.objects.values_list("title", flat=True)) == {"Before", "After"}
    flags = dovecot.fetch_flags(imap_account.username)
    assert "\\Seen" not in flags[uids["Poison"]]
    assert "\\Seen" in flags[uids["Before"]] and "\\Seen" in flags[uids["After"]]
    poison = ProcessedEmail.objects.get(imap_uid=uids["Poison"])
    assert (poison.status, poison.attempts) == (ProcessedEmailStatus.RECEIVED, 1)

    database_down_for_poison[0] = False
    second = inbox_poll(inbox=Inbox.objects.get(pk=live_inbox.pk))

    assert second.outcomes == {"ticket": 1}
    assert Ticket.objects.filter(title="Poison").count() == 1
    assert Ticket.objects.count() == 3
    assert "\\Seen" in dovecot.fetch_flags(imap_account.username)[uids["Poison"]]


def test_imap_server_stopped_mid_poll_shows_the_error_and_the_next_poll_recovers(
    manager, private_dovecot, smtp_server, monkeypatch
):
    private_dovecot.add_user("desk", "desk-password")
    account = ImapAccount(
        host=private_dovecot.host, port=private_dovecot.port, username="desk", password="desk-password"
    )
    inbox = make_live_inbox(manager=manager, account=account, smtp=smtp_server)
    BoardFactory(manager=manager, exclusive_inbox=inbox)
    for number in range(6):
        private_dovecot.append("desk", make_mail(subject=f"Report {number}"))
    real_process = polling.processed_email_process
    calls = []

    def stop_server_after_first(**kwargs):  # type: ignore[no-untyped-def]
        status = real_process(**kwargs)
        calls.append(status)
        if len(calls) == 1:
            private_dovecot.kill()
        return status

    monkeypatch.setattr(polling, "processed_email_process", stop_server_after_first)
    first = inbox_poll(inbox=inbox, batch_size=2)
    monkeypatch.undo()

    inbox.refresh_from_db()
    assert first.error.startswith("IMAP: ")
    assert inbox.last_error == first.error and inbox.last_error_at is not None
    assert inbox.poll_lease_until is None  # released, so the next interval can poll again
    assert Ticket.objects.count() == 2  # the batch already fetched was still taken in

    private_dovecot.start()
    second = inbox_poll(inbox=inbox, batch_size=2)

    inbox.refresh_from_db()
    assert not second.error and inbox.last_error == ""
    assert Ticket.objects.count() == 6
    assert sorted(Ticket.objects.values_list("title", flat=True)) == [f"Report {n}" for n in range(6)]
    assert ProcessedEmail.objects.filter(status=ProcessedEmailStatus.TICKET).count() == 6
    assert all("\\Seen" in flags for flags in private_dovecot.fetch_flags("desk").values())


def test_wrong_password_is_recorded_on_the_inbox_and_other_inboxes_still_poll(
    manager, imap_account, smtp_server, dovecot, deliver
):
    broken = make_live_inbox(
        manager=manager, account=imap_account, smtp=smtp_server, passwords=("wrong", smtp_server.password)
    )
    working = make_live_inbox(manager=manager, account=imap_account, smtp=smtp_server)
    deliver(make_mail())

    assert inbox_poll(inbox=broken).error == "IMAP: login refused by 127.0.0.1."
    assert inbox_poll(inbox=working).outcomes == {"queued": 1}
    broken.refresh_from_db()
    assert broken.last_error == "IMAP: login refused by 127.0.0.1." and broken.last_success_at is None


def test_an_inbox_claimed_by_another_worker_is_not_polled(live_inbox, deliver):
    deliver(make_mail())
    Inbox.objects.filter(pk=live_inbox.pk).update(poll_lease_until=timezone.now() + timedelta(minutes=1))
    assert inbox_poll(inbox=live_inbox).claimed is False
    assert not ProcessedEmail.objects.exists()

    # A lease left by a killed worker runs out.
    Inbox.objects.filter(pk=live_inbox.pk).update(poll_lease_until=timezone.now() - timedelta(seconds=1))
    assert inbox_poll(inbox=live_inbox).outcomes == {"queued": 1}


def test_a_message_too_large_is_recorded_and_left_on_the_server(
    live_inbox, deliver, monkeypatch, dovecot, imap_account
):
    monkeypatch.setattr(polling, "MAX_MESSAGE_BYTES", 2000)
    big = deliver(make_mail(body="x" * 5000))
    small = deliver(make_mail(subject="small"))
    result = inbox_poll(inbox=live_inbox)
    assert result.outcomes == {"queued": 1}
    failed = ProcessedEmail.objects.get(imap_uid=big)
    assert failed.status == ProcessedEmailStatus.FAILED and "too large" in failed.reason
    assert bytes(failed.raw) == b""
    assert dovecot.message_count(imap_account.username) == 2
    assert small


def test_enqueue_due_polls_polls_due_active_inboxes_only(manager, live_inbox, deliver):
    deliver(make_mail())
    paused = InboxFactory(manager=manager, is_active=False)
    recent = InboxFactory(manager=manager, last_polled_at=timezone.now())
    assert enqueue_due_polls() == 1  # eager Celery in tests: the poll ran inline

    assert ProcessedEmail.objects.filter(inbox=live_inbox).count() == 1
    paused.refresh_from_db()
    recent.refresh_from_db()
    assert paused.last_polled_at is None
    # Due again once its interval has passed.
    Inbox.objects.filter(pk=recent.pk).update(last_polled_at=timezone.now() - timedelta(minutes=5))
    assert due_inbox_ids() == [recent.pk]


def test_poll_task_survives_an_unreachable_server(manager):
    inbox = InboxFactory(manager=manager, imap_host="127.0.0.1", imap_port=find_free_port(), imap_use_ssl=False)
    poll_inbox.delay(inbox.pk)
    inbox.refresh_from_db()
    assert inbox.last_error.startswith("IMAP: connection refused by 127.0.0.1:")
    assert inbox.last_polled_at is not None and inbox.poll_lease_until is None


def test_a_batch_that_fails_once_is_redone_message_by_message_without_doubles(live_inbox, deliver, monkeypatch):
    BoardFactory(manager=live_inbox.manager, exclusive_inbox=live_inbox)
    for subject in ("One", "Two", "Three"):
        deliver(make_mail(subject=subject))
    real_ticket_create = intake.ticket_create
    failures: list[str] = []

    def fails_on_the_third_once(**kwargs):  # type: ignore[no-untyped-def]
        if kwargs["title"] == "Three" and not failures:
            failures.append("Three")
            raise OperationalError("deadlock detected")
        return real_ticket_create(**kwargs)

    monkeypatch.setattr(intake, "ticket_create", fails_on_the_third_once)
    result = inbox_poll(inbox=live_inbox)

    # The fast pass had already created "One" and "Two"; its rollback took them back.
    assert result.outcomes == {"ticket": 3} and failures == ["Three"]
    assert sorted(Ticket.objects.values_list("title", flat=True)) == ["One", "Three", "Two"]
    # One confirmation and one manager notification per ticket: the rolled-back pass left none.
    assert OutgoingMail.objects.filter(kind=OutgoingMailKind.TICKET_CREATED).count() == 3
    assert OutgoingMail.objects.filter(kind=OutgoingMailKind.NOTIFICATION).count() == 3
