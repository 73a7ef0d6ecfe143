"""TKT-7: a reporter's answer to our mail joins the existing ticket instead of opening a new one."""

from __future__ import annotations

import pytest
from django.urls import reverse

from boards.tests.factories import BoardFactory
from inboxes.models import ProcessedEmailStatus
from inboxes.replies import conversation_subject, subject_reference
from outbox.models import OutgoingMail, OutgoingMailKind
from tickets.models import Entry, EntryKind, Ticket

from .mails import make_mail, take_in


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: [#1a2b3c4d] We received your report: Printer", "1a2b3c4d"),
        ("AW: [#1A2B3C4D] Drucker", "1a2b3c4d"),
        ("Printer [#12345] short", None),
        ("No reference", None),
    ],
)
def test_subject_reference(subject, expected):
    assert subject_reference(subject) == expected


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: Printer on fire", "printer on fire"),
        ("RE: Fwd:  Printer   on fire", "printer on fire"),
        ("Odp: AW: Re[2]: Printer on fire", "printer on fire"),
        ("Printer on fire", "printer on fire"),
        ("Re:", ""),
    ],
)
def test_conversation_subject(subject, expected):
    assert conversation_subject(subject) == expected


def _first_ticket(inbox):  # type: ignore[no-untyped-def]
    BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)
    take_in(inbox, make_mail(subject="Printer on fire", message_id="<orig@example.org>"))
    ticket = Ticket.objects.get()
    confirmation = OutgoingMail.objects.get(ticket=ticket, kind=OutgoingMailKind.TICKET_CREATED)
    return ticket, confirmation


@pytest.mark.django_db
def test_reply_to_our_confirmation_joins_the_ticket(inbox):
    ticket, confirmation = _first_ticket(inbox)
    reply = make_mail(
        subject=f"Re: {confirmation.subject}",
        body="It is smoking now.\n\nOn Mon, Tracker wrote:\n> We received your report",
        headers={"In-Reply-To": confirmation.message_id, "References": f"<orig@example.org> {confirmation.message_id}"},
    )
    row = take_in(inbox, reply)
    assert row.status == ProcessedEmailStatus.REPLY and row.ticket == ticket
    assert Ticket.objects.count() == 1
    message = Entry.objects.filter(kind=EntryKind.MESSAGE).get()
    assert (message.ticket, message.folded.own, message.sender_email) == (
        ticket,
        "It is smoking now.",
        "rita@example.org",
    )
    # The quoted history is kept, folded away on the page (THR-4).
    assert "> We received your report" in message.body and "We received your report" in message.folded.quoted
    # No mail goes back for a reply: nothing to confirm, and no loop to start.
    assert OutgoingMail.objects.filter(to_email="rita@example.org").count() == 1


@pytest.mark.django_db
def test_reply_found_by_subject_reference_from_the_reporter(inbox):
    ticket, _confirmation = _first_ticket(inbox)
    reply = make_mail(subject=f"Re: [#{str(ticket.uuid)[:8]}] my printer", body="Any news?")
    row = take_in(inbox, reply)
    assert row.status == ProcessedEmailStatus.REPLY
    assert Entry.objects.filter(kind=EntryKind.MESSAGE).get().ticket == ticket


@pytest.mark.django_db
def test_subject_reference_from_someone_else_opens_a_new_ticket(inbox):
    ticket, _confirmation = _first_ticket(inbox)
    stranger = make_mail(subject=f"Re: [#{str(ticket.uuid)[:8]}] hijack", sender="Eve <eve@example.org>")
    row = take_in(inbox, stranger)
    assert row.status == ProcessedEmailStatus.TICKET
    assert not Entry.objects.filter(kind=EntryKind.MESSAGE).exists() and Ticket.objects.count() == 2


@pytest.mark.django_db
def test_out_of_office_answer_to_a_notification_is_ignored(inbox):
    _ticket, confirmation = _first_ticket(inbox)
    auto = make_mail(
        subject="Automatic reply: out of office",
        headers={"In-Reply-To": confirmation.message_id, "Auto-Submitted": "auto-replied"},
    )
    row = take_in(inbox, auto)
    assert row.status == ProcessedEmailStatus.IGNORED
    assert Ticket.objects.count() == 1 and not Entry.objects.filter(kind=EntryKind.MESSAGE).exists()


@pytest.mark.django_db
def test_reply_to_another_managers_mail_is_not_attached(inbox, other_manager):
    from .factories import InboxFactory

    _ticket, confirmation = _first_ticket(inbox)
    their_inbox = InboxFactory(manager=other_manager)
    BoardFactory(manager=other_manager, exclusive_inbox=their_inbox)
    row = take_in(their_inbox, make_mail(subject="Re: x", headers={"In-Reply-To": confirmation.message_id}))
    assert row.status == ProcessedEmailStatus.TICKET
    assert not Entry.objects.filter(kind=EntryKind.MESSAGE).exists()


@pytest.mark.django_db
def test_replies_are_shown_to_the_manager_and_on_the_secret_page(inbox, client):
    ticket, confirmation = _first_ticket(inbox)
    take_in(
        inbox, make_mail(subject="Re: x", body="<b>Bold</b> claim", headers={"In-Reply-To": confirmation.message_id})
    )
    client.force_login(inbox.manager)
    detail = client.get(reverse("tickets:detail", args=[ticket.board_id, ticket.pk])).content.decode()
    public = client.get(reverse("public_ticket", args=[ticket.uuid])).content.decode()
    for page in (detail, public):
        assert "&lt;b&gt;Bold&lt;/b&gt; claim" in page and "<b>Bold</b>" not in page
