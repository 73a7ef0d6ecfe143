"""Writes on the outbox (EML-3, EML-4): one row per mail, written with the change that caused it.

``outgoing_mail_create`` is called inside the caller's transaction; the row is the side effect,
and the sending task is only woken once the transaction commits (``issuetracker.wakeups``). If
the broker cannot take the wake-up, the beat drain (``tasks.send_stalled_mail``) sends the row.
Sending itself lives in ``sending``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from email.utils import make_msgid
from typing import Any

from django.conf import settings
from django.utils import timezone

from attachments.models import Attachment
from inboxes.models import Inbox
from issuetracker.mailboxes import normalised_mailbox
from issuetracker.wakeups import publish_on_commit

from .models import OutgoingMail, OutgoingMailKind, OutgoingMailStatus
from .tasks import send_outgoing_mail, send_outgoing_mails


def choose_sending_inbox(*, board: Any, receiving_inbox: Inbox | None = None) -> Inbox | None:
    """EML-3: receiving inbox, else the board's exclusive inbox, else the manager's first active inbox."""
    if receiving_inbox is not None and receiving_inbox.is_active:
        return receiving_inbox
    exclusive = getattr(board, "exclusive_inbox", None)
    if exclusive is not None and exclusive.is_active:
        return exclusive
    return Inbox.objects.filter(manager_id=board.manager_id, is_active=True).order_by("created_at", "id").first()


def _message_id_domain(inbox: Inbox | None) -> str:
    address = inbox.from_address if inbox else settings.DEFAULT_FROM_EMAIL
    return address.rsplit("@", 1)[-1].strip(" >") or "localhost"


def outgoing_mail_create(
    *,
    kind: OutgoingMailKind,
    to_email: str,
    subject: str,
    body: str,
    manager: Any | None,
    inbox: Inbox | None,
    ticket: Any | None = None,
    in_reply_to: str = "",
    references: str = "",
    from_email: str = "",
    attachments: Sequence[Attachment] = (),
) -> OutgoingMail:
    """Write the mail; it is sent once the caller's transaction commits. ``attachments`` are
    read from storage only when the mail is built (ATT-3)."""
    mail = OutgoingMail.objects.create(
        kind=kind,
        manager=manager,
        inbox=inbox,
        ticket=ticket,
        from_email=from_email or (inbox.from_address if inbox else settings.DEFAULT_FROM_EMAIL),
        to_email=to_email,
        to_mailbox=_mailbox_or_empty(to_email),
        subject=" ".join(subject.splitlines()).strip()[:998],
        body=body,
        message_id=make_msgid(domain=_message_id_domain(inbox)),
        in_reply_to=in_reply_to,
        references=references,
    )
    if attachments:
        mail.attachments.set(attachments)
    _wake_on_commit(mail.pk)
    return mail


def _mailbox_or_empty(address: str) -> str:
    try:
        return normalised_mailbox(address)[:320]
    except ValueError:
        return ""


_batch = threading.local()


@contextmanager
def outgoing_mail_batch() -> Iterator[None]:
    """Send the mails created inside the block with one task, published when the block ends.

    Intake creates a confirmation per message; one publish per fetched batch instead of one per
    mail is a measurable share of intake time (bench/). Wrap whole transactions: by the end of
    the block each row is committed or rolled back, and a rolled-back id is a no-op for the
    task. Should the block end inside a transaction anyway, publishing waits for its commit.
    """
    if getattr(_batch, "ids", None) is not None:  # nested: the outermost block publishes
        yield
        return
    _batch.ids = []
    try:
        yield
    finally:
        mail_ids, _batch.ids = _batch.ids, None
        if mail_ids:
            publish_on_commit(send_outgoing_mails, mail_ids)


def _wake_on_commit(mail_id: int) -> None:
    pending = getattr(_batch, "ids", None)
    if pending is not None:
        pending.append(mail_id)
        return
    publish_on_commit(send_outgoing_mail, mail_id)


def outgoing_mail_retry(*, mail: OutgoingMail) -> bool:
    """A person asked to try a failed mail again (admin action, inbox page): a fresh budget."""
    updated = OutgoingMail.objects.filter(pk=mail.pk, status=OutgoingMailStatus.FAILED).update(
        status=OutgoingMailStatus.PENDING,
        attempts=0,
        next_attempt_at=timezone.now(),
        claimed_until=None,
        claim_token="",
    )
    if updated:
        _wake_on_commit(mail.pk)
    return bool(updated)


def outgoing_mail_suppress_confirmation(*, ticket_id: int, reason: str) -> None:
    """Keep the confirmation row, never send it (ING-7). Called in the transaction that created it,
    so the send task (woken on commit) finds it already decided."""
    OutgoingMail.objects.filter(
        ticket_id=ticket_id, kind=OutgoingMailKind.TICKET_CREATED, status=OutgoingMailStatus.PENDING
    ).update(status=OutgoingMailStatus.SUPPRESSED, last_error=reason[:1000])
