"""Writes on attachments (ATT-4): files into content-addressed storage, attachments onto a report
or a thread entry, and removal of files nothing refers to any more.

Files go through Django's storage API (``default_storage``: the filesystem under MEDIA_ROOT, or
an S3-compatible bucket when configured), streamed in chunks, never read whole into memory.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from .files import MAX_NAME_LENGTH, SNIFF_BYTES, normalised_type, sniff_content_type
from .models import Attachment, NotKeptReason, StoredFile

logger = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024
# An upload touches its stored file before it creates the attachment, in the same transaction;
# a file unused for this long cannot belong to an upload still in flight.
ORPHAN_GRACE = timedelta(hours=1)


def storage_name_for(sha256: str) -> str:
    return f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def stored_file_put(*, content: Iterable[bytes]) -> StoredFile:
    """Store bytes once (ATT-4): hashed while they are copied to a temporary file, then saved
    under their hash unless that file is already there. Call inside the transaction that
    creates the attachment, so the row lock taken here lasts until it commits."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    with tempfile.NamedTemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR, prefix="attachment-") as spool:
        for chunk in content:
            if len(head) < SNIFF_BYTES:
                head += chunk[: SNIFF_BYTES - len(head)]
            digest.update(chunk)
            spool.write(chunk)
            size += len(chunk)
        spool.flush()
        sha256 = digest.hexdigest()
        name = storage_name_for(sha256)
        now = timezone.now()
        with transaction.atomic():
            # The update locks an existing row: orphan removal skips locked rows, and waits for
            # nobody, so a file being reused is never deleted under the upload.
            touched = StoredFile.objects.filter(sha256=sha256).update(last_used_at=now)
            if touched:
                stored = StoredFile.objects.get(sha256=sha256)
            else:
                stored, _created = StoredFile.objects.get_or_create(
                    sha256=sha256,
                    defaults={
                        "size": size,
                        "content_type": sniff_content_type(head),
                        "storage_name": name,
                        "created_at": now,
                        "last_used_at": now,
                    },
                )
            if not default_storage.exists(name):
                spool.seek(0)
                saved = default_storage.save(name, File(spool, name=name))
                if saved != name:
                    # Another upload of the same bytes saved it a moment before us.
                    default_storage.delete(saved)
    return stored


def _upload_chunks(upload: Any) -> Iterable[bytes]:
    if hasattr(upload, "chunks"):
        return upload.chunks(CHUNK_SIZE)
    return iter(lambda: upload.read(CHUNK_SIZE), b"")


def attachments_add(*, ticket: Any, files: Iterable[Any], entry: Any | None = None) -> list[Attachment]:
    """Attach uploaded files to a report (no ``entry``) or a thread entry, in the caller's
    transaction (ATT-2)."""
    attachments = []
    with transaction.atomic(savepoint=False):
        for upload in files:
            stored = stored_file_put(content=_upload_chunks(upload))
            attachments.append(
                Attachment.objects.create(
                    ticket=ticket,
                    entry=entry,
                    stored_file=stored,
                    name=(getattr(upload, "name", "") or "")[:MAX_NAME_LENGTH],
                    content_type=normalised_type(getattr(upload, "content_type", "") or ""),
                    size=stored.size,
                )
            )
    if attachments:
        logger.info(
            "attachments added",
            extra={"ticket_id": ticket.pk, "entry_id": getattr(entry, "pk", None), "count": len(attachments)},
        )
    return attachments


class MailFile(Protocol):
    """A file of an incoming mail (inboxes.parsing.MailPart): decoded a chunk at a time."""

    name: str
    content_type: str
    size: int

    def chunks(self) -> Iterator[bytes]: ...


class MailFileNotKept(Protocol):
    name: str
    size: int
    reason: str


def mail_files_add(
    *,
    files: Sequence[MailFile],
    not_kept: Sequence[MailFileNotKept] = (),
    ticket: Any | None = None,
    entry: Any | None = None,
    standby_item: Any | None = None,
    standby_follow_up: Any | None = None,
) -> list[Attachment]:
    """Keep a mail's files on their one owner, in the caller's transaction (ATT-1), and list the
    ones not kept by name and size (ATT-2).

    Each file is decoded and stored chunk by chunk before the next is touched, so intake holds at
    most one chunk of decoded bytes besides the mail itself.
    """
    owner = {"ticket": ticket, "entry": entry, "standby_item": standby_item, "standby_follow_up": standby_follow_up}
    rows: list[Attachment] = []
    with transaction.atomic(savepoint=False):
        for mail_file in files:
            stored = stored_file_put(content=mail_file.chunks())
            rows.append(
                Attachment(
                    **owner,
                    stored_file=stored,
                    name=mail_file.name[:MAX_NAME_LENGTH],
                    content_type=normalised_type(mail_file.content_type),
                    size=stored.size,
                )
            )
        for refused in not_kept:
            rows.append(
                Attachment(
                    **owner,
                    stored_file=None,
                    not_kept_reason=NotKeptReason(str(refused.reason)),
                    name=refused.name[:MAX_NAME_LENGTH],
                    size=refused.size,
                )
            )
        created = Attachment.objects.bulk_create(rows)
    if created:
        logger.info(
            "mail files added",
            extra={
                "ticket_id": getattr(ticket, "pk", None),
                "entry_id": getattr(entry, "pk", None),
                "standby_item_id": getattr(standby_item, "pk", None),
                "standby_follow_up_id": getattr(standby_follow_up, "pk", None),
                "count": len(files),
                "not_kept": len(not_kept),
            },
        )
    return created


def standby_files_move(*, standby_item: Any, ticket: Any, entries_by_follow_up: dict[int, Any]) -> None:
    """An assigned standby item's files go to its ticket's report, each follow-up's to the entry
    it became (THR-4), in the caller's transaction, before the item (and its cascade) is deleted."""
    Attachment.objects.filter(standby_item=standby_item).update(ticket=ticket, entry=None, standby_item=None)
    for follow_up_id, entry in entries_by_follow_up.items():
        Attachment.objects.filter(standby_follow_up_id=follow_up_id).update(
            ticket=ticket, entry=entry, standby_follow_up=None
        )


def _orphans(cutoff: datetime) -> Any:
    return StoredFile.objects.filter(last_used_at__lt=cutoff).filter(
        ~Exists(Attachment.objects.filter(stored_file=OuterRef("pk")))
    )


def stored_files_remove_orphans(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Delete files no attachment refers to (a deleted ticket's, ATT-4). Returns how many.

    One row at a time, locked with SKIP LOCKED: a row an upload is reusing right now is locked
    by it (stored_file_put) and skipped, and a file used within ORPHAN_GRACE is left for a later
    run. The storage object goes before the row, inside the row's lock, so an upload waiting for
    that lock finds the row gone and stores the bytes anew.
    """
    cutoff = (now or timezone.now()) - ORPHAN_GRACE
    removed = 0
    for pk in list(_orphans(cutoff).order_by("pk").values_list("pk", flat=True)[:limit]):
        with transaction.atomic():
            stored = _orphans(cutoff).select_for_update(skip_locked=True).filter(pk=pk).first()
            if stored is None:
                continue
            default_storage.delete(stored.storage_name)
            stored.delete()
            removed += 1
    if removed:
        logger.info("orphan files removed", extra={"count": removed})
    return removed
