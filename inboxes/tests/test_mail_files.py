"""ATT-1, ATT-2 for mail: every non-body part of a mail is kept on its ticket, entry or standby
item, listed where the thread shows files, and downloads give back the very same bytes."""

from __future__ import annotations

import os
import tracemalloc
from email.utils import make_msgid

import pytest
from django.db import transaction
from django.test import override_settings
from django.urls import reverse

from attachments.models import Attachment, NotKeptReason, StoredFile
from attachments.services import mail_files_add
from boards.tests.factories import BoardFactory
from inboxes.parsing import PartRefusal, parse_message, parts_within_limits
from inboxes.polling import inbox_poll
from standby.models import StandbyFollowUp, StandbyItem
from standby.services import standby_item_assign
from tickets.models import Entry, EntryKind, Ticket

from .files_mail import EXPECTED_FILES, files_mail, sha256, small_files_mail
from .mails import take_in

# --------------------------------------------------------------------------- the parser (no database)


def test_every_non_body_part_is_a_file_with_its_decoded_name_type_size_and_bytes() -> None:
    parsed = parse_message(files_mail())

    assert {part.name: sha256(b"".join(part.chunks())) for part in parsed.parts} == {
        name: sha256(data) for name, data in EXPECTED_FILES.items()
    }
    assert {part.name: part.size for part in parsed.parts} == {name: len(data) for name, data in EXPECTED_FILES.items()}
    types = {part.name: part.content_type for part in parsed.parts}
    assert types["łódź_dane.csv"] == "text/csv" and types["Earlier report.eml"] == "message/rfc822"
    # The attached message's text is still in the body, and no file's text is.
    assert "The first time it broke." in parsed.body and "ERROR printer" not in parsed.body
    assert parsed.parts_not_kept == ()


def test_a_part_is_decoded_in_chunks_never_whole() -> None:
    data = os.urandom(700_000)
    parsed = parse_message(small_files_mail(files={"big.bin": data}))
    (part,) = parsed.parts
    chunks = list(part.chunks())
    assert len(chunks) > 1 and max(len(chunk) for chunk in chunks) < 300_000
    assert b"".join(chunks) == data


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\\\..\\\\boot.ini", "boot.ini"),
        ("a\x01b\x7f.txt", "a b .txt"),
        ("invoice\u202etxt.exe", "invoicetxt.exe"),
        ("", "attachment.bin"),
        ("...", "attachment.bin"),
    ],
)
def test_hostile_file_names_are_made_safe(given: str, kept: str) -> None:
    raw = (
        "From: a@example.org\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        "Content-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/octet-stream\r\n"
        f'Content-Disposition: attachment; filename="{given}"\r\n\r\ndata\r\n--b--\r\n'
    ).encode()
    (part,) = parse_message(raw).parts
    assert part.name == kept


def test_a_very_long_name_is_cut_keeping_its_extension() -> None:
    (part,) = parse_message(small_files_mail(files={"x" * 400 + ".pdf": b"%PDF-"})).parts
    assert len(part.name) == 255 and part.name.endswith("x.pdf")


def test_limits_list_each_part_not_kept_with_why() -> None:
    parsed = parse_message(small_files_mail(files={"a.bin": b"a" * 10, "huge.bin": b"h" * 100, "b.bin": b"b" * 10}))
    kept, refused = parts_within_limits(parsed.parts, max_files=1, max_file_bytes=50, max_total_bytes=1000)
    assert [part.name for part in kept] == ["a.bin"]
    assert [(part.name, part.size, part.reason) for part in refused] == [
        ("huge.bin", 100, PartRefusal.FILE_TOO_LARGE),
        ("b.bin", 10, PartRefusal.TOO_MANY_FILES),
    ]
    _kept, refused = parts_within_limits(parsed.parts, max_files=9, max_file_bytes=500, max_total_bytes=50)
    assert [(part.name, part.reason) for part in refused] == [
        ("huge.bin", PartRefusal.TOTAL_TOO_LARGE),
    ]


# --------------------------------------------------------------------------- downloads


def _download(client, url: str) -> bytes:  # type: ignore[no-untyped-def]
    response = client.get(url)
    assert response.status_code == 200, url
    return b"".join(response.streaming_content)


