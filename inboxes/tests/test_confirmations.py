"""Confirmations of tickets opened by mail (THR-6, ING-7) and the language they are in (THR-9)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from boards.tests.factories import BoardFactory
from inboxes.batch_facts import BatchFacts, stored_message_parse
from inboxes.intake import intake_context_load, processed_email_process
from inboxes.models import ProcessedEmail, ProcessedEmailStatus, inbox_reporter_language
from inboxes.polling import inbox_poll
from outbox.models import OutgoingMail, OutgoingMailKind, OutgoingMailStatus
from tickets.emails import secret_link
from tickets.models import Ticket

from .factories import InboxFactory
from .mails import eml, make_mail, take_in

pytestmark = pytest.mark.django_db

PENDING, HELD = OutgoingMailStatus.PENDING, OutgoingMailStatus.SUPPRESSED


def confirmation_status(title: str) -> str:
    return OutgoingMail.objects.get(ticket__title=title, kind=OutgoingMailKind.TICKET_CREATED).status


def store(inbox, raws):  # type: ignore[no-untyped-def]
    """Rows as a poll stores them, parsed, not yet processed."""
    messages = []
    for uid, raw in enumerate(raws, start=1):
        row = ProcessedEmail.objects.create(inbox=inbox, imap_uidvalidity=7, imap_uid=uid, raw=raw, raw_size=len(raw))
        messages.append(stored_message_parse(row_id=row.pk, raw=raw, received_at=row.received_at))
    return messages


# --------------------------------------------------------------------------- THR-6: the hourly limit


def test_every_spelling_of_one_mailbox_counts_against_one_limit(inbox, settings):
    settings.RATE_LIMIT_REPORTER_PER_HOUR = 2
    BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)
    take_in(inbox, make_mail(subject="One", sender="Rita <Rita@Example.org>"))
    take_in(inbox, make_mail(subject="Two", sender="rita+x@example.org"))
    third = take_in(inbox, make_mail(subject="Three", sender='"rita"@example.org'))
    take_in(inbox, make_mail(subject="Four", sender="bob@example.org"))

    assert [confirmation_status(title) for title in ("One", "Two", "Three", "Four")] == [
        PENDING,
        PENDING,
        HELD,
        PENDING,
    ]
    # The third report is still a ticket; only its mail is held back, and the manager reads why.
    assert third.status == ProcessedEmailStatus.TICKET
    expected = "This address already got 2 automatic answers within the last hour (at most 2 go to one mailbox)"
    assert expected in third.reason
    assert OutgoingMail.objects.get(ticket__title="Three").last_error == third.reason


def test_the_limit_protects_the_mailbox_across_every_inbox_of_the_site(inbox, other_manager, settings):
    settings.RATE_LIMIT_REPORTER_PER_HOUR = 1
    elsewhere = InboxFactory(manager=other_manager)
    BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)
    BoardFactory(manager=other_manager, exclusive_inbox=elsewhere)

    take_in(elsewhere, make_mail(subject="At the other desk", sender="rita+other@example.org"))
    take_in(inbox, make_mail(subject="At this desk"))

    assert confirmation_status("At the other desk") == PENDING
    assert confirmation_status("At this desk") == HELD


def test_mail_older_than_an_hour_no_longer_counts(inbox, settings):
    settings.RATE_LIMIT_REPORTER_PER_HOUR = 1
    BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)
    take_in(inbox, make_mail(subject="Yesterday"))
    OutgoingMail.objects.update(created_at=timezone.now() - timedelta(minutes=61))
    take_in(inbox, make_mail(subject="Today"))
    assert confirmation_status("Today") == PENDING


def test_a_batch_counts_the_answers_it_gives_as_it_goes(inbox, settings):
    settings.RATE_LIMIT_REPORTER_PER_HOUR = 2
    BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)
    subjects = ["One", "Two", "Three", "Four"]
    messages = store(inbox, [make_mail(subject=subject, sender=f"rita+{subject}@example.org") for subject in subjects])
    # Loaded once, before any of them is answered: only what the batch records can stop the third.
    facts = BatchFacts.load(inbox=inbox, messages=messages)
    context = intake_context_load(inbox=inbox)
    for message in messages:
        processed_email_process(message=message, context=context, facts=facts)

    assert [confirmation_status(subject) for subject in subjects] == [PENDING, PENDING, HELD, HELD]
    assert facts.automatic_mail_counts == {"rita@example.org": 2}


@pytest.mark.parametrize("size", [1, 30])
def test_the_facts_of_a_batch_cost_four_queries_whatever_its_size(inbox, size, django_assert_num_queries):
    messages = store(inbox, [make_mail(subject=f"S{n}", sender=f"person{n}@example.org") for n in range(size)])
    with django_assert_num_queries(4):
        BatchFacts.load(inbox=inbox, messages=messages)


@pytest.mark.parametrize("sender", ["Rita <rita@[192.0.2.1]>", "rita@[IPv6:2001:db8::1]", "rita@192.0.2.1"])
def test_a_sender_named_by_an_ip_address_gets_a_ticket_but_never_mail(inbox, sender):
    BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)
    row = take_in(inbox, make_mail(sender=sender))

    assert row.status == ProcessedEmailStatus.TICKET
    mail = OutgoingMail.objects.get(ticket=row.ticket)
    assert mail.status == HELD
    assert "IP address" in mail.last_error and "IP address" in row.reason


def test_a_suspended_manager_never_answers_a_sender_named_by_an_ip_address(inbox):
    inbox.manager.is_suspended, inbox.manager.suspension_message = True, "Closed."
    inbox.manager.save()
    row = take_in(inbox, make_mail(sender="rita@[192.0.2.1]"))
    assert row.status == ProcessedEmailStatus.IGNORED and "IP address" in row.reason
    assert not OutgoingMail.objects.exists()


# --------------------------------------------------------------------------- THR-9: language


@pytest.mark.parametrize(
    ("inbox_language", "owner_language", "site_language", "expected"),
    [
        ("pl", "", "en", "pl"),
        ("en", "pl", "en", "en"),  # the inbox's own setting wins over its owner's
        ("", "pl", "en", "pl"),
        ("", "", "pl", "pl"),
        ("xx", "yy", "en", "en"),  # codes the site no longer has count as unset
    ],
)
def test_the_language_of_mail_to_reporters(inbox, settings, inbox_language, owner_language, site_language, expected):
    settings.LANGUAGE_CODE = site_language
    inbox.language, inbox.manager.language = inbox_language, owner_language
    assert inbox_reporter_language(inbox=inbox, manager=inbox.manager) == expected


def test_without_its_inbox_mail_is_in_the_owners_language(manager):
    manager.language = "pl"
    assert inbox_reporter_language(inbox=None, manager=manager) == "pl"


@pytest.mark.parametrize(("inbox_language", "owner_language"), [("pl", "en"), ("", "pl")])
def test_a_polish_inbox_confirms_in_polish(inbox, compiled_messages, inbox_language, owner_language):
    inbox.language = inbox_language
    inbox.save()
    inbox.manager.language = owner_language
    inbox.manager.save()
    BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)

    row = take_in(inbox, make_mail(subject="Drukarka"))

    mail = OutgoingMail.objects.get(ticket=row.ticket)
    assert mail.subject.endswith("Otrzymaliśmy Twoje zgłoszenie: Drukarka")
    assert mail.body.startswith("Dzień dobry,")
    # Later mail about the ticket (EML-2) follows the language it was opened in.
    assert row.ticket.reporter_language == "pl"


def test_an_english_inbox_of_a_polish_owner_confirms_in_english(inbox, compiled_messages):
    inbox.language = "en"
    inbox.save()
    inbox.manager.language = "pl"
    inbox.manager.save()
    BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)
    row = take_in(inbox, make_mail(subject="Printer"))
    assert OutgoingMail.objects.get(ticket=row.ticket).body.startswith("Hello,")


def test_the_suspension_reply_is_in_the_inbox_language(inbox, compiled_messages):
    inbox.language = "pl"
    inbox.save()
    inbox.manager.is_suspended, inbox.manager.suspension_message = True, "Zamknięte."
    inbox.manager.save()

    take_in(inbox, make_mail(subject="Pomoc"))

    reply = OutgoingMail.objects.get(kind=OutgoingMailKind.SUSPENSION_REPLY)
    assert reply.body.startswith("Dzień dobry,")
    assert "Ten adres nie przyjmuje już zgłoszeń." in reply.body


# --------------------------------------------------------------------------- through the real servers


@pytest.mark.mailserver
def test_three_reports_within_an_hour_get_three_confirmations_through_smtp(
    live_inbox, deliver, smtp_server, django_capture_on_commit_callbacks
):
    BoardFactory(manager=live_inbox.manager, exclusive_inbox=live_inbox)
    for subject in ("Printer on fire", "Scanner jammed", "Projector dark"):
        deliver(make_mail(subject=subject))
    deliver(eml("auto_reply.eml"))  # an out-of-office answer: a ticket, never an answer back
    deliver(make_mail(subject="From a server", sender="rita@[192.0.2.1]"))

    with django_capture_on_commit_callbacks(execute=True):
        result = inbox_poll(inbox=live_inbox)

    assert result.outcomes == {"ticket": 5}, result.error
    sent = smtp_server.wait_for(3)
    assert len(sent) == 3  # all sending happens inside the poll's commit callbacks
    tickets = {ticket.source_message_id: ticket for ticket in Ticket.objects.filter(creator_email="rita@example.org")}
    assert len(tickets) == 3
    for received in sent:
        assert received.rcpt_tos == ("rita@example.org",)
        ticket = tickets.pop(received.message["In-Reply-To"])
        assert secret_link(ticket) in received.message.get_content()
    assert tickets == {}
    assert set(OutgoingMail.objects.values_list("status", flat=True)) == {OutgoingMailStatus.SENT, HELD}


@pytest.mark.mailserver
def test_the_limit_holds_within_one_poll_through_smtp(
    live_inbox, deliver, smtp_server, settings, django_capture_on_commit_callbacks
):
    settings.RATE_LIMIT_REPORTER_PER_HOUR = 2
    BoardFactory(manager=live_inbox.manager, exclusive_inbox=live_inbox)
    for subject, sender in [
        ("One", "Rita@Example.org"),
        ("Two", "rita+x@example.org"),
        ("Three", '"rita"@example.org'),
    ]:
        deliver(make_mail(subject=subject, sender=sender))

    with django_capture_on_commit_callbacks(execute=True):
        inbox_poll(inbox=live_inbox)

    sent = smtp_server.wait_for(2)
    assert sorted(received.rcpt_tos for received in sent) == [("rita+x@example.org",), ("rita@example.org",)]
    assert confirmation_status("Three") == HELD
    assert Ticket.objects.count() == 3
