"""Reads on attachments: the files a thread shows (one query per page), the one file a download
may serve, and its bytes from storage."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from django.core.files import File
from django.core.files.storage import default_storage
from django.db.models import Q

from tickets.models import EntryKind

from .models import Attachment


def thread_files(*, ticket: Any, entry_ids: Iterable[int]) -> tuple[list[Attachment], dict[int, list[Attachment]]]:
    """The report's files and the files of the given entries, in one query (THR-1).

    Only the entries asked for: the secret page passes its notes-free rows, so a note's files
    are never even read for it.
    """
    report: list[Attachment] = []
    by_entry: dict[int, list[Attachment]] = {}
    rows = (
        Attachment.objects.filter(Q(entry__isnull=True) | Q(entry_id__in=list(entry_ids)), ticket=ticket)
        .only("id", "ticket_id", "entry_id", "stored_file_id", "not_kept_reason", "name", "size")
        .order_by("id")
    )
    for attachment in rows:
        if attachment.entry_id is None:
            report.append(attachment)
        else:
            by_entry.setdefault(attachment.entry_id, []).append(attachment)
    return report, by_entry


def attachment_for_manager(*, manager: Any, board_id: int, ticket_id: int, attachment_id: int) -> Attachment | None:
    """A file of a ticket on one of the manager's boards (ATT-5); None for anything else."""
    return (
        Attachment.objects.select_related("stored_file")
        .filter(pk=attachment_id, ticket_id=ticket_id, ticket__board_id=board_id, ticket__board__manager=manager)
        .filter(stored_file__isnull=False)
        .first()
    )


def attachment_for_secret_link(*, ticket_uuid: UUID, attachment_id: int) -> Attachment | None:
    """A file the holder of the ticket's secret link may have: the report's, and those of
    entries that are not internal notes (ATT-5); None for anything else."""
    return (
        Attachment.objects.select_related("stored_file")
        .filter(pk=attachment_id, ticket__uuid=ticket_uuid)
        .filter(Q(entry__isnull=True) | ~Q(entry__kind=EntryKind.NOTE))
        .filter(stored_file__isnull=False)
        .first()
    )


def standby_files(*, standby_item: Any) -> tuple[list[Attachment], dict[int, list[Attachment]]]:
    """The files of a standby item and of its follow-ups (ATT-1), in one query."""
    item_files: list[Attachment] = []
    by_follow_up: dict[int, list[Attachment]] = {}
    rows = (
        Attachment.objects.filter(Q(standby_item=standby_item) | Q(standby_follow_up__item=standby_item))
        .only("id", "standby_item_id", "standby_follow_up_id", "stored_file_id", "not_kept_reason", "name", "size")
        .order_by("id")
    )
    for attachment in rows:
        if attachment.standby_follow_up_id is None:
            item_files.append(attachment)
        else:
            by_follow_up.setdefault(attachment.standby_follow_up_id, []).append(attachment)
    return item_files, by_follow_up


def attachment_for_standby_manager(*, manager: Any, standby_item_id: int, attachment_id: int) -> Attachment | None:
    """A kept file of a mail waiting in the manager's own standby queue, or of one of its
    follow-ups (ATT-5); None for anything else."""
    return (
        Attachment.objects.select_related("stored_file")
        .filter(
            Q(standby_item_id=standby_item_id, standby_item__manager=manager)
            | Q(standby_follow_up__item_id=standby_item_id, standby_follow_up__item__manager=manager),
            pk=attachment_id,
            stored_file__isnull=False,
        )
        .first()
    )


def attachment_open(attachment: Attachment) -> File:
    """The file's bytes, opened in storage for streaming (never read whole here)."""
    return default_storage.open(attachment.stored_file.storage_name, "rb")
