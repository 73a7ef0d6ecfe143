"""Content-addressed storage (ATT-4): one file stored once, streamed in, removed when nothing
refers to it any more, and never under an upload that is reusing it."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone

from attachments.files import content_disposition, display_name, served_type
from attachments.models import Attachment, StoredFile
from attachments.services import attachments_add, stored_file_put, stored_files_remove_orphans
from attachments.tasks import remove_orphan_files
from attachments.tests.factories import PNG, attach
from tickets.models import Ticket
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

LATER = timedelta(hours=2)


class _ChunksOnly:
    """An upload that can only be read in chunks: storing it must never ask for all of it."""

    name = "big.bin"
    content_type = "application/octet-stream"

    def __init__(self, chunk: bytes, count: int) -> None:
        self.chunk, self.count = chunk, count

    def chunks(self, chunk_size: int | None = None):  # type: ignore[no-untyped-def]
        for _n in range(self.count):
            yield self.chunk

    def read(self, *args: object) -> bytes:
        raise AssertionError("the whole upload was read at once")


def test_a_file_is_streamed_into_storage_under_its_hash(board):
    ticket = TicketFactory(board=board)
    [attachment] = attachments_add(ticket=ticket, files=[_ChunksOnly(b"a" * 65536, 20)])
    expected = hashlib.sha256(b"a" * 65536 * 20).hexdigest()
    stored = attachment.stored_file
    assert (stored.sha256, stored.size, attachment.size) == (expected, 65536 * 20, 65536 * 20)
    with default_storage.open(stored.storage_name) as saved:
        assert hashlib.sha256(b"".join(saved.chunks())).hexdigest() == expected


def test_orphans_are_removed_from_storage_and_referenced_files_kept(board):
    kept = attach(ticket=TicketFactory(board=board), name="kept.png")
    deleted_ticket = TicketFactory(board=board)
    gone = attach(ticket=deleted_ticket, name="gone.pdf", content=b"%PDF-1.4 only here")
    gone_name = gone.stored_file.storage_name
    Ticket.objects.filter(pk=deleted_ticket.pk).delete()  # its attachments cascade
    assert default_storage.exists(gone_name)

    # Within the grace period an orphan stays: an upload may be about to refer to it again.
    assert stored_files_remove_orphans() == 0 and default_storage.exists(gone_name)

    assert stored_files_remove_orphans(now=timezone.now() + LATER) == 1
    assert not default_storage.exists(gone_name)
    assert list(StoredFile.objects.values_list("sha256", flat=True)) == [kept.stored_file.sha256]
    assert default_storage.exists(kept.stored_file.storage_name)


def test_an_orphan_reused_by_a_new_upload_is_kept(board):
    ticket = TicketFactory(board=board)
    old = attach(ticket=ticket)
    Attachment.objects.filter(pk=old.pk).delete()
    StoredFile.objects.update(last_used_at=timezone.now() - LATER)
    # The same bytes arrive again: the upload touches the row, so removal leaves it alone.
    stored = stored_file_put(content=[PNG])
    assert stored.pk == old.stored_file_id
    assert stored_files_remove_orphans() == 0
    assert default_storage.exists(stored.storage_name)


def test_a_missing_storage_object_is_written_again(board):
    stored = attach(ticket=TicketFactory(board=board)).stored_file
    default_storage.delete(stored.storage_name)
    assert stored_file_put(content=[PNG]).pk == stored.pk
    assert default_storage.exists(stored.storage_name)


def test_the_beat_removes_orphans_hourly(board):
    schedule = settings.CELERY_BEAT_SCHEDULE["remove-orphan-files"]
    assert schedule["task"] == "attachments.tasks.remove_orphan_files"
    ticket = TicketFactory(board=board)
    attach(ticket=ticket)
    Ticket.objects.filter(pk=ticket.pk).delete()
    StoredFile.objects.update(last_used_at=timezone.now() - LATER)
    assert remove_orphan_files.delay().get() == 1
    assert not StoredFile.objects.exists()


@pytest.mark.parametrize(
    ("sniffed", "declared", "name", "served"),
    [
        ("image/png", "", "a.png", "image/png"),
        ("", "text/html", "a.html", "application/octet-stream"),
        ("", "", "a.svg", "application/octet-stream"),
        ("", "image/png", "a.png", "application/octet-stream"),  # says PNG, bytes do not
        ("", "application/pdf; name=x", "x", "application/pdf"),
        ("", "", "data.csv", "text/csv"),
        ("", "", "noname", "application/octet-stream"),
    ],
)
def test_the_served_type_comes_from_an_allow_list(sniffed, declared, name, served):
    assert served_type(sniffed=sniffed, declared=declared, name=name) == served


def test_names_lose_directories_and_direction_tricks():
    assert display_name("C:\\Users\\me\\report\u202etxt.exe") == "reporttxt.exe"
    assert display_name("../..") == "file"
    assert content_disposition(name="résumé.pdf", inline=False) == (
        "attachment; filename=\"resume.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"
    )
