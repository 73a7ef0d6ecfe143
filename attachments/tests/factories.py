"""Factories for stored files and attachments, shared by every app's tests.

``AttachmentFactory`` stores real bytes through the service (so downloads work);
``attachment_rows`` writes rows only, for pages that list files without reading them.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from attachments.models import Attachment, StoredFile
from attachments.services import attachments_add, storage_name_for

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def upload(name: str = "screenshot.png", content: bytes = PNG, content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def attach(*, ticket: Any, entry: Any | None = None, **upload_fields: Any) -> Attachment:
    """One file attached through the service, bytes in storage."""
    [attachment] = attachments_add(ticket=ticket, entry=entry, files=[upload(**upload_fields)])
    return attachment


def attachment_rows(*, ticket: Any, entries: list[Any], per_entry: int = 1) -> list[Attachment]:
    """Rows only (no bytes in storage): one stored file shared by ``per_entry`` files of each entry."""
    sha256 = hashlib.sha256(b"rows only").hexdigest()
    stored, _created = StoredFile.objects.get_or_create(
        sha256=sha256, defaults={"size": 9, "storage_name": storage_name_for(sha256)}
    )
    return Attachment.objects.bulk_create(
        Attachment(ticket=ticket, entry=entry, stored_file=stored, name=f"log-{n}.txt", size=9)
        for entry in entries
        for n in range(per_entry)
    )
