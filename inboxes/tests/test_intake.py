"""Intake of one stored message (ING-2 … ING-8) without an IMAP server."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from boards.tests.factories import BoardFactory
from inboxes import intake
from inboxes.models import ProcessedEmail, ProcessedEmailStatus
from inboxes.services import processed_email_reprocess
from outbox.models import OutgoingMail, OutgoingMailKind, OutgoingMailStatus
from standby.models import StandbyItem, StandbyReason
from tickets.errors import BoardClosedError
from tickets.models import Ticket, TicketSource

from .factories import InboxFactory
from .mails import eml, make_mail, take_in

pytestmark = pytest.mark.django_db


def confirmation_of(ticket: Ticket) -> OutgoingMail:
    return OutgoingMail.objects.get(ticket=ticket, kind=OutgoingMailKind.TICKET_CREATED)


def test_keyword_routes_to_a_ticket_threaded_under_the_message(inbox):
    board = BoardFactory(manager=inbox.manager, keywords=["printer"])
    row = take_in(inbox, make_mail(subject="Re: PRINTER jam", message_id="<abc@example.org>"))

    assert row.status == ProcessedEmailStatus.TICKET
    ticket = Ticket.objects.get()
    assert (ticket.board, ticket.source, ticket.creator_email) == (board, TicketSource.EMAIL, "rita@example.org")
    assert row.ticket == ticket and row.message_id == "<abc@example.org>"
    mail = confirmation_of(ticket)
    assert mail.inbox == inbox
    assert mail.in_reply_to == "<abc@example.org>"
    assert mail.status == OutgoingMailStatus.PENDING


def test_exclusive_board_takes_everything(inbox):
    exclusive = BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)
    BoardFactory(manager=inbox.manager, keywords=["printer"])
    take_in(inbox, make_mail(subject="printer"))
    assert Ticket.objects.get().board == exclusive


def test_no_keyword_goes_to_the_standby_queue_with_the_message(inbox):
    BoardFactory(manager=inbox.manager, keywords=["printer"])
    row = take_in(inbox, make_mail(subject="Coffee", body="No coffee left.", message_id="<c@example.org>"))

    assert row.status == ProcessedEmailStatus.QUEUED
    item = StandbyItem.objects.get()
    assert item.manager == inbox.manager and item.receiving_inbox == inbox and item.processed_email == row
    assert (item.subject, item.sender_email, item.sender_name) == ("Coffee", "rita@example.org", "Rita Reporter")
    assert item.body == "No coffee left."
    assert item.reason == StandbyReason.NO_KEYWORD_MATCH
    assert item.message_id == "<c@example.org>"
    assert not OutgoingMail.objects.exists()


def test_manager_without_boards_gets_no_board_match(inbox):
    take_in(inbox, make_mail())
    assert StandbyItem.objects.get().reason == StandbyReason.NO_BOARD_MATCH


def test_same_message_id_is_taken_in_once(inbox):
    BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)
    raw = make_mail(message_id="<once@example.org>")
    first, second = take_in(inbox, raw), take_in(inbox, raw)
    assert (first.status, second.status) == (ProcessedEmailStatus.TICKET, ProcessedEmailStatus.DUPLICATE)
    assert Ticket.objects.count() == 1


def test_message_without_message_id_is_keyed_on_its_bytes(inbox):
    BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)
    raw = eml("missing_message_id.eml")
    first, second = take_in(inbox, raw), take_in(inbox, raw)
    assert first.message_id.endswith("@no-message-id.invalid>")
    assert second.status == ProcessedEmailStatus.DUPLICATE
    assert Ticket.objects.get().source_message_id == ""


def test_same_sender_and_subject_within_the_window_is_a_duplicate(inbox, settings):
    settings.DUPLICATE_EMAIL_THRESHOLD_MINUTES = 60
    BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)
    take_in(inbox, make_mail(subject="Help"))
    again = take_in(inbox, make_mail(subject="Help"))
    other_sender = take_in(inbox, make_mail(subject="Help", sender="bob@example.org"))
    assert again.status == ProcessedEmailStatus.DUPLICATE
    assert "60 minutes" in again.reason
    assert other_sender.status == ProcessedEmailStatus.TICKET


def test_the_duplicate_window_is_a_setting(inbox, settings):
    settings.DUPLICATE_EMAIL_THRESHOLD_MINUTES = 0
    BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)
    take_in(inbox, make_mail(subject="Help"))
    assert take_in(inbox, make_mail(subject="Help")).status == ProcessedEmailStatus.TICKET


def test_same_subject_outside_the_window_is_a_new_ticket(inbox):
    BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)
    first = take_in(inbox, make_mail(subject="Help"))
    ProcessedEmail.objects.filter(pk=first.pk).update(received_at=first.received_at.replace(year=2020))
    assert take_in(inbox, make_mail(subject="Help")).status == ProcessedEmailStatus.TICKET


@pytest.mark.parametrize("name", ["auto_reply.eml", "dsn_bounce.eml", "mailing_list.eml"])
def test_automatic_mail_never_gets_an_automatic_answer(inbox, name):
    BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)
    row = take_in(inbox, eml(name))
    assert row.status == ProcessedEmailStatus.TICKET
    mail = confirmation_of(Ticket.objects.get())
    assert mail.status == OutgoingMailStatus.SUPPRESSED
    assert "sent automatically" in mail.last_error
    assert "sent automatically" in row.reason


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-replied"},
        {"Precedence": "bulk"},
        {"X-Auto-Response-Suppress": "All"},
        {"List-Id": "<users.lists.example.org>"},
        {"Return-Path": "<>"},
    ],
)
def test_loop_headers_suppress_the_confirmation(inbox, headers):
    BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)
    take_in(inbox, make_mail(headers=headers))
    assert confirmation_of(Ticket.objects.get()).status == OutgoingMailStatus.SUPPRESSED


def test_auto_submitted_no_is_a_person(inbox):
    BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)
    take_in(inbox, make_mail(headers={"Auto-Submitted": "no"}))
    assert confirmation_of(Ticket.objects.get()).status == OutgoingMailStatus.PENDING


def test_mail_from_our_own_addresses_gets_no_answer(inbox):
    other_inbox = InboxFactory(from_address="helpdesk@elsewhere.example")
    BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)
    take_in(inbox, make_mail(sender="Helpdesk <HELPDESK@elsewhere.example>"))
    mail = confirmation_of(Ticket.objects.get())
    assert other_inbox.pk and mail.status == OutgoingMailStatus.SUPPRESSED
    assert "own addresses" in mail.last_error


def test_at_most_one_automatic_mail_per_sender_per_inbox_per_hour(inbox):
    BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)
    take_in(inbox, make_mail(subject="First"))
    take_in(inbox, make_mail(subject="Second"))
    take_in(inbox, make_mail(subject="Third", sender="bob@example.org"))
    statuses = dict(
        OutgoingMail.objects.filter(kind=OutgoingMailKind.TICKET_CREATED).values_list("ticket__title", "status")
    )
    assert statuses == {
        "First": OutgoingMailStatus.PENDING,
        "Second": OutgoingMailStatus.SUPPRESSED,
        "Third": OutgoingMailStatus.PENDING,
    }
    # Two tickets were still created: only the answer is held back.
    assert Ticket.objects.filter(creator_email="rita@example.org").count() == 2


def test_suspended_manager_creates_nothing_and_answers_once_a_day(inbox):
    manager = inbox.manager
    manager.is_suspended, manager.suspension_message = True, "We closed the help desk; call 555-0100."
    manager.save()
    BoardFactory(manager=manager, exclusive_inbox=inbox)

    first = take_in(inbox, make_mail(subject="Help", message_id="<s1@example.org>"))
    second = take_in(inbox, make_mail(subject="Help again"))
    bot = take_in(inbox, make_mail(sender="bot@example.org", headers={"Auto-Submitted": "auto-replied"}))

    assert {first.status, second.status, bot.status} == {ProcessedEmailStatus.IGNORED}
    assert not Ticket.objects.exists() and not StandbyItem.objects.exists()
    reply = OutgoingMail.objects.get()
    assert reply.kind == OutgoingMailKind.SUSPENSION_REPLY
    assert (reply.to_email, reply.inbox, reply.in_reply_to) == ("rita@example.org", inbox, "<s1@example.org>")
    assert "call 555-0100" in reply.body
    assert reply.subject == "Re: Help"
    assert "already answered today" in second.reason
    assert "sent automatically" in bot.reason


def test_unreadable_bytes_fail_with_a_reason_and_keep_the_bytes(inbox):
    row = take_in(inbox, b"\r\n\r\n   ")
    assert row.status == ProcessedEmailStatus.FAILED
    assert row.reason.startswith("The message could not be read")
    assert bytes(row.raw) == b"\r\n\r\n   "


def test_message_without_any_sender_fails_with_a_reason(inbox):
    BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)
    row = take_in(inbox, eml("missing_from.eml"))
    assert row.status == ProcessedEmailStatus.FAILED
    assert "no sender address" in row.reason
    assert not Ticket.objects.exists()


def test_archived_boards_take_no_mail(inbox):
    BoardFactory(manager=inbox.manager, keywords=["printer"], is_archived=True, archived_at="2025-01-01T00:00Z")
    take_in(inbox, make_mail(subject="printer"))
    assert StandbyItem.objects.get().reason == StandbyReason.NO_BOARD_MATCH


def test_a_board_closed_while_the_message_was_handled_sends_it_to_the_queue(inbox, monkeypatch):
    BoardFactory(manager=inbox.manager, keywords=["printer"])

    def closed(**kwargs):  # type: ignore[no-untyped-def]
        raise BoardClosedError("This board no longer accepts tickets.")

    monkeypatch.setattr(intake, "ticket_create", closed)
    assert take_in(inbox, make_mail(subject="printer")).status == ProcessedEmailStatus.QUEUED
    assert StandbyItem.objects.get().reason == StandbyReason.NO_BOARD_MATCH


def test_an_unexpected_error_is_recorded_and_reprocess_takes_it_in(inbox, monkeypatch):
    BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)

    def broken_route(**kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    raw = make_mail(subject="Try me")
    row = ProcessedEmail.objects.create(inbox=inbox, imap_uidvalidity=1, imap_uid=5, raw=raw, raw_size=len(raw))
    monkeypatch.setattr(intake, "route_message", broken_route)
    from inboxes.polling import process_safely

    context = intake.intake_context_load(inbox=inbox)
    status = process_safely(
        row_id=row.pk,
        inbox_id=inbox.pk,
        process=lambda: intake.processed_email_process_one(processed_email_id=row.pk, raw=raw, context=context),
    )
    row.refresh_from_db()
    assert status == row.status == ProcessedEmailStatus.FAILED
    assert "RuntimeError" in row.reason
    assert not Ticket.objects.exists()

    monkeypatch.undo()
    assert processed_email_reprocess(processed_email=row) == ProcessedEmailStatus.TICKET
    assert Ticket.objects.get().title == "Try me"
    # Reprocessing something already handled does nothing.
    assert processed_email_reprocess(processed_email=row) == ProcessedEmailStatus.TICKET
    assert Ticket.objects.count() == 1


def test_a_database_error_leaves_the_message_to_retry_then_fails_it(inbox, monkeypatch):
    from inboxes import polling

    BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)
    raw = make_mail(subject="Flaky")
    row = ProcessedEmail.objects.create(inbox=inbox, imap_uidvalidity=1, imap_uid=9, raw=raw, raw_size=len(raw))
    context = intake.intake_context_load(inbox=inbox)

    def process():  # type: ignore[no-untyped-def]
        return intake.processed_email_process_one(processed_email_id=row.pk, raw=raw, context=context)

    def flaky(**kwargs):  # type: ignore[no-untyped-def]
        raise OperationalError("could not serialize access")

    monkeypatch.setattr(intake, "ticket_create", flaky)
    for attempt in range(1, polling.MAX_ATTEMPTS):
        assert (
            polling.process_safely(row_id=row.pk, inbox_id=inbox.pk, process=process) == ProcessedEmailStatus.RECEIVED
        )
        row.refresh_from_db()
        assert (row.status, row.attempts) == (ProcessedEmailStatus.RECEIVED, attempt)
    assert polling.process_safely(row_id=row.pk, inbox_id=inbox.pk, process=process) == ProcessedEmailStatus.FAILED
    row.refresh_from_db()
    assert "OperationalError" in row.reason
    assert not Ticket.objects.exists()
