"""Files on the thread (ATT-2 … ATT-5): uploaded on all three forms, listed, downloaded by the
right people only, mailed with replies, never leaked from notes, served so they cannot run script."""

from __future__ import annotations

import hashlib
import re
from email import message_from_bytes, policy
from typing import Any

import pytest
from django.core import mail
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from attachments.models import Attachment, StoredFile
from attachments.tests.factories import PNG, attach, upload
from inboxes.tests.factories import InboxFactory
from tickets.models import Entry, EntryKind, Ticket, TicketState
from tickets.services import ticket_post

from .factories import TicketFactory

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
# Bytes a text part would rewrite (bare LF, CR, trailing spaces): they must arrive unchanged.
CSV = "name;city\r\nZoë;Łódź \nBob;Kraków\r".encode()


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _downloaded(response: Any) -> bytes:
    assert response.status_code == 200, response.status_code
    assert response.streaming, "a download is streamed, never read whole"
    return b"".join(response.streaming_content)


def _manager_url(attachment: Attachment) -> str:
    ticket = attachment.ticket
    return reverse("tickets:file", args=[ticket.board_id, ticket.pk, attachment.pk])


def _secret_url(attachment: Attachment) -> str:
    return reverse("public_ticket_file", args=[attachment.ticket.uuid, attachment.pk])


def _detail_url(ticket: Ticket) -> str:
    return reverse("tickets:detail", args=[ticket.board_id, ticket.pk])


def _post_url(ticket: Ticket) -> str:
    return reverse("tickets:post", args=[ticket.board_id, ticket.pk])


def _report(**fields: object) -> dict[str, object]:
    return {"email": "reporter@example.org", "title": "Printer jammed", "description": "Error 42.", **fields}


# --- Uploads on the three forms: the same bytes come back --------------------------------------


def test_public_form_files_are_on_the_report_and_download_byte_for_byte(client, board, manager):
    files = [upload("screen.png", PNG), upload("manual.pdf", PDF, "application/pdf")]
    response = client.post(f"/board/{board.unique_name}", _report(files=files))
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    attachments = list(Attachment.objects.filter(ticket=ticket, entry=None).order_by("name"))
    assert [(a.name, a.size) for a in attachments] == [("manual.pdf", len(PDF)), ("screen.png", len(PNG))]

    page = client.get(f"/ticket/{ticket.uuid}").content.decode()
    assert "screen.png" in page and "manual.pdf" in page
    for attachment, content in zip(attachments, (PDF, PNG), strict=True):
        assert _secret_url(attachment) in page
        assert _sha(_downloaded(client.get(_secret_url(attachment)))) == _sha(content)
    client.force_login(manager)
    page = client.get(_detail_url(ticket)).content.decode()
    for attachment, content in zip(attachments, (PDF, PNG), strict=True):
        assert _manager_url(attachment) in page
        assert _sha(_downloaded(client.get(_manager_url(attachment)))) == _sha(content)


def test_secret_page_message_takes_files(client, board, manager):
    ticket = TicketFactory(board=board)
    response = client.post(f"/ticket/{ticket.uuid}", {"body": "Here is the log.", "files": [upload("log.csv", CSV)]})
    assert response.status_code == 302
    [attachment] = Attachment.objects.filter(entry__kind=EntryKind.MESSAGE)
    assert attachment.ticket == ticket and attachment.entry.body == "Here is the log."
    assert _downloaded(client.get(_secret_url(attachment))) == CSV
    client.force_login(manager)
    assert "log.csv" in client.get(_detail_url(ticket)).content.decode()
    assert _downloaded(client.get(_manager_url(attachment))) == CSV