def _assert_ticket_files(client, manager, ticket: Ticket, files, *, entry: Entry | None = None) -> None:  # type: ignore[no-untyped-def]
    """Each file listed on the ticket page and the secret page, and both downloads give its bytes."""
    rows = {row.display_name: row for row in Attachment.objects.filter(ticket=ticket, entry=entry)}
    assert set(rows) == set(files)
    client.force_login(manager)
    page = client.get(reverse("tickets:detail", args=[ticket.board_id, ticket.pk])).content.decode()
    client.logout()
    secret_page = client.get(reverse("public_ticket", args=[ticket.uuid])).content.decode()
    for name, data in files.items():
        row = rows[name]
        manager_url = reverse("tickets:file", args=[ticket.board_id, ticket.pk, row.pk])
        secret_url = reverse("public_ticket_file", args=[ticket.uuid, row.pk])
        assert manager_url in page and name in page
        assert secret_url in secret_page and name in secret_page
        assert sha256(_download(client, secret_url)) == sha256(data)
        client.force_login(manager)
        assert sha256(_download(client, manager_url)) == sha256(data)
        client.logout()


def _poll(inbox, capture) -> None:  # type: ignore[no-untyped-def]
    with capture(execute=True):
        result = inbox_poll(inbox=inbox)
    assert result.claimed and not result.error, result.error


@pytest.mark.mailserver
@pytest.mark.django_db
def test_a_mails_files_reach_the_ticket_and_a_follow_ups_files_its_entry(
    client, live_inbox, deliver, django_capture_on_commit_callbacks
):  # type: ignore[no-untyped-def]
    manager = live_inbox.manager
    BoardFactory(manager=manager, exclusive_inbox=live_inbox)
    report_id = make_msgid(domain="example.org")
    deliver(files_mail(message_id=report_id))
    _poll(live_inbox, django_capture_on_commit_callbacks)
    ticket = Ticket.objects.get()
    _assert_ticket_files(client, manager, ticket, EXPECTED_FILES)

    deliver(
        small_files_mail(subject="Re: x", files={"more.log": b"second log"}, message_id=None).replace(
            b"MIME-Version", f"In-Reply-To: {report_id}\r\nMIME-Version".encode(), 1
        )
    )
    _poll(live_inbox, django_capture_on_commit_callbacks)
    entry = Entry.objects.get(ticket=ticket, kind=EntryKind.MESSAGE)
    _assert_ticket_files(client, manager, ticket, {"more.log": b"second log"}, entry=entry)
    # The same screenshot twice, and the report's files: each stored once.
    assert StoredFile.objects.count() == len(EXPECTED_FILES) + 1


@pytest.mark.mailserver
@pytest.mark.django_db
def test_a_queued_mails_files_and_its_follow_ups_files_move_with_it(
    client, live_inbox, deliver, django_capture_on_commit_callbacks, other_manager
):  # type: ignore[no-untyped-def]
    manager = live_inbox.manager
    report_id = make_msgid(domain="example.org")
    deliver(files_mail(message_id=report_id))
    _poll(live_inbox, django_capture_on_commit_callbacks)
    item = StandbyItem.objects.get()
    deliver(
        small_files_mail(subject="Re: x", files={"more.log": b"second log"}).replace(
            b"MIME-Version", f"In-Reply-To: {report_id}\r\nMIME-Version".encode(), 1
        )
    )
    _poll(live_inbox, django_capture_on_commit_callbacks)
    follow_up = StandbyFollowUp.objects.get(item=item)

    client.force_login(manager)
    page = client.get(reverse("standby:detail", args=[item.pk])).content.decode()
    wanted = [(row, EXPECTED_FILES) for row in Attachment.objects.filter(standby_item=item)]
    wanted += [(row, {"more.log": b"second log"}) for row in Attachment.objects.filter(standby_follow_up=follow_up)]
    assert len(wanted) == len(EXPECTED_FILES) + 1
    for row, files in wanted:
        url = reverse("standby:file", args=[item.pk, row.pk])
        assert url in page and row.display_name in page
        assert sha256(_download(client, url)) == sha256(files[row.display_name])
    # Another manager and a stranger get 404 for the same URL.
    url = reverse("standby:file", args=[item.pk, wanted[0][0].pk])
    client.force_login(other_manager)
    assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 404

    board = BoardFactory(manager=manager)
    with django_capture_on_commit_callbacks(execute=True):
        ticket = standby_item_assign(standby_item=item, board=board)
    assert not Attachment.objects.filter(standby_item__isnull=False).exists()
    assert not Attachment.objects.filter(standby_follow_up__isnull=False).exists()
    _assert_ticket_files(client, manager, ticket, EXPECTED_FILES)
    entry = Entry.objects.get(ticket=ticket, kind=EntryKind.MESSAGE)
    _assert_ticket_files(client, manager, ticket, {"more.log": b"second log"}, entry=entry)
    client.force_login(manager)
    assert client.get(url).status_code == 404  # the item is gone: its old file URL with it


