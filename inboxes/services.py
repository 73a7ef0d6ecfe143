"""Writes on inboxes (INB-1, INB-2) and on stored messages (reprocessing a failed one)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from boards.models import Board

from .intake import intake_context_load, processed_email_mark_failed, processed_email_process_one
from .models import Inbox, ProcessedEmail, ProcessedEmailStatus
from .polling import process_safely

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboxFields:
    """Everything a manager sets on an inbox. A password of None means "keep the stored one"."""

    name: str
    imap_host: str
    imap_port: int
    imap_username: str
    imap_use_ssl: bool
    smtp_host: str
    smtp_port: int
    smtp_username: str
    smtp_use_starttls: bool
    from_address: str
    poll_interval_minutes: int
    is_active: bool
    exclusive_board: Board | None
    # Of mail to reporters (THR-9); empty: the owner's language.
    language: str
    imap_password: str | None = None
    smtp_password: str | None = None

    def apply_to(self, inbox: Inbox) -> None:
        """Copy onto an (unsaved or saved) inbox; used for saving and for "Test connection"."""
        for name in (
            "name",
            "imap_host",
            "imap_port",
            "imap_username",
            "imap_use_ssl",
            "smtp_host",
            "smtp_port",
            "smtp_username",
            "smtp_use_starttls",
            "poll_interval_minutes",
            "is_active",
            "language",
        ):
            setattr(inbox, name, getattr(self, name))
        inbox.from_address = self.from_address.strip().lower()
        if self.imap_password is not None:
            inbox.set_imap_password(self.imap_password)
        if self.smtp_password is not None:
            inbox.set_smtp_password(self.smtp_password)


def inbox_create(*, manager: Any, fields: InboxFields) -> Inbox:
    inbox = Inbox(manager=manager)
    fields.apply_to(inbox)
    with transaction.atomic():
        inbox.save()
        _set_exclusive_board(inbox=inbox, board=fields.exclusive_board)
    logger.info("inbox created", extra={"inbox_id": inbox.pk, "manager_id": manager.pk})
    return inbox


def inbox_update(*, inbox: Inbox, fields: InboxFields) -> Inbox:
    # Compared with the database: a bound ModelForm has already copied the new values onto ``inbox``.
    stored = Inbox.objects.filter(pk=inbox.pk).values_list("imap_host", "imap_port", "imap_username").get()
    server_changed = stored != (fields.imap_host, fields.imap_port, fields.imap_username)
    fields.apply_to(inbox)
    update_fields = [
        "name",
        "imap_host",
        "imap_port",
        "imap_username",
        "imap_use_ssl",
        "imap_password_encrypted",
        "smtp_host",
        "smtp_port",
        "smtp_username",
        "smtp_use_starttls",
        "smtp_password_encrypted",
        "from_address",
        "poll_interval_minutes",
        "is_active",
        "language",
    ]
    if server_changed:
        # Another mailbox: its UIDs mean nothing here, start again from its unread mail. The
        # Message-ID check still recognises anything already taken in.
        inbox.imap_uidvalidity = None
        inbox.imap_last_uid = 0
        update_fields += ["imap_uidvalidity", "imap_last_uid"]
    with transaction.atomic():
        inbox.save(update_fields=update_fields)
        _set_exclusive_board(inbox=inbox, board=fields.exclusive_board)
    logger.info("inbox updated", extra={"inbox_id": inbox.pk, "server_changed": server_changed})
    return inbox


def _set_exclusive_board(*, inbox: Inbox, board: Board | None) -> None:
    """A board has at most one exclusive inbox and an inbox is exclusive to at most one board."""
    Board.objects.filter(exclusive_inbox=inbox).exclude(pk=board.pk if board else None).update(exclusive_inbox=None)
    if board is not None:
        if board.manager_id != inbox.manager_id:
            raise ValueError("an inbox can only be exclusive to a board of the same manager")
        Board.objects.filter(pk=board.pk).update(exclusive_inbox=inbox)


def inbox_delete(*, inbox: Inbox) -> None:
    """Stored messages go with the inbox; tickets, standby items and sent mail stay."""
    inbox_id = inbox.pk
    inbox.delete()
    logger.info("inbox deleted", extra={"inbox_id": inbox_id})


def processed_email_reprocess(*, processed_email: ProcessedEmail) -> ProcessedEmailStatus:
    """Try a failed message again from its stored bytes (a person asked for it on the inbox page)."""
    reset = ProcessedEmail.objects.filter(pk=processed_email.pk, status=ProcessedEmailStatus.FAILED).update(
        status=ProcessedEmailStatus.RECEIVED, reason="", attempts=0, processed_at=None
    )
    if not reset:
        current = ProcessedEmail.objects.filter(pk=processed_email.pk).values_list("status", flat=True).first()
        return ProcessedEmailStatus(current or ProcessedEmailStatus.FAILED)
    raw = ProcessedEmail.objects.filter(pk=processed_email.pk).values_list("raw", flat=True).first()
    if not raw:
        processed_email_mark_failed(
            processed_email_id=processed_email.pk,
            reason=_("The message was not stored (it was too large), so it cannot be processed again."),
        )
        return ProcessedEmailStatus.FAILED
    context = intake_context_load(inbox=processed_email.inbox)
    # The same guard as in a poll: a database error leaves it to the next poll, anything else
    # is recorded on the message, and neither becomes an error page.
    status = process_safely(
        row_id=processed_email.pk,
        inbox_id=processed_email.inbox_id,
        process=partial(
            processed_email_process_one, processed_email_id=processed_email.pk, raw=bytes(raw), context=context
        ),
    )
    logger.info("email reprocessed", extra={"processed_email_id": processed_email.pk, "status": status})
    return ProcessedEmailStatus(status)
