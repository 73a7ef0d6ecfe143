"""One stored mail is handled exactly once (ING-4, ING-5, THR-5).

Whatever runs twice (a reprocess racing a poll, a redelivered task, the same message stored under
two UIDs, a second poll of the mailbox) there is one ticket or queue item and one confirmation,
and the status decided first stays. What a message creates commits in the same transaction as its
row's status, or not at all: a failure between the two leaves nothing behind and the message
waiting, and the next attempt makes exactly one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

import pytest
from django.db import connection

from boards.models import Board
from boards.tests.factories import BoardFactory
from inboxes import intake
from inboxes.intake import intake_context_load, processed_email_process_one
from inboxes.models import Inbox, ProcessedEmail, ProcessedEmailStatus
from inboxes.polling import inbox_poll, process_safely
from outbox.models import OutgoingMail, OutgoingMailKind
from standby.models import StandbyItem
from tickets.models import Ticket
from tickets.tests.races import Gate, paused_after, race

from .factories import InboxFactory
from .mails import eml, make_mail

# Routes a message can take that create something: a ticket (with its confirmation) or a queue item.
ROUTES = ["ticket", "queue"]


def route_to(route: str, inbox: Inbox) -> Board | None:
    # Without any board the message waits in the standby queue (no_board_match).
    return BoardFactory(manager=inbox.manager, exclusive_inbox=inbox) if route == "ticket" else None


def store(inbox: Inbox, raw: bytes, uid: int) -> ProcessedEmail:
    """The row a poll commits before processing anything."""
    return ProcessedEmail.objects.create(inbox=inbox, imap_uidvalidity=1, imap_uid=uid, raw=raw, raw_size=len(raw))


def process(row: ProcessedEmail) -> ProcessedEmailStatus:
    """One run of the single-message path (a retry from a poll, a reprocess), with a fresh context."""
    return processed_email_process_one(
        processed_email_id=row.pk, raw=bytes(row.raw), context=intake_context_load(inbox=row.inbox)
    )


def created() -> dict[str, int]:
    return {
        "tickets": Ticket.objects.count(),
        "queue items": StandbyItem.objects.count(),
        "confirmations": OutgoingMail.objects.filter(kind=OutgoingMailKind.TICKET_CREATED).count(),
    }


def expected(route: str) -> dict[str, int]:
    """Once: a ticket with its confirmation, or a queue item (which mails nothing)."""
    once = {"tickets": 0, "queue items": 0, "confirmations": 0}
    return once | ({"tickets": 1, "confirmations": 1} if route == "ticket" else {"queue items": 1})


def decided(row: ProcessedEmail) -> tuple[object, ...]:
    row.refresh_from_db()
    return (row.status, row.reason, row.ticket_id, row.processed_at, row.message_id)


# One after the other: the same row twice, the same message twice, later polls.


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES)
def test_one_row_processed_twice_creates_once_and_keeps_the_first_decision(inbox, route):
    route_to(route, inbox)
    row = store(inbox, make_mail(subject="Printer on fire"), uid=1)
    first_status = process(row)
    first = decided(row)

    # A redelivered task, or a reprocess that read the row before the first run committed.
    assert process(row) == first_status

    assert first_status == (ProcessedEmailStatus.TICKET if route == "ticket" else ProcessedEmailStatus.QUEUED)
    assert created() == expected(route)
    assert decided(row) == first


@pytest.mark.django_db
@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(make_mail(subject="Printer on fire", message_id="<twice@example.org>"), id="same-message-id"),
        pytest.param(eml("missing_message_id.eml"), id="no-message-id"),
    ],
)
def test_one_message_stored_under_two_uids_makes_one_ticket_and_one_confirmation(inbox, settings, raw):
    # No duplicate window: only the message's identity can tell the copy apart from a new report.
    settings.DUPLICATE_EMAIL_THRESHOLD_MINUTES = 0
    route_to("ticket", inbox)
    original, copy = store(inbox, raw, uid=1), store(inbox, raw, uid=2)

    assert process(original) == ProcessedEmailStatus.TICKET
    first = decided(original)
    assert process(copy) == ProcessedEmailStatus.DUPLICATE
    assert process(original) == ProcessedEmailStatus.TICKET

    assert created() == expected("ticket")
    assert decided(original) == first
    copy.refresh_from_db()
    assert copy.ticket_id is None and "Message-ID" in copy.reason


@pytest.mark.mailserver
@pytest.mark.django_db
def test_later_polls_of_the_same_mailbox_make_nothing_twice(live_inbox, deliver, dovecot, imap_account, settings):
    settings.DUPLICATE_EMAIL_THRESHOLD_MINUTES = 0
    BoardFactory(manager=live_inbox.manager, exclusive_inbox=live_inbox)
    with_id = make_mail(subject="Printer on fire", message_id="<polled@example.org>")
    without_id = eml("missing_message_id.eml")
    # The same message twice in one fetch (a client copied it back, a server redelivered it)...
    for raw in (with_id, with_id, without_id):
        deliver(raw)
    first = inbox_poll(inbox=live_inbox)
    assert (first.outcomes, first.error) == ({"ticket": 2, "duplicate": 1}, "")

    # ... and once more after the poll that took it in.
    deliver(with_id)
    deliver(without_id)
    second = inbox_poll(inbox=Inbox.objects.get(pk=live_inbox.pk))
    assert (second.outcomes, second.error) == ({"duplicate": 2}, "")
    statuses = dict(ProcessedEmail.objects.values_list("imap_uid", "status"))

    # As if the polls' position and \Seen flags were lost: everything is found again.
    Inbox.objects.filter(pk=live_inbox.pk).update(imap_last_uid=0)
    with dovecot.connect(imap_account.username) as client:
        client.select("INBOX")
        client.uid("STORE", "1:*", "-FLAGS.SILENT", "(\\Seen)")
    third = inbox_poll(inbox=Inbox.objects.get(pk=live_inbox.pk))

    assert (third.fetched, third.error) == (0, "")
    assert dict(ProcessedEmail.objects.values_list("imap_uid", "status")) == statuses
    assert created() == {"tickets": 2, "queue items": 0, "confirmations": 2}


# Two runs at the same time, on two real database connections.


@pytest.fixture
def sending_inbox(manager, smtp_server) -> Inbox:  # type: ignore[no-untyped-def]
    """An inbox whose committed confirmations really go out, to the test SMTP server."""
    return InboxFactory(
        manager=manager,
        from_address="support@tracker.example",
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        smtp_username=smtp_server.username,
        smtp_use_starttls=False,
        passwords=("unused", smtp_server.password),
    )


@pytest.mark.mailserver
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", ROUTES)
def test_a_reprocess_racing_a_poll_on_one_row_creates_once(sending_inbox, smtp_server, monkeypatch, route):
    route_to(route, sending_inbox)
    row = store(sending_inbox, make_mail(subject="Printer on fire"), uid=1)
    gate = Gate()
    # The first run stops after its status UPDATE, holding its transaction (and the row) open;
    # the second has made its own ticket or queue item by the time it waits for the first.
    monkeypatch.setattr(intake, "_save", paused_after(gate, intake._save))

    first, second = race(partial(process, row), partial(process, row), gate=gate)

    assert first.error is None and second.error is None, (first.error, second.error)
    assert first.result == second.result
    assert created() == expected(route)
    assert len(smtp_server.received) == expected(route)["confirmations"]


@pytest.mark.mailserver
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", ROUTES)
def test_two_copies_of_one_message_processed_at_once_create_once(sending_inbox, smtp_server, monkeypatch, route):
    route_to(route, sending_inbox)
    raw = make_mail(subject="Printer on fire", message_id="<copied@example.org>")
    original, copy = store(sending_inbox, raw, uid=1), store(sending_inbox, raw, uid=2)
    gate = Gate()
    monkeypatch.setattr(intake, "_save", paused_after(gate, intake._save))

    first, second = race(partial(process, original), partial(process, copy), gate=gate)

    assert first.error is None and second.error is None, (first.error, second.error)
    assert second.result == ProcessedEmailStatus.DUPLICATE
    assert created() == expected(route)
    assert len(smtp_server.received) == expected(route)["confirmations"]


# A failure between what a message creates and its row's status.


@pytest.fixture
def status_update_fails_once() -> Iterator[Callable[[], int]]:
    """The first status UPDATE away from ``received`` raises inside PostgreSQL, but only once the
    message's ticket or queue item is already written in the same transaction. Yields a function
    that tells how often that point was reached. (A sequence counts: it ignores rollbacks.)"""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE SEQUENCE status_update_faults;
            CREATE FUNCTION fail_status_update_once() RETURNS trigger AS $$
            BEGIN
                IF OLD.status = 'received' AND NEW.status <> 'received' THEN
                    IF EXISTS (SELECT 1 FROM tickets_ticket WHERE id = NEW.ticket_id)
                       OR EXISTS (SELECT 1 FROM standby_standbyitem WHERE processed_email_id = NEW.id) THEN
                        IF nextval('status_update_faults') = 1 THEN
                            RAISE EXCEPTION 'connection lost after the ticket was written (simulated)';
                        END IF;
                    END IF;
                END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER fail_status_update_once BEFORE UPDATE ON inboxes_processedemail
                FOR EACH ROW EXECUTE FUNCTION fail_status_update_once();
            """
        )

    def reached() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM status_update_faults")
            return int(cursor.fetchone()[0])

    try:
        yield reached
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                """
                DROP TRIGGER IF EXISTS fail_status_update_once ON inboxes_processedemail;
                DROP FUNCTION IF EXISTS fail_status_update_once();
                DROP SEQUENCE IF EXISTS status_update_faults;
                """
            )


