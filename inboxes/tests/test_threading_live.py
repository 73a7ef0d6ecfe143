"""THR-2, THR-4, THR-5, THR-3 through the real Dovecot and SMTP servers: a ticket is one conversation."""

from __future__ import annotations

from email.utils import make_msgid

import pytest
from django.urls import reverse

from boards.tests.factories import BoardFactory
from inboxes.models import ProcessedEmail, ProcessedEmailStatus
from inboxes.polling import inbox_poll
from standby.models import StandbyFollowUp, StandbyItem, StandbyReason
from standby.services import standby_item_assign
from tickets.models import Entry, EntryKind, Ticket
from tickets.services import ticket_post

from .mails import make_mail, take_in

pytestmark = [pytest.mark.mailserver, pytest.mark.django_db]


def _poll(inbox, capture):  # type: ignore[no-untyped-def]
    with capture(execute=True):
        result = inbox_poll(inbox=inbox)
    assert result.claimed and not result.error, result.error


def _answer(mail, *, body: str, sender: str = "Rita Reporter <rita@example.org>") -> bytes:  # type: ignore[no-untyped-def]
    """What a mail client sends when the reporter answers ``mail``: threaded under it."""
    references = f"{mail.message['References'] or ''} {mail.message['Message-ID']}".strip()
    return make_mail(
        subject=f"Re: {mail.message['Subject']}",
        sender=sender,
        body=f"{body}\n\nOn Mon, Support wrote:\n> {mail.message.get_content().splitlines()[0]}",
        headers={"In-Reply-To": mail.message["Message-ID"], "References": references},
    )


def test_a_manager_reply_arrives_threaded_and_the_answer_joins_the_ticket(
    live_inbox, deliver, smtp_server, django_capture_on_commit_callbacks
):
    manager = live_inbox.manager
    BoardFactory(manager=manager, exclusive_inbox=live_inbox)
    report_id = make_msgid(domain="example.org")
    deliver(make_mail(subject="Printer on fire", message_id=report_id))
    _poll(live_inbox, django_capture_on_commit_callbacks)
    ticket = Ticket.objects.get()
    (confirmation,) = smtp_server.wait_for(1)

    with django_capture_on_commit_callbacks(execute=True):
        (reply_entry,) = ticket_post(ticket=ticket, actor=manager, body="Unplug it, we are coming.")
    reply = smtp_server.wait_for(2)[1]
    message_ids = [report_id, confirmation.message["Message-ID"]]
    assert reply.message["Message-ID"] == reply_entry.message_id
    assert reply.message["In-Reply-To"] == confirmation.message["Message-ID"]
    assert reply.message["References"].split() == message_ids
    assert reply.message["To"] == "rita@example.org" and reply.message["From"] == live_inbox.from_address
    body = reply.message.get_content()
    assert "Unplug it, we are coming." in body and f"/ticket/{ticket.uuid}" in body

    # The reporter answers our reply: it joins the ticket, unread, with the quote folded away.
    deliver(_answer(reply, body="Unplugged. Smoke is gone."))
    _poll(live_inbox, django_capture_on_commit_callbacks)
    assert Ticket.objects.count() == 1
    answer = Entry.objects.get(ticket=ticket, kind=EntryKind.MESSAGE)
    assert answer.folded.own == "Unplugged. Smoke is gone."
    ticket.refresh_from_db()
    assert ticket.has_unread

    # The next reply continues the whole thread, ending with the reporter's answer.
    with django_capture_on_commit_callbacks(execute=True):
        ticket_post(ticket=ticket, actor=manager, body="Good.", to_state="in_progress")
    second = smtp_server.wait_for(3)[2]
    assert second.message["In-Reply-To"] == answer.message_id
    assert second.message["References"].split() == [*message_ids, reply_entry.message_id, answer.message_id]


def test_an_answer_to_the_reporters_own_first_mail_joins_the_ticket(
    live_inbox, deliver, smtp_server, django_capture_on_commit_callbacks
):
    BoardFactory(manager=live_inbox.manager, exclusive_inbox=live_inbox)
    report_id = make_msgid(domain="example.org")
    deliver(make_mail(subject="Printer on fire", message_id=report_id))
    _poll(live_inbox, django_capture_on_commit_callbacks)
    ticket = Ticket.objects.get()
    # A follow-up written as an answer to their own report, with a new subject.
    deliver(
        make_mail(
            subject="More about the printer",
            body="It also beeps.",
            headers={"In-Reply-To": report_id, "References": report_id},
        )
    )
    _poll(live_inbox, django_capture_on_commit_callbacks)
    assert Ticket.objects.count() == 1
    assert Entry.objects.get(kind=EntryKind.MESSAGE).ticket == ticket
    # Nothing goes back for a follow-up: only the first mail's confirmation was sent.
    assert len(smtp_server.wait_for(1)) == 1


def test_same_subject_different_body_is_a_follow_up_and_the_same_message_id_is_one_entry(
    live_inbox, deliver, django_capture_on_commit_callbacks
):
    BoardFactory(manager=live_inbox.manager, exclusive_inbox=live_inbox)
    deliver(make_mail(subject="VPN down", body="Cannot connect since 9:00."))
    _poll(live_inbox, django_capture_on_commit_callbacks)
    again = make_mail(subject="VPN down", body="Now the whole office is affected.", message_id="<again@example.org>")
    deliver(again)
    deliver(again)  # the same message twice (a client's retry, a second copy)
    _poll(live_inbox, django_capture_on_commit_callbacks)
    ticket = Ticket.objects.get()
    (entry,) = Entry.objects.filter(ticket=ticket)
    assert entry.body == "Now the whole office is affected."
    statuses = sorted(ProcessedEmail.objects.values_list("status", flat=True))
    assert statuses == sorted([ProcessedEmailStatus.TICKET, ProcessedEmailStatus.REPLY, ProcessedEmailStatus.DUPLICATE])


