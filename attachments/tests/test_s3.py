"""Attachments in an S3-compatible bucket (ATT-4), against a local S3 server (moto, started by
testsupport.s3server): uploads land in the bucket once per content, downloads come back byte for
byte through our views, streamed, orphans leave the bucket, and nothing in it is public."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from email import message_from_bytes, policy
from typing import Any

import pytest
import requests
from botocore.response import StreamingBody
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages
from django.http import FileResponse
from django.urls import reverse
from django.utils import timezone

from attachments.models import Attachment, StoredFile
from attachments.services import stored_files_remove_orphans
from attachments.storage import PrivateS3Storage
from attachments.tests.factories import PNG, attach, upload
from tickets.models import EntryKind, Ticket
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
CSV = "name;city\r\nZoë;Łódź \nBob;Kraków\r".encode()
PUBLIC_GRANTEES = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _downloaded(response: Any) -> bytes:
    assert response.status_code == 200, response.status_code
    assert response.streaming
    return b"".join(response.streaming_content)


def _manager_url(attachment: Attachment) -> str:
    ticket = attachment.ticket
    return reverse("tickets:file", args=[ticket.board_id, ticket.pk, attachment.pk])


def _secret_url(attachment: Attachment) -> str:
    return reverse("public_ticket_file", args=[attachment.ticket.uuid, attachment.pk])


def _post_url(ticket: Ticket) -> str:
    return reverse("tickets:post", args=[ticket.board_id, ticket.pk])


def _report(**fields: object) -> dict[str, object]:
    return {"email": "reporter@example.org", "title": "Printer jammed", "description": "Error 42.", **fields}


def test_the_bucket_is_the_default_storage(s3_storage):
    assert isinstance(storages["default"], PrivateS3Storage)
    assert storages["default"].bucket_name == s3_storage.name


def test_uploads_from_the_public_form_and_the_composer_download_byte_for_byte(s3_storage, client, board, manager):
    response = client.post(
        f"/board/{board.unique_name}",
        _report(files=[upload("screen.png", PNG), upload("manual.pdf", PDF, "application/pdf")]),
    )
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    client.force_login(manager)
    response = client.post(_post_url(ticket), {"kind": "reply", "body": "The log.", "files": [upload("log.csv", CSV)]})
    assert response.status_code == 302

    by_name = {a.name: a for a in Attachment.objects.select_related("ticket", "stored_file")}
    assert by_name["log.csv"].entry.kind == EntryKind.REPLY
    contents = {"screen.png": PNG, "manual.pdf": PDF, "log.csv": CSV}
    # Every file is an object in the bucket, under its content-addressed name.
    assert s3_storage.keys() == sorted(a.stored_file.storage_name for a in by_name.values())
    for name, content in contents.items():
        assert by_name[name].stored_file.storage_name.endswith(_sha(content))
        assert _sha(_downloaded(client.get(_manager_url(by_name[name])))) == _sha(content), name
    client.logout()
    for name, content in contents.items():
        assert _sha(_downloaded(client.get(_secret_url(by_name[name])))) == _sha(content), name


def test_the_same_file_twice_is_one_object_in_the_bucket(s3_storage, client, board, manager_client):
    client.post(f"/board/{board.unique_name}", _report(files=[upload("a.png", PNG)]))
    ticket = Ticket.objects.get()
    manager_client.post(_post_url(ticket), {"kind": "note", "body": "Same shot.", "files": [upload("b.png", PNG)]})
    assert Attachment.objects.count() == 2
    [stored] = StoredFile.objects.all()
    assert s3_storage.keys() == [stored.storage_name]


def test_orphan_removal_deletes_the_object_and_keeps_referenced_ones(s3_storage, board):
    kept = attach(ticket=TicketFactory(board=board), name="kept.png")
    deleted_ticket = TicketFactory(board=board)
    gone = attach(ticket=deleted_ticket, name="gone.pdf", content=PDF)
    Ticket.objects.filter(pk=deleted_ticket.pk).delete()
    assert s3_storage.keys() == sorted([kept.stored_file.storage_name, gone.stored_file.storage_name])

    assert stored_files_remove_orphans(now=timezone.now() + timedelta(hours=2)) == 1
    assert s3_storage.keys() == [kept.stored_file.storage_name]
    assert list(StoredFile.objects.all()) == [kept.stored_file]


def test_a_missing_object_is_written_again(s3_storage, board):
    stored = attach(ticket=TicketFactory(board=board)).stored_file
    s3_storage.server.client().delete_object(Bucket=s3_storage.name, Key=stored.storage_name)
    attach(ticket=TicketFactory(board=board))
    assert s3_storage.keys() == [stored.storage_name]


def test_a_download_streams_the_object_in_chunks(s3_storage, manager_client, board, monkeypatch):
    content = bytes(range(256)) * 1024 + b"tail"  # a little over 256 KiB
    attachment = attach(ticket=TicketFactory(board=board), name="dump.bin", content=content)
    reads: list[int | None] = []
    original_read = StreamingBody.read

    def recording_read(self: StreamingBody, amt: int | None = None) -> bytes:
        reads.append(amt)
        return original_read(self, amt)

    monkeypatch.setattr(StreamingBody, "read", recording_read)
    response = manager_client.get(_manager_url(attachment))
    assert isinstance(response, FileResponse) and response.streaming
    assert response["Content-Length"] == str(len(content))
    assert reads == [], "nothing is read before the response is sent"
    received = _downloaded(response)
    assert _sha(received) == _sha(content)
    # Read as it is sent, a block at a time: never the whole object in one read.
    assert reads and None not in reads and max(reads) <= 64 * 1024 < len(content)


def test_a_replys_files_are_mailed_from_the_bucket(
    s3_storage, manager_client, board, outbox, django_capture_on_commit_callbacks
):
    ticket = TicketFactory(board=board)
    with django_capture_on_commit_callbacks(execute=True):
        manager_client.post(_post_url(ticket), {"kind": "reply", "body": "Here.", "files": [upload("fix.pdf", PDF)]})
    [message] = outbox
    parsed = message_from_bytes(message.message().as_bytes(), policy=policy.default)
    [part] = parsed.iter_attachments()
    assert part.get_filename() == "fix.pdf" and _sha(part.get_content()) == _sha(PDF)


def test_nothing_in_the_bucket_is_public(s3_storage, board):
    stored = attach(ticket=TicketFactory(board=board)).stored_file
    client = s3_storage.server.client()
    grants = client.get_object_acl(Bucket=s3_storage.name, Key=stored.storage_name)["Grants"]
    assert not [grant for grant in grants if grant["Grantee"].get("URI") in PUBLIC_GRANTEES]
    # Asked without signing, as a browser would: refused.
    assert requests.get(s3_storage.object_url(stored.storage_name), timeout=10).status_code == 403
    # And no URL, signed or not, is ever made for a browser.
    with pytest.raises(NotImplementedError):
        default_storage.url(stored.storage_name)


def test_no_option_makes_an_object_public(s3_storage):
    storage = PrivateS3Storage(
        **s3_storage.storage_options(), default_acl="public-read", object_parameters={"ACL": "public-read"}
    )
    name = storage.save("sha256/00/00/options", ContentFile(b"private"))
    assert requests.get(s3_storage.object_url(name), timeout=10).status_code == 403