@pytest.mark.mailserver
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", ROUTES)
def test_a_failure_between_the_ticket_and_the_row_status_commits_neither(
    sending_inbox, smtp_server, status_update_fails_once, route
):
    board = route_to(route, sending_inbox)
    row = store(sending_inbox, make_mail(subject="Printer on fire"), uid=1)

    def attempt() -> str:
        # As a poll's retry and a manager's reprocess run it: outside any caller's transaction.
        return process_safely(row_id=row.pk, inbox_id=sending_inbox.pk, process=partial(process, row))

    assert attempt() == ProcessedEmailStatus.RECEIVED
    assert status_update_fails_once() == 1  # the fault hit with the ticket or item already written
    row.refresh_from_db()
    assert (row.status, row.attempts, row.ticket_id) == (ProcessedEmailStatus.RECEIVED, 1, None)
    assert created() == {"tickets": 0, "queue items": 0, "confirmations": 0}
    assert not OutgoingMail.objects.exists() and not smtp_server.received
    if board is not None:
        assert Board.objects.get(pk=board.pk).count_new == 0

    assert attempt() == (ProcessedEmailStatus.TICKET if route == "ticket" else ProcessedEmailStatus.QUEUED)
    assert created() == expected(route)
    assert len(smtp_server.received) == expected(route)["confirmations"]
    if board is not None:
        assert Board.objects.get(pk=board.pk).count_new == 1