def test_an_internal_note_is_in_no_mail_and_not_on_the_secret_page(
    live_inbox, deliver, smtp_server, django_capture_on_commit_callbacks, client
):
    manager = live_inbox.manager
    BoardFactory(manager=manager, exclusive_inbox=live_inbox)
    deliver(make_mail(subject="Printer on fire"))
    _poll(live_inbox, django_capture_on_commit_callbacks)
    ticket = Ticket.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        ticket_post(ticket=ticket, actor=manager, body="SECRET-NOTE: the reporter broke it", internal=True)
        ticket_post(ticket=ticket, actor=manager, body="Public answer", to_state="in_progress")
        ticket_post(ticket=ticket, actor=manager, body="SECRET-NOTE-2 with a move", to_state="closed", internal=True)
    mails = smtp_server.wait_for(3)
    assert len(mails) == 3  # confirmation, reply with move, the move that came with the second note
    assert all(b"SECRET-NOTE" not in mail.raw for mail in mails)
    page = client.get(f"/ticket/{ticket.uuid}").content.decode()
    assert "Public answer" in page and "SECRET-NOTE" not in page
    ticket.refresh_from_db()
    assert ticket.state == "closed"


def test_a_follow_up_of_a_queued_item_joins_it_and_moves_with_it(
    live_inbox, deliver, smtp_server, django_capture_on_commit_callbacks
):
    manager = live_inbox.manager
    board = BoardFactory(manager=manager, keywords=["printer"])  # the mail below matches no keyword
    first_id = make_msgid(domain="example.org")
    deliver(make_mail(subject="Coffee machine broken", message_id=first_id))
    _poll(live_inbox, django_capture_on_commit_callbacks)
    item = StandbyItem.objects.get()
    deliver(make_mail(subject="Re: Coffee machine broken", body="It leaks too.", headers={"In-Reply-To": first_id}))
    deliver(make_mail(subject="Coffee machine broken", body="And it smells."))  # same subject, no headers
    _poll(live_inbox, django_capture_on_commit_callbacks)
    assert StandbyItem.objects.count() == 1
    assert [f.body for f in item.follow_ups.order_by("created_at", "id")] == ["It leaks too.", "And it smells."]

    with django_capture_on_commit_callbacks(execute=True):
        ticket = standby_item_assign(standby_item=item, board=board)
    messages = list(Entry.objects.filter(ticket=ticket).order_by("created_at", "id"))
    assert [(m.kind, m.body) for m in messages] == [
        (EntryKind.MESSAGE, "It leaks too."),
        (EntryKind.MESSAGE, "And it smells."),
    ]
    assert set(ProcessedEmail.objects.values_list("ticket_id", flat=True)) == {ticket.pk}
    # A later answer, to the first mail, now joins the ticket.
    deliver(make_mail(subject="Re: Coffee machine broken", body="Fixed itself.", headers={"References": first_id}))
    _poll(live_inbox, django_capture_on_commit_callbacks)
    assert Entry.objects.filter(ticket=ticket).count() == 3 and Ticket.objects.count() == 1
    # One confirmation, for the assignment; follow-ups are never confirmed.
    assert len(smtp_server.wait_for(1)) == 1


def test_an_ignored_duplicate_stays_viewable_and_downloadable(manager_client, inbox):
    BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)
    raw = make_mail(subject="Twice", message_id="<twice@example.org>")
    take_in(inbox, raw)
    duplicate = take_in(inbox, raw)
    assert duplicate.status == ProcessedEmailStatus.DUPLICATE
    page = manager_client.get(reverse("inboxes:detail", args=[inbox.pk])).content.decode()
    raw_url = reverse("inboxes:raw", args=[inbox.pk, duplicate.pk])
    assert 'data-testid="ignored-emails"' in page and raw_url in page
    download = manager_client.get(raw_url)
    assert download.content == raw
    assert download["X-Content-Type-Options"] == "nosniff" and download["Content-Security-Policy"] == "sandbox"


def test_our_own_automatic_mail_delivered_back_opens_nothing(inbox, settings):
    """A manager notification (or any mail of ours) landing in a polled inbox would otherwise
    open a ticket, which notifies again: a loop."""
    BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)
    row = take_in(
        inbox,
        make_mail(
            subject="New ticket on Printers: Paper jam",
            sender=settings.DEFAULT_FROM_EMAIL,
            headers={"Auto-Submitted": "auto-generated"},
        ),
    )
    assert row.status == ProcessedEmailStatus.IGNORED and "own address" in row.reason
    assert not Ticket.objects.exists()
    # A person writing from that address (no Auto-Submitted) is still a report.
    assert take_in(inbox, make_mail(sender=settings.DEFAULT_FROM_EMAIL)).status == ProcessedEmailStatus.TICKET


def test_a_reply_to_a_report_whose_forwarding_failed_is_a_report_of_its_own(inbox):
    """Its item will leave the queue when a retry succeeds (EXT-3): a follow-up parked there would be lost."""
    board = BoardFactory(manager=inbox.manager, exclusive_inbox=inbox)
    StandbyItem.objects.create(
        manager=inbox.manager,
        receiving_inbox=inbox,
        subject="Printer on fire",
        sender_email="rita@example.org",
        message_id="<failed@example.org>",
        reason=StandbyReason.EXTERNAL_CREATION_FAILED,
    )
    row = take_in(inbox, make_mail(subject="Re: Printer on fire", headers={"In-Reply-To": "<failed@example.org>"}))
    assert row.status == ProcessedEmailStatus.TICKET and row.ticket.board == board
    assert not StandbyFollowUp.objects.exists()