def test_a_managers_reply_takes_files_and_the_reporter_sees_them(manager_client, board):
    ticket = TicketFactory(board=board)
    response = manager_client.post(
        _post_url(ticket), {"kind": "reply", "body": "Try this driver.", "files": [upload("driver.pdf", PDF)]}
    )
    assert response.status_code == 302
    [attachment] = Attachment.objects.filter(entry__kind=EntryKind.REPLY)
    assert _downloaded(manager_client.get(_manager_url(attachment))) == PDF
    stranger = Client()
    assert "driver.pdf" in stranger.get(f"/ticket/{ticket.uuid}").content.decode()
    assert _downloaded(stranger.get(_secret_url(attachment))) == PDF


def test_the_same_file_uploaded_twice_is_stored_once(client, board, manager_client):
    client.post(f"/board/{board.unique_name}", _report(files=[upload("a.png", PNG)]))
    ticket = Ticket.objects.get()
    manager_client.post(_post_url(ticket), {"kind": "note", "body": "Same shot.", "files": [upload("b.png", PNG)]})
    assert Attachment.objects.count() == 2
    [stored] = StoredFile.objects.all()
    assert stored.sha256 == _sha(PNG) and stored.size == len(PNG) and stored.content_type == "image/png"
    assert stored.storage_name == f"sha256/{_sha(PNG)[:2]}/{_sha(PNG)[2:4]}/{_sha(PNG)}"
    directory = stored.storage_name.rsplit("/", 1)[0]
    assert default_storage.listdir(directory)[1] == [_sha(PNG)]


# --- Limits: an inline error, and what was typed is kept ---------------------------------------


def _big(name: str, size: int) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"x" * size, content_type="text/plain")


LIMITS = [
    pytest.param({"ATTACHMENT_MAX_FILES": 2}, [upload(f"{n}.png") for n in range(3)], "at most 2 files", id="count"),
    pytest.param({"ATTACHMENT_MAX_FILE_MB": 1}, [_big("huge.log", 1024 * 1024 + 1)], "“huge.log” is", id="one"),
    pytest.param(
        {"ATTACHMENT_MAX_SUBMIT_MB": 1},
        [_big("a.log", 600 * 1024), _big("b.log", 600 * 1024)],
        "together they may be at most 1.0",
        id="total",
    ),
]


def _field_errors(page: str) -> list[str]:
    return re.findall(r'class="invalid-feedback"[^>]*>\s*<strong>(.*?)</strong>', page, flags=re.S)


def _rewind(files: list[SimpleUploadedFile]) -> list[SimpleUploadedFile]:
    for file in files:
        file.seek(0)
    return files


@pytest.mark.parametrize(("limit", "files", "error"), LIMITS)
def test_over_a_limit_the_public_form_says_so_and_keeps_the_text(client, board, settings, limit, files, error):
    for name, value in limit.items():
        setattr(settings, name, value)
    response = client.post(
        f"/board/{board.unique_name}", _report(title="Kept title", description="Kept text", files=_rewind(files))
    )
    page = response.content.decode()
    assert response.status_code == 200 and not Ticket.objects.exists() and not StoredFile.objects.exists()
    [message] = _field_errors(page)
    assert error in message and "choose the files again" in message
    assert 'value="Kept title"' in page and ">Kept text</textarea>" in page and 'value="reporter@example.org"' in page


@pytest.mark.parametrize(("limit", "files", "error"), LIMITS)
def test_over_a_limit_the_secret_page_says_so_and_keeps_the_text(client, board, settings, limit, files, error):
    for name, value in limit.items():
        setattr(settings, name, value)
    ticket = TicketFactory(board=board)
    response = client.post(f"/ticket/{ticket.uuid}", {"body": "Kept message", "files": _rewind(files)})
    page = response.content.decode()
    assert response.status_code == 400 and not Entry.objects.exists()
    assert error in page and "Kept message</textarea>" in page


