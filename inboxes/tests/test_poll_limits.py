"""ING-1 "a slow or dead mail server delays only its own inbox": the lease is kept through long
loops, a poll that lost it stops before touching the mailbox again, polls are bounded in time,
expire in the queue and run on their own queue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.db import OperationalError

from boards.tests.factories import BoardFactory
from inboxes import intake, polling, tasks
from inboxes.models import Inbox, ProcessedEmail, ProcessedEmailStatus
from inboxes.polling import LEASE, inbox_poll
from issuetracker.celery import app
from tickets.models import Ticket

from .factories import InboxFactory
from .mails import make_mail

pytestmark = [pytest.mark.mailserver, pytest.mark.django_db]

LEASE_LOST = "The poll was interrupted because another worker took over the inbox."


@pytest.fixture
def renew_always(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Every lease check asks the database, as it would after a long step."""
    monkeypatch.setattr(polling, "RENEW_AFTER", timedelta(0))


def steal_lease(inbox: Inbox) -> None:
    Inbox.objects.filter(pk=inbox.pk).update(poll_lease_token="another-worker")


def seen_uids(dovecot, username: str) -> set[int]:  # type: ignore[no-untyped-def]
    return {uid for uid, flags in dovecot.fetch_flags(username).items() if "\\Seen" in flags}