@pytest.mark.django_db
def test_a_ticket_page_serves_only_its_own_files(client, manager, inbox, board):  # type: ignore[no-untyped-def]
    board.exclusive_inbox = inbox
    board.save()
    take_in(inbox, small_files_mail(files={"a.txt": b"first"}))
    take_in(inbox, small_files_mail(files={"b.txt": b"second"}))
    first, second = Ticket.objects.order_by("pk")
    other_file = Attachment.objects.get(ticket=second)
    assert client.get(reverse("public_ticket_file", args=[first.uuid, other_file.pk])).status_code == 404
    client.force_login(manager)
    assert client.get(reverse("tickets:file", args=[board.pk, first.pk, other_file.pk])).status_code == 404


@pytest.mark.django_db
@override_settings(ATTACHMENT_MAX_FILE_MB=1, ATTACHMENT_MAX_FILES=2)
def test_a_mail_over_the_limits_is_taken_in_with_each_part_not_kept_listed(client, manager, inbox, board):  # type: ignore[no-untyped-def]
    board.exclusive_inbox = inbox
    board.save()
    big = os.urandom(1024 * 1024 + 1)
    row = take_in(
        inbox, small_files_mail(files={"small.txt": b"ok", "huge.bin": big, "two.txt": b"2", "three.txt": b"3"})
    )
    assert row.status == "ticket"
    ticket = Ticket.objects.get()
    not_kept = {a.name: (a.size, a.not_kept_reason) for a in Attachment.objects.filter(stored_file__isnull=True)}
    assert not_kept == {
        "huge.bin": (len(big), NotKeptReason.FILE_TOO_LARGE),
        "three.txt": (1, NotKeptReason.TOO_MANY_FILES),
    }
    assert sorted(a.name for a in Attachment.objects.filter(stored_file__isnull=False)) == ["small.txt", "two.txt"]
    client.force_login(manager)
    page = client.get(reverse("tickets:detail", args=[board.pk, ticket.pk])).content.decode()
    assert page.count('data-testid="file-not-kept"') == 2
    assert "huge.bin" in page and "1.0\xa0MB" in page and "three.txt" in page
    secret_page = client.get(reverse("public_ticket", args=[ticket.uuid])).content.decode()
    assert secret_page.count('data-testid="file-not-kept"') == 2
    huge = Attachment.objects.get(name="huge.bin")
    assert client.get(reverse("tickets:file", args=[board.pk, ticket.pk, huge.pk])).status_code == 404


@pytest.mark.django_db
def test_the_same_attachment_in_two_mails_is_stored_once(inbox, board):  # type: ignore[no-untyped-def]
    board.exclusive_inbox = inbox
    board.save()
    take_in(inbox, small_files_mail(files={"shot.png": b"same bytes"}))
    take_in(inbox, small_files_mail(files={"copy.png": b"same bytes"}))
    assert Attachment.objects.count() == 2 and StoredFile.objects.count() == 1


# --------------------------------------------------------------------------- memory


def _traced_peak(work) -> int:  # type: ignore[no-untyped-def]
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _take_in_all(inbox, mails: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    for raw in mails:
        take_in(inbox, raw)  # the row it returns (with the raw bytes) is not kept


def _large_mails(count: int, size: int) -> list[bytes]:
    # Built before tracing starts: only what intake itself allocates is measured.
    return [small_files_mail(files={f"dump-{n}.bin": os.urandom(size)}) for n in range(count)]


@pytest.mark.django_db
def test_intake_memory_stays_flat_however_many_large_attachments(inbox, board):  # type: ignore[no-untyped-def]
    board.exclusive_inbox = inbox
    board.save()
    size = 4 * 1024 * 1024
    take_in(inbox, small_files_mail(files={"warm-up.bin": b"x"}))  # imports, caches, connections
    (sample,) = _large_mails(1, size)
    parse_alone = _traced_peak(lambda: parse_message(sample))
    peaks = {}
    for count in (2, 8):
        mails = _large_mails(count, size)
        peaks[count] = _traced_peak(lambda mails=mails: _take_in_all(inbox, mails))
    assert StoredFile.objects.count() == 11
    assert peaks[8] < peaks[2] + size // 4, peaks
    # The stdlib's parse of the mail is the peak: keeping the file adds less than a part's bytes.
    assert peaks[2] < parse_alone + size // 4, (parse_alone, peaks)


@pytest.mark.django_db
def test_keeping_a_mails_files_holds_one_chunk_never_a_whole_part(inbox, board):  # type: ignore[no-untyped-def]
    board.exclusive_inbox = inbox
    board.save()
    take_in(inbox, small_files_mail(files={"warm-up.bin": b"x"}))
    ticket = Ticket.objects.get()
    size = 4 * 1024 * 1024
    parsed = [parse_message(raw) for raw in _large_mails(3, size)]

    def keep() -> None:
        for message in parsed:
            with transaction.atomic():
                mail_files_add(files=message.parts, ticket=ticket)

    peak = _traced_peak(keep)
    assert Attachment.objects.filter(ticket=ticket).count() == 4
    assert peak < size // 2, peak