@pytest.mark.parametrize(("limit", "files", "error"), LIMITS)
def test_over_a_limit_the_composer_says_so_and_keeps_the_text(manager_client, board, settings, limit, files, error):
    for name, value in limit.items():
        setattr(settings, name, value)
    ticket = TicketFactory(board=board, state=TicketState.NEW)
    response = manager_client.post(
        _post_url(ticket),
        {"kind": "note", "body": "Kept reply", "to_state": TicketState.IN_PROGRESS, "files": _rewind(files)},
    )
    page = response.content.decode()
    assert response.status_code == 400 and not Entry.objects.exists()
    assert error in page and "Kept reply</textarea>" in page
    assert re.search(r'value="note"[^>]*checked', page) and re.search(r'value="in_progress"[^>]*selected', page)


# --- Mail: a reply's files go with it, a note's never -----------------------------------------


def test_a_replys_files_arrive_as_attachments_on_the_smtp_server(
    manager_client, board, manager, smtp_server, django_capture_on_commit_callbacks
):
    InboxFactory(
        manager=manager,
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        smtp_username=smtp_server.username,
        smtp_use_starttls=False,
        passwords=("unused", smtp_server.password),
    )
    ticket = TicketFactory(board=board)
    files = [upload("schemat.png", PNG), upload("zażółć.pdf", PDF, "application/pdf"), upload("data.csv", CSV)]
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(_post_url(ticket), {"kind": "reply", "body": "Files attached.", "files": files})
    assert response.status_code == 302
    [received] = smtp_server.wait_for(1)
    message = message_from_bytes(received.raw, policy=policy.default)
    assert "Files attached." in message.get_body(("plain",)).get_content()
    sent = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert {name: _sha(content) for name, content in sent.items()} == {
        "schemat.png": _sha(PNG),
        "zażółć.pdf": _sha(PDF),
        "data.csv": _sha(CSV),
    }


def test_a_move_with_files_mails_them_and_a_notes_files_are_never_mailed(
    manager_client, board, outbox, django_capture_on_commit_callbacks
):
    ticket = TicketFactory(board=board, state=TicketState.NEW)
    with django_capture_on_commit_callbacks(execute=True):
        manager_client.post(
            _post_url(ticket),
            {"kind": "reply", "to_state": TicketState.IN_PROGRESS, "files": [upload("fix.pdf", PDF)]},
        )
        manager_client.post(_post_url(ticket), {"kind": "note", "body": "Internal", "files": [upload("secret.png")]})
        manager_client.post(
            _post_url(ticket),
            {"kind": "note", "body": "Internal too", "to_state": TicketState.CLOSED, "files": [upload("secret2.png")]},
        )
    assert len(outbox) == 2  # the two moves; the notes go nowhere
    assert [[name for name, *_rest in _attachments(message)] for message in outbox] == [["fix.pdf"], []]
    assert Attachment.objects.filter(entry__kind=EntryKind.NOTE).count() == 2


def _attachments(message: mail.EmailMessage) -> list[tuple[str, bytes]]:
    parsed = message_from_bytes(message.message().as_bytes(), policy=policy.default)
    return [(part.get_filename(), part.get_content()) for part in parsed.iter_attachments()]


def test_a_notes_files_are_not_on_the_secret_page_nor_downloadable_by_the_secret_link(board, client):
    ticket = TicketFactory(board=board)
    ticket_post(ticket=ticket, actor=board.manager, body="See attached.", files=[upload("public.png", PNG)])
    [note] = ticket_post(
        ticket=ticket, actor=board.manager, body="Internal", internal=True, files=[upload("salaries.pdf", PDF)]
    )
    note_file = note.attachments.get()
    page = client.get(f"/ticket/{ticket.uuid}?thread=all").content.decode()
    assert "public.png" in page
    assert "salaries.pdf" not in page and f"/files/{note_file.pk}/" not in page
    assert client.get(_secret_url(note_file)).status_code == 404
    client.force_login(board.manager)
    assert "salaries.pdf" in client.get(_detail_url(ticket)).content.decode()
    assert _downloaded(client.get(_manager_url(note_file))) == PDF


# --- The download walk: anyone else gets 404 --------------------------------------------------