def store_three_pending_messages(inbox: Inbox, deliver, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A first poll stores three messages but cannot take them in: they wait as "received"."""
    BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)
    for number in range(3):
        deliver(make_mail(subject=f"Report {number}"))

    def database_down(**kwargs):  # type: ignore[no-untyped-def]
        raise OperationalError("the database system is shutting down")

    with monkeypatch.context() as patched:
        patched.setattr(intake, "ticket_create", database_down)
        inbox_poll(inbox=inbox)
    assert set(ProcessedEmail.objects.values_list("status", flat=True)) == {ProcessedEmailStatus.RECEIVED}
    inbox.refresh_from_db()


def test_the_lease_is_renewed_while_retrying_stored_messages(live_inbox, deliver, monkeypatch, renew_always):
    store_three_pending_messages(live_inbox, deliver, monkeypatch)
    leases = []
    real_process_one = polling.processed_email_process_one

    def records_the_lease(**kwargs):  # type: ignore[no-untyped-def]
        leases.append(Inbox.objects.values_list("poll_lease_until", flat=True).get(pk=live_inbox.pk))
        return real_process_one(**kwargs)

    monkeypatch.setattr(polling, "processed_email_process_one", records_the_lease)
    result = inbox_poll(inbox=live_inbox)

    assert result.outcomes == {"ticket": 3} and not result.error
    assert len(leases) == 3 and leases[0] < leases[1] < leases[2]


def test_a_lease_lost_while_retrying_stored_messages_stops_the_poll(
    live_inbox, deliver, dovecot, imap_account, monkeypatch, renew_always
):
    store_three_pending_messages(live_inbox, deliver, monkeypatch)
    real_process_one = polling.processed_email_process_one

    def slow_first_message(**kwargs):  # type: ignore[no-untyped-def]
        # The worker stalls on the first stored message; meanwhile another one takes the inbox.
        steal_lease(live_inbox)
        return real_process_one(**kwargs)

    monkeypatch.setattr(polling, "processed_email_process_one", slow_first_message)
    result = inbox_poll(inbox=live_inbox)

    assert result.error == LEASE_LOST
    assert Ticket.objects.count() == 1  # the message in hand; the other two are left to the new holder
    assert ProcessedEmail.objects.filter(status=ProcessedEmailStatus.RECEIVED).count() == 2
    assert seen_uids(dovecot, imap_account.username) == set()


def test_a_lease_lost_during_a_long_batch_leaves_the_mailbox_alone(
    live_inbox, deliver, dovecot, imap_account, monkeypatch, renew_always
):
    BoardFactory(manager=live_inbox.manager, exclusive_inbox=live_inbox)
    for number in range(3):
        deliver(make_mail(subject=f"Report {number}"))
    real_ticket_create = intake.ticket_create

    def stalls_then_creates(**kwargs):  # type: ignore[no-untyped-def]
        steal_lease(live_inbox)
        return real_ticket_create(**kwargs)

    monkeypatch.setattr(intake, "ticket_create", stalls_then_creates)
    result = inbox_poll(inbox=live_inbox)

    assert result.error == LEASE_LOST
    # Committed, so nothing is lost; flagging \Seen is left to the worker that holds the inbox now.
    assert Ticket.objects.count() == 3
    assert seen_uids(dovecot, imap_account.username) == set()


def test_a_poll_stops_taking_batches_when_its_time_is_used(live_inbox, deliver, monkeypatch):
    BoardFactory(manager=live_inbox.manager, exclusive_inbox=live_inbox)
    for number in range(5):
        deliver(make_mail(subject=f"Report {number}"))
    monkeypatch.setattr(polling, "POLL_TIME_BUDGET", timedelta(0))

    # One batch per poll: the rest waits for the next poll, with no error and nothing lost.
    outcomes = []
    for _ in range(3):
        live_inbox.refresh_from_db()
        result = inbox_poll(inbox=live_inbox, batch_size=2)
        assert not result.error
        outcomes.append(result.outcomes["ticket"])
    assert outcomes == [2, 2, 1]
    assert Ticket.objects.count() == 5


def test_the_task_time_limit_stops_a_poll_without_blaming_the_message(live_inbox, deliver, monkeypatch):
    BoardFactory(manager=live_inbox.manager, exclusive_inbox=live_inbox)
    deliver(make_mail(subject="Report"))

    def out_of_time(**kwargs):  # type: ignore[no-untyped-def]
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(intake, "ticket_create", out_of_time)
    result = inbox_poll(inbox=live_inbox)

    assert result.error.startswith("The poll took too long and was stopped")
    email = ProcessedEmail.objects.get()
    assert email.status == ProcessedEmailStatus.RECEIVED and email.reason == ""
    live_inbox.refresh_from_db()
    assert live_inbox.poll_lease_until is None and live_inbox.last_error == result.error


def test_the_poll_task_is_killed_before_its_heartbeat_stops():
    assert tasks.poll_inbox.soft_time_limit < tasks.poll_inbox.time_limit < polling.MAX_HOLD.total_seconds()
    assert polling.POLL_TIME_BUDGET.total_seconds() < tasks.poll_inbox.soft_time_limit
    assert polling.RENEW_AFTER <= LEASE / 4 and polling.HEARTBEAT <= LEASE / 4


def test_due_polls_are_enqueued_with_an_expiry(manager, monkeypatch):
    due = InboxFactory(manager=manager)
    sent: list[tuple[tuple[object, ...], dict[str, object]]] = []
    monkeypatch.setattr(tasks.poll_inbox, "apply_async", lambda args, **options: sent.append((args, options)))

    assert tasks.enqueue_due_polls() == 1
    ((args, options),) = sent
    assert args == (due.pk,)
    # Expired before the next minute's round enqueues a fresh one: no pile of duplicates.
    assert 0 < options["expires"] < 60


def test_polls_have_their_own_queue():
    route = app.amqp.router.route({}, "inboxes.tasks.poll_inbox", args=(1,), kwargs={})
    assert route["queue"].name == "polling"
    other = app.amqp.router.route({}, "inboxes.tasks.send_outgoing_mail", args=(1,), kwargs={})
    assert other["queue"].name == "celery"


def test_a_warm_shutdown_stops_the_poll_between_batches_and_hands_the_inbox_back(live_inbox, deliver, monkeypatch):
    from celery.signals import worker_shutting_down

    BoardFactory(manager=live_inbox.manager, exclusive_inbox=live_inbox)
    for number in range(5):
        deliver(make_mail(subject=f"Report {number}"))
    real_ticket_create = intake.ticket_create

    def deploy_during_the_first_batch(**kwargs):  # type: ignore[no-untyped-def]
        # What a deploy's SIGTERM does to a Celery worker: the signal, in the middle of a poll.
        worker_shutting_down.send(sender="celery@test", sig="SIGTERM", how="Warm", exitcode=0)
        return real_ticket_create(**kwargs)

    monkeypatch.setattr(intake, "ticket_create", deploy_during_the_first_batch)
    try:
        result = inbox_poll(inbox=live_inbox, batch_size=2)
        assert polling.shutdown_requested.is_set()
    finally:
        polling.shutdown_requested.clear()  # the process lives on for the next tests

    assert not result.error and result.outcomes["ticket"] == 2  # the batch in hand is finished
    live_inbox.refresh_from_db()
    assert live_inbox.poll_lease_until is None and live_inbox.poll_lease_token == ""  # handed back
    monkeypatch.setattr(intake, "ticket_create", real_ticket_create)
    assert inbox_poll(inbox=live_inbox).outcomes["ticket"] == 3
