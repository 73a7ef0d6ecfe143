"""THR-1 … THR-4, THR-7 on the pages: the composer, the secret page's messages, unread marks."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from attachments.tests.factories import attachment_rows
from outbox.models import OutgoingMail, OutgoingMailKind
from tickets.models import Entry, EntryKind, EntrySource, Ticket, TicketState
from tickets.services import ticket_add_reporter_message, ticket_post

from .factories import StateChangeFactory, TicketFactory

pytestmark = pytest.mark.django_db


def _post_url(ticket: Ticket) -> str:
    return reverse("tickets:post", args=[ticket.board_id, ticket.pk])


def _detail_url(ticket: Ticket) -> str:
    return reverse("tickets:detail", args=[ticket.board_id, ticket.pk])


def test_a_reply_is_mailed_with_the_secret_link_and_shown_on_both_pages(manager_client, board, client):
    ticket = TicketFactory(board=board)
    response = manager_client.post(_post_url(ticket), {"kind": "reply", "body": "We ordered a new roller."})
    assert response.status_code == 302
    entry = Entry.objects.get(ticket=ticket)
    assert (entry.kind, entry.body, entry.to_state, entry.author) == (
        EntryKind.REPLY,
        "We ordered a new roller.",
        "",
        board.manager,
    )
    mail = OutgoingMail.objects.get(kind=OutgoingMailKind.REPLY)
    assert mail.to_email == ticket.creator_email and mail.ticket == ticket
    assert "We ordered a new roller." in mail.body and f"/ticket/{ticket.uuid}" in mail.body
    assert mail.message_id == entry.message_id and entry.mail == mail
    ticket.refresh_from_db()
    assert ticket.state == TicketState.NEW
    assert "We ordered a new roller." in manager_client.get(_detail_url(ticket)).content.decode()
    assert "We ordered a new roller." in client.get(f"/ticket/{ticket.uuid}").content.decode()


def test_a_reply_with_a_move_is_one_entry_and_one_mail(manager_client, board):
    ticket = TicketFactory(board=board)
    manager_client.post(_post_url(ticket), {"kind": "reply", "body": "On it.", "to_state": "in_progress"})
    entry = Entry.objects.get(ticket=ticket)
    assert (entry.from_state, entry.to_state, entry.body) == ("new", "in_progress", "On it.")
    (mail,) = OutgoingMail.objects.filter(ticket=ticket)
    assert mail.kind == OutgoingMailKind.STATE_CHANGED and "On it." in mail.body
    ticket.refresh_from_db()
    board.refresh_from_db()
    assert ticket.state == TicketState.IN_PROGRESS and (board.count_new, board.count_in_progress) == (0, 1)


@pytest.mark.parametrize("state", [TicketState.CLOSED, TicketState.REJECTED])
def test_a_finished_ticket_takes_replies_but_no_move(manager_client, board, state):
    ticket = TicketFactory(board=board)
    StateChangeFactory(ticket=ticket, to_state=TicketState.IN_PROGRESS)
    StateChangeFactory(ticket=ticket, to_state=state)
    ticket.refresh_from_db()
    assert ticket.state == state
    page = manager_client.get(_detail_url(ticket)).content.decode()
    assert 'data-testid="composer"' in page
    assert (
        manager_client.post(_post_url(ticket), {"kind": "reply", "body": "Reopened? No, but thanks."}).status_code
        == 302
    )
    assert OutgoingMail.objects.filter(ticket=ticket, kind=OutgoingMailKind.REPLY).count() == 1
    refused = manager_client.post(_post_url(ticket), {"kind": "reply", "body": "x", "to_state": "in_progress"})
    assert refused.status_code == 400
    ticket.refresh_from_db()
    assert ticket.state == state


def test_a_note_is_never_mailed_and_a_note_with_a_move_mails_only_the_move(manager_client, board, client):
    ticket = TicketFactory(board=board)
    manager_client.post(_post_url(ticket), {"kind": "note", "body": "NOTE-ONE: call them back"})
    assert not OutgoingMail.objects.filter(ticket=ticket).exclude(kind=OutgoingMailKind.TICKET_CREATED).exists()
    manager_client.post(_post_url(ticket), {"kind": "note", "body": "NOTE-TWO: duplicate", "to_state": "rejected"})
    kinds = list(Entry.objects.filter(ticket=ticket).values_list("kind", "body", "to_state"))
    assert kinds == [
        (EntryKind.NOTE, "NOTE-ONE: call them back", ""),
        (EntryKind.REPLY, "", "rejected"),
        (EntryKind.NOTE, "NOTE-TWO: duplicate", ""),
    ]
    mails = OutgoingMail.objects.filter(ticket=ticket)
    assert mails.filter(kind=OutgoingMailKind.STATE_CHANGED).count() == 1
    assert all("NOTE-" not in mail.body and "NOTE-" not in mail.subject for mail in mails)
    manager_page = manager_client.get(_detail_url(ticket)).content.decode()
    assert "NOTE-ONE" in manager_page and 'data-kind="note"' in manager_page
    secret_page = client.get(f"/ticket/{ticket.uuid}").content.decode()
    assert "NOTE-" not in secret_page and 'data-kind="note"' not in secret_page


def test_an_empty_submit_gets_an_inline_error_and_keeps_nothing(manager_client, board):
    ticket = TicketFactory(board=board)
    response = manager_client.post(_post_url(ticket), {"kind": "reply", "body": "   "})
    assert response.status_code == 400
    assert "Write a message or choose a new state." in response.content.decode()
    assert not Entry.objects.exists()


def test_a_reply_too_long_keeps_the_text(manager_client, board):
    ticket = TicketFactory(board=board)
    text = "x" * 10_001
    response = manager_client.post(_post_url(ticket), {"kind": "reply", "body": text})
    assert response.status_code == 400 and text in response.content.decode()
    assert not Entry.objects.exists()


def test_the_reply_mail_is_in_the_reporters_language(board):
    ticket = TicketFactory(board=board, reporter_language="pl")
    ticket_post(ticket=ticket, actor=board.manager, body="Dziękujemy", to_state="in_progress")
    mail = OutgoingMail.objects.get(kind=OutgoingMailKind.STATE_CHANGED)
    assert "Śledź zgłoszenie" in mail.body


# --- The reporter writes on the secret page (THR-4) -------------------------------------------


def test_the_reporter_writes_on_the_secret_page_and_the_manager_sees_it_unread(client, manager_client, board):
    ticket = TicketFactory(board=board)
    response = client.post(f"/ticket/{ticket.uuid}", {"body": "Any news?\r\nIt still jams."})
    assert response.status_code == 302 and response["Location"].endswith("#thread-end")
    entry = Entry.objects.get(ticket=ticket)
    assert (entry.kind, entry.source, entry.sender_email, entry.body) == (
        EntryKind.MESSAGE,
        EntrySource.WEB,
        ticket.creator_email,
        "Any news?\nIt still jams.",
    )
    # THR-7: marked on the kanban card, the list row and the dashboard until a manager opens it.
    for url in (
        reverse("boards:detail", args=[board.pk]),
        reverse("tickets:list", args=[board.pk]),
        reverse("dashboard"),
    ):
        assert 'data-testid="unread"' in manager_client.get(url).content.decode(), url
    manager_client.get(_detail_url(ticket))
    ticket.refresh_from_db()
    assert not ticket.has_unread
    assert 'data-testid="unread"' not in manager_client.get(reverse("dashboard")).content.decode()
    # No mail goes back to the reporter for their own message.
    assert not OutgoingMail.objects.filter(ticket=ticket).exclude(kind=OutgoingMailKind.TICKET_CREATED).exists()


def test_the_secret_page_form_needs_its_csrf_token(board):
    ticket = TicketFactory(board=board)
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(f"/ticket/{ticket.uuid}", {"body": "hi"}).status_code == 403
    assert not Entry.objects.exists()


def test_messages_on_one_ticket_are_limited_per_hour(client, board, settings):
    settings.RATE_LIMIT_TICKET_MESSAGES_PER_HOUR = 2
    ticket = TicketFactory(board=board)
    other = TicketFactory(board=board)
    for n in range(2):
        assert client.post(f"/ticket/{ticket.uuid}", {"body": f"message {n}"}).status_code == 302
    refused = client.post(f"/ticket/{ticket.uuid}", {"body": "one too many"})
    assert refused.status_code == 429 and "one too many" in refused.content.decode()
    assert Entry.objects.filter(ticket=ticket).count() == 2
    # Another ticket has its own allowance.
    assert client.post(f"/ticket/{other.uuid}", {"body": "hello"}).status_code == 302


def test_an_empty_message_gets_an_inline_error(client, board):
    ticket = TicketFactory(board=board)
    response = client.post(f"/ticket/{ticket.uuid}", {"body": ""})
    page = response.content.decode()
    assert (
        response.status_code == 400 and 'class="form-control is-invalid"' in page and "This field is required." in page
    )
    assert not Entry.objects.exists()


# --- Speed: the thread's queries do not grow with it ------------------------------------------

# 6, plus 1 for the files of the report and of the entries shown (attachments.selectors.thread_files).
THREAD_PAGE_QUERIES = 7


def _fill_thread(ticket: Ticket, count: int, *, files_per_entry: int = 0) -> None:
    now = timezone.now()
    kinds = [EntryKind.MESSAGE, EntryKind.REPLY, EntryKind.NOTE]
    entries = Entry.objects.bulk_create(
        Entry(
            ticket=ticket,
            kind=kinds[n % 3],
            body=f"entry {n}\n\nOn Mon, x wrote:\n> quoted",
            sender_email=ticket.creator_email if n % 3 == 0 else "",
            author=ticket.board.manager if n % 3 else None,
            created_at=now,
        )
        for n in range(count)
    )
    if files_per_entry:
        attachment_rows(ticket=ticket, entries=[None, *entries], per_entry=files_per_entry)


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_ticket_pages_run_the_same_queries_with_10_and_200_entries(manager_client, board, client):
    ticket = TicketFactory(board=board)
    ticket_post(ticket=ticket, actor=board.manager, body="Mailed reply")  # an entry with its mail
    ticket_add_reporter_message(ticket=ticket, body="hi", sender_email=ticket.creator_email, source=EntrySource.WEB)
    manager_client.get(_detail_url(ticket))  # clears the unread mark, renews the session
    _fill_thread(ticket, 8, files_per_entry=1)
    at_10 = (_queries(manager_client, _detail_url(ticket)), _queries(client, f"/ticket/{ticket.uuid}"))
    _fill_thread(ticket, 190, files_per_entry=3)
    at_200 = (_queries(manager_client, _detail_url(ticket)), _queries(client, f"/ticket/{ticket.uuid}"))
    assert at_10 == at_200
    assert at_200[0] <= THREAD_PAGE_QUERIES, at_200


def test_a_long_thread_opens_on_its_newest_entries_and_shows_all_on_request(manager_client, board, client):
    ticket = TicketFactory(board=board)
    _fill_thread(ticket, 3)
    Entry.objects.filter(ticket=ticket).update(created_at=timezone.now() - timezone.timedelta(days=1))
    Entry.objects.filter(ticket=ticket).update(body="OLDEST ENTRY")
    _fill_thread(ticket, 50)
    page = manager_client.get(_detail_url(ticket)).content.decode()
    assert "OLDEST ENTRY" not in page and "Show 3 earlier entries" in page
    assert page.count('class="thread-entry card') == 1 + 50  # the report and the newest 50
    everything = manager_client.get(_detail_url(ticket) + "?thread=all").content.decode()
    assert everything.count("OLDEST ENTRY") == 3 and "earlier entr" not in everything
    # On the secret page the notes are left out before counting, so none is ever counted or shown.
    public = client.get(f"/ticket/{ticket.uuid}?thread=all").content.decode()
    assert public.count('class="thread-entry card') == 1 + sum(1 for n in range(53) if n % 3 != 2)


def test_a_suspended_account_takes_no_messages_but_its_page_stays_readable(client, board):
    ticket = TicketFactory(board=board)
    board.manager.is_suspended = True
    board.manager.suspension_message = "We closed for good."
    board.manager.save()
    page = client.get(f"/ticket/{ticket.uuid}")
    assert page.status_code == 200 and "We closed for good." in page.content.decode()
    assert 'data-testid="public-message-form"' not in page.content.decode()
    assert client.post(f"/ticket/{ticket.uuid}", {"body": "hello?"}).status_code == 403
    assert not Entry.objects.exists()


def test_a_reporter_message_notifies_the_manager_with_their_link_never_the_secret_one(client, board):
    ticket = TicketFactory(board=board)
    client.post(f"/ticket/{ticket.uuid}", {"body": "Still broken.\n\nOn Mon, x wrote:\n> old"})
    notice = OutgoingMail.objects.get(kind=OutgoingMailKind.NOTIFICATION, to_email=board.manager.email)
    assert "Still broken." in notice.body and _detail_url(ticket) in notice.body
    assert str(ticket.uuid) not in notice.body and ticket.uuid.hex[:8] not in notice.subject + notice.body