def test_only_the_boards_manager_gets_a_file_by_the_manager_url(board, client, other_manager, manager):
    ticket = TicketFactory(board=board)
    attachment = attach(ticket=ticket)
    url = _manager_url(attachment)
    assert client.get(url).status_code == 404  # a stranger, not logged in
    client.force_login(other_manager)
    assert client.get(url).status_code == 404
    client.force_login(manager)
    assert client.get(url).status_code == 200
    # The right manager, but the file named under another of their tickets or boards.
    other_ticket = TicketFactory(board=board)
    assert client.get(reverse("tickets:file", args=[board.pk, other_ticket.pk, attachment.pk])).status_code == 404
    other_board_ticket = TicketFactory(board__manager=manager)
    wrong_board = reverse("tickets:file", args=[other_board_ticket.board_id, ticket.pk, attachment.pk])
    assert client.get(wrong_board).status_code == 404
    assert client.post(url).status_code == 405


def test_the_secret_link_gets_only_its_own_tickets_files(board, client):
    ticket, other = TicketFactory(board=board), TicketFactory(board=board)
    mine, theirs = attach(ticket=ticket), attach(ticket=other, name="theirs.png")
    assert client.get(_secret_url(mine)).status_code == 200
    assert client.get(reverse("public_ticket_file", args=[ticket.uuid, theirs.pk])).status_code == 404
    assert client.get(reverse("public_ticket_file", args=[ticket.uuid, 999_999])).status_code == 404


# --- Served safely ---------------------------------------------------------------------------

SCRIPT_HTML = b"<html><script>document.title='pwned'</script></html>"
SCRIPT_SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.mark.parametrize(
    ("name", "content", "declared"),
    [("page.html", SCRIPT_HTML, "text/html"), ("logo.svg", SCRIPT_SVG, "image/svg+xml"), ("x.png", SCRIPT_HTML, "")],
)
def test_html_and_svg_are_downloads_that_cannot_run_script(board, client, name, content, declared):
    attachment = attach(ticket=TicketFactory(board=board), name=name, content=content, content_type=declared)
    response = client.get(_secret_url(attachment))
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox"
    # The secret page's own privacy headers.
    assert response["Referrer-Policy"] == "same-origin" and "no-store" in response["Cache-Control"]
    assert _downloaded(response) == content


def test_images_are_shown_inline_and_names_are_safe(board, manager_client):
    ticket = TicketFactory(board=board)
    png = attach(ticket=ticket, name="Zrzut ekranu – błąd \u202egnp.exe")
    response = manager_client.get(_manager_url(png))
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == (
        'inline; filename="Zrzut ekranu _ b_ad gnp.exe"; '
        "filename*=UTF-8''Zrzut%20ekranu%20%E2%80%93%20b%C5%82%C4%85d%20gnp.exe"
    )
    assert response["Content-Security-Policy"] == "sandbox" and "private" in response["Cache-Control"]
    pdf = attach(ticket=ticket, name='../../etc/"report".pdf', content=PDF, content_type="application/pdf")
    response = manager_client.get(_manager_url(pdf))
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        "attachment; filename=\"_report_.pdf\"; filename*=UTF-8''%22report%22.pdf"
    )
    page = manager_client.get(_detail_url(ticket)).content.decode()
    assert "\u202e" not in page and "&quot;report&quot;.pdf" in page


def test_a_note_with_files_needs_a_text_even_with_a_move(manager_client, board):
    """A move alone makes no note, so the files would have nowhere to go: refused, nothing kept."""
    ticket = TicketFactory(board=board)
    response = manager_client.post(
        reverse("tickets:post", args=[board.pk, ticket.pk]),
        {"kind": "note", "body": "", "to_state": "in_progress", "files": [_big("notes.txt", 10)]},
    )
    assert response.status_code == 400 and "Write a note for these files." in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.state == "new" and not ticket.entries.exists() and not Attachment.objects.exists()
