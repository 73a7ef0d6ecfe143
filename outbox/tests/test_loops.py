"""Which automatic mail may go to a sender (ING-7, THR-6): the rule, and the facts it counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from boards.tests.factories import BoardFactory
from inboxes.tests.factories import InboxFactory
from outbox.loops import automatic_mail_counts, automatic_reply_block_reason, block_reason
from outbox.models import OutgoingMailKind, OutgoingMailStatus
from outbox.services import outgoing_mail_create
from tickets.models import TicketSource
from tickets.tests.factories import TicketFactory


def _reason(to_email: str, counts: dict[str, int] | None = None, **facts: object) -> str | None:
    arguments: dict[str, object] = {"auto_generated_reason": None, "own_address": False}
    arguments.update(facts)
    return block_reason(to_email=to_email, automatic_mail_counts=counts or {}, **arguments)  # type: ignore[arg-type]


def test_a_person_is_answered_until_their_mailbox_reaches_the_limit(settings):
    settings.RATE_LIMIT_REPORTER_PER_HOUR = 3
    assert _reason("rita@example.org") is None
    assert _reason("rita@example.org", {"rita@example.org": 2}) is None
    # Counted on the normalised mailbox, however the address is written this time.
    reason = _reason('"Rita+Work"@EXAMPLE.org', {"rita@example.org": 3})
    assert reason == (
        "This address already got 3 automatic answers within the last hour (at most 3 go to one mailbox), "
        "so it gets no further answer for now."
    )
    assert _reason("bob@example.org", {"rita@example.org": 3}) is None


def test_one_answer_is_counted_in_the_singular(settings):
    settings.RATE_LIMIT_REPORTER_PER_HOUR = 1
    assert _reason("rita@example.org", {"rita@example.org": 1}).startswith(
        "This address already got 1 automatic answer within the last hour"
    )


@pytest.mark.parametrize(
    "address", ["rita@[192.0.2.1]", "rita@[ipv6:2001:db8::1]", "rita@192.0.2.1", "rita@0x7f000001"]
)
def test_a_mailbox_named_by_an_ip_address_never_gets_automatic_mail(address):
    assert "IP address" in _reason(address)


@pytest.mark.parametrize("address", ["", "not an address", "rita@"])
def test_what_is_no_mailbox_gets_no_automatic_mail(address):
    assert "no mailbox" in _reason(address)


def test_automatic_mail_and_our_own_addresses_come_first():
    assert "sent automatically (auto-replied)" in _reason("rita@example.org", auto_generated_reason="auto-replied")
    assert "own addresses" in _reason("rita@example.org", own_address=True)


@pytest.mark.django_db
def test_the_limit_counts_automatic_mail_of_the_last_hour_to_one_mailbox_through_every_inbox(manager, other_manager):
    mine, theirs = InboxFactory(manager=manager), InboxFactory(manager=other_manager)

    def mail(to_email, *, kind=OutgoingMailKind.TICKET_CREATED, source=TicketSource.EMAIL, inbox=mine, **fields):  # type: ignore[no-untyped-def]
        ticket = TicketFactory(board=BoardFactory(manager=inbox.manager), source=source, creator_email=to_email)
        created = outgoing_mail_create(
            kind=kind, to_email=to_email, subject="s", body="b", manager=inbox.manager, inbox=inbox, ticket=ticket
        )
        if fields:
            type(created).objects.filter(pk=created.pk).update(**fields)

    mail("rita@example.org")
    mail("Rita+second@Example.org", inbox=theirs)  # another manager's inbox: the same person
    mail('"rita"@example.org', kind=OutgoingMailKind.SUSPENSION_REPLY)
    mail("rita@example.org", status=OutgoingMailStatus.SENT)
    # Not counted: older than an hour, never sent, not automatic, not an answer to mail.
    mail("rita@example.org", created_at=timezone.now() - timedelta(minutes=61))
    mail("rita@example.org", status=OutgoingMailStatus.SUPPRESSED)
    mail("rita@example.org", status=OutgoingMailStatus.FAILED)
    mail("rita@example.org", kind=OutgoingMailKind.REPLY)
    mail("rita@example.org", source=TicketSource.WEB)
    mail("bob@example.org")

    counts = automatic_mail_counts(addresses=["RITA@example.org", "bob@example.org", "rita@[192.0.2.1]", "x@y.org"])

    assert counts == {"rita@example.org": 4, "bob@example.org": 1}


@pytest.mark.django_db
def test_one_decision_outside_intake_reads_the_same_facts(settings, manager, django_assert_num_queries):
    settings.RATE_LIMIT_REPORTER_PER_HOUR = 1
    inbox = InboxFactory(manager=manager, from_address="help@tracker.example")
    ticket = TicketFactory(board=BoardFactory(manager=manager), source=TicketSource.EMAIL)
    outgoing_mail_create(
        kind=OutgoingMailKind.TICKET_CREATED,
        to_email="rita@example.org",
        subject="s",
        body="b",
        manager=manager,
        inbox=inbox,
        ticket=ticket,
    )

    with django_assert_num_queries(2):
        assert "already got 1 automatic answer" in automatic_reply_block_reason(
            to_email="Rita+x@example.org", auto_generated_reason=None
        )
    assert automatic_reply_block_reason(to_email="bob@example.org", auto_generated_reason=None) is None
    assert "own addresses" in automatic_reply_block_reason(to_email="HELP@tracker.example", auto_generated_reason=None)
    with django_assert_num_queries(0):
        assert "sent automatically" in automatic_reply_block_reason(
            to_email="bob@example.org", auto_generated_reason="auto-replied"
        )
