"""One stored message → a ticket, a standby item, a duplicate, or a failure (ING-2 … ING-8).

``processed_email_process`` is called for a ``ProcessedEmail`` row whose raw bytes are already
committed. Everything it creates is written in one transaction together with the row's new
status, and the row is locked first, so a message is handled exactly once even when a poll is
interrupted and repeated, or a reprocess races with a poll.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from boards.models import Board, Keyword
from tickets.models import TicketSource
from tickets.services import BoardClosedError, ticket_create

from .loops import automatic_reply_block_reason, confirmation_apply_loop_protection, suspension_reply_sent_recently
from .models import Inbox, OutgoingMailKind, ProcessedEmail, ProcessedEmailStatus, StandbyItem, StandbyReason
from .outbox import outgoing_mail_create
from .parsing import MessageParseError, ParsedMessage, parse_message
from .routing import BoardCandidate, route_message

logger = logging.getLogger(__name__)

MESSAGE_KEY_MAX_LENGTH = 255
SUBJECT_MAX_LENGTH = 998


@dataclass(frozen=True)
class IntakeContext:
    """What routing needs about an inbox and its manager, loaded once per poll."""

    inbox: Inbox
    manager: Any
    exclusive_board: BoardCandidate | None
    boards: tuple[BoardCandidate, ...]


def intake_context_load(*, inbox: Inbox) -> IntakeContext:
    manager = get_user_model().objects.get(pk=inbox.manager_id)
    rows = list(Board.objects.filter(manager_id=inbox.manager_id).values("id", "is_archived", "exclusive_inbox_id"))
    keywords: dict[int, list[str]] = {}
    for board_id, text in Keyword.objects.filter(board__manager_id=inbox.manager_id).values_list("board_id", "text"):
        keywords.setdefault(board_id, []).append(text)
    candidates = {
        row["id"]: BoardCandidate(
            board_id=row["id"],
            keywords=tuple(keywords.get(row["id"], ())),
            is_archived=row["is_archived"],
            has_exclusive_inbox=row["exclusive_inbox_id"] is not None,
        )
        for row in rows
    }
    exclusive = next((candidates[row["id"]] for row in rows if row["exclusive_inbox_id"] == inbox.pk), None)
    return IntakeContext(inbox=inbox, manager=manager, exclusive_board=exclusive, boards=tuple(candidates.values()))


def message_key(parsed: ParsedMessage, raw: bytes) -> str:
    """The Message-ID deduplication is keyed on (ING-4).

    A message without one is keyed on a hash of its bytes, so the very same message fetched again
    (after a UIDVALIDITY change, say) is still recognised. Overlong or non-ASCII ids are hashed
    too, to keep the unique index within its size limit.
    """
    message_id = parsed.message_id or ""
    if message_id and len(message_id) <= MESSAGE_KEY_MAX_LENGTH and message_id.isascii():
        return message_id
    source = message_id.encode("utf-8", "replace") if message_id else raw
    suffix = "long-message-id.invalid" if message_id else "no-message-id.invalid"
    return f"<{hashlib.sha256(source).hexdigest()}@{suffix}>"


@dataclass
class _Outcome:
    status: ProcessedEmailStatus
    reason: str = ""
    ticket_id: int | None = None


class _AlreadyHandled(Exception):
    pass


def processed_email_process(*, processed_email_id: int, raw: bytes, context: IntakeContext) -> ProcessedEmailStatus:
    """Handle one stored message. Returns the status it ended in.

    A parse failure or an unplaceable message ends as ``failed`` with a reason. A database error
    propagates, leaving the row ``received`` (nothing of it was committed) for the caller to retry.
    """
    try:
        parsed: ParsedMessage | None = parse_message(raw)
        parse_failure = ""
    except MessageParseError as exc:
        parsed, parse_failure = None, str(exc)
    key = message_key(parsed, raw) if parsed is not None else ""
    try:
        with transaction.atomic():
            row = _lock_unhandled(processed_email_id)
            if parsed is None:
                outcome = _Outcome(ProcessedEmailStatus.FAILED, _("The message could not be read: %s") % parse_failure)
            else:
                outcome = _decide(row=row, parsed=parsed, key=key, context=context)
            _save(row=row, parsed=parsed, key=key, outcome=outcome)
    except _AlreadyHandled as handled:
        return ProcessedEmailStatus(str(handled))
    except IntegrityError:
        # Only a concurrent reprocess of a copy of this message can get here: the other one
        # committed its Message-ID first, so this one is the duplicate.
        if not key or not _key_taken(context.inbox.pk, key, exclude_pk=processed_email_id):
            raise
        with transaction.atomic():
            row = _lock_unhandled(processed_email_id)
            outcome = _Outcome(ProcessedEmailStatus.DUPLICATE, _("A message with the same Message-ID was processed."))
            _save(row=row, parsed=parsed, key=key, outcome=outcome)
    logger.info(
        "email processed",
        extra={
            "inbox_id": context.inbox.pk,
            "processed_email_id": processed_email_id,
            "status": outcome.status,
            "ticket_id": outcome.ticket_id,
        },
    )
    return outcome.status


def _lock_unhandled(processed_email_id: int) -> ProcessedEmail:
    row = (
        ProcessedEmail.objects.select_for_update()
        .only("id", "inbox_id", "status", "received_at", "imap_uid")
        .get(pk=processed_email_id)
    )
    if row.status != ProcessedEmailStatus.RECEIVED:
        raise _AlreadyHandled(row.status)
    return row


def _key_taken(inbox_id: int, key: str, *, exclude_pk: int) -> bool:
    return (
        ProcessedEmail.objects.filter(inbox_id=inbox_id, message_id=key)
        .exclude(status=ProcessedEmailStatus.DUPLICATE)
        .exclude(pk=exclude_pk)
        .exists()
    )


def _decide(*, row: ProcessedEmail, parsed: ParsedMessage, key: str, context: IntakeContext) -> _Outcome:
    inbox = context.inbox
    if _key_taken(inbox.pk, key, exclude_pk=row.pk):
        return _Outcome(ProcessedEmailStatus.DUPLICATE, _("A message with the same Message-ID was already processed."))
    if context.manager.is_suspended:
        return _answer_suspended(parsed=parsed, context=context)
    if not parsed.sender_email:
        return _Outcome(
            ProcessedEmailStatus.FAILED,
            _("The message has no sender address, so no ticket can be opened for anyone."),
        )
    if _recent_same_subject(row=row, parsed=parsed, inbox_id=inbox.pk):
        return _Outcome(
            ProcessedEmailStatus.DUPLICATE,
            _("The same sender sent the same subject to this inbox less than %(minutes)s minutes earlier.")
            % {"minutes": settings.DUPLICATE_EMAIL_THRESHOLD_MINUTES},
        )
    decision = route_message(subject=parsed.subject, exclusive_board=context.exclusive_board, boards=context.boards)
    if decision.board_id is not None:
        board = Board.objects.select_related("manager").get(pk=decision.board_id)
        try:
            ticket = ticket_create(
                board=board,
                title=parsed.title,
                description=parsed.description,
                creator_email=parsed.sender_email,
                source=TicketSource.EMAIL,
                receiving_inbox=inbox,
                source_message_id=parsed.message_id or "",
                source_references=" ".join(parsed.references),
            )
        except BoardClosedError:
            # Archived since this poll loaded the boards.
            return _queue(parsed=parsed, row=row, context=context, reason=StandbyReason.NO_BOARD_MATCH)
        suppressed = confirmation_apply_loop_protection(
            ticket_id=ticket.pk, inbox=inbox, auto_generated_reason=parsed.auto_generated_reason or ""
        )
        return _Outcome(ProcessedEmailStatus.TICKET, suppressed, ticket_id=ticket.pk)
    assert decision.standby_reason is not None
    return _queue(parsed=parsed, row=row, context=context, reason=decision.standby_reason)


def _recent_same_subject(*, row: ProcessedEmail, parsed: ParsedMessage, inbox_id: int) -> bool:
    window = timedelta(minutes=settings.DUPLICATE_EMAIL_THRESHOLD_MINUTES)
    if window <= timedelta(0):
        return False
    return (
        ProcessedEmail.objects.filter(
            inbox_id=inbox_id,
            sender_email=parsed.sender_email or "",
            subject=parsed.subject[:SUBJECT_MAX_LENGTH],
            status__in=(ProcessedEmailStatus.TICKET, ProcessedEmailStatus.QUEUED),
            received_at__gt=row.received_at - window,
            received_at__lt=row.received_at + window,
        )
        .exclude(pk=row.pk)
        .exists()
    )


def _queue(*, parsed: ParsedMessage, row: ProcessedEmail, context: IntakeContext, reason: StandbyReason) -> _Outcome:
    StandbyItem.objects.create(
        manager_id=context.inbox.manager_id,
        receiving_inbox=context.inbox,
        processed_email_id=row.pk,
        subject=parsed.subject[:SUBJECT_MAX_LENGTH],
        body=parsed.body,
        sender_email=parsed.sender_email or "",
        sender_name=parsed.sender_name[:255],
        message_id=parsed.message_id or "",
        references=" ".join(parsed.references),
        auto_generated_reason=(parsed.auto_generated_reason or "")[:40],
        reason=reason,
    )
    return _Outcome(ProcessedEmailStatus.QUEUED, str(reason.label))


def _answer_suspended(*, parsed: ParsedMessage, context: IntakeContext) -> _Outcome:
    """ING-8: create nothing; answer with the suspension message at most once per sender per day."""
    manager, inbox = context.manager, context.inbox
    note = _("The account is suspended, so nothing was created.")
    sender = parsed.sender_email
    if not sender:
        return _Outcome(ProcessedEmailStatus.IGNORED, note)
    if suspension_reply_sent_recently(manager_id=manager.pk, to_email=sender):
        return _Outcome(ProcessedEmailStatus.IGNORED, note + " " + _("The sender was already answered today."))
    blocked = automatic_reply_block_reason(
        inbox=inbox, to_email=sender, auto_generated_reason=parsed.auto_generated_reason
    )
    if blocked:
        return _Outcome(ProcessedEmailStatus.IGNORED, f"{note} {blocked}")
    context_vars = {"subject": parsed.title, "suspension_message": manager.suspension_message}
    # The answer goes to a stranger: the site's default language, not whoever runs the worker.
    with override(settings.LANGUAGE_CODE):
        subject = " ".join(render_to_string("inboxes/emails/suspension_reply.subject.txt", context_vars).split())
        body = render_to_string("inboxes/emails/suspension_reply.txt", context_vars).strip() + "\n"
    outgoing_mail_create(
        kind=OutgoingMailKind.SUSPENSION_REPLY,
        to_email=sender,
        subject=subject,
        body=body,
        manager=manager,
        inbox=inbox,
        in_reply_to=parsed.message_id or "",
        references=" ".join([*parsed.references, parsed.message_id or ""]).strip(),
    )
    return _Outcome(
        ProcessedEmailStatus.IGNORED, note + " " + _("The sender was answered with the suspension message.")
    )


def _save(*, row: ProcessedEmail, parsed: ParsedMessage | None, key: str, outcome: _Outcome) -> None:
    fields: dict[str, object] = {
        "status": outcome.status,
        "reason": outcome.reason,
        "ticket_id": outcome.ticket_id,
        "processed_at": timezone.now(),
    }
    if parsed is not None:
        fields.update(
            message_id=key,
            subject=parsed.subject[:SUBJECT_MAX_LENGTH],
            sender_email=(parsed.sender_email or "")[:320],
        )
    updated = ProcessedEmail.objects.filter(pk=row.pk, status=ProcessedEmailStatus.RECEIVED).update(**fields)
    if updated != 1:
        raise _AlreadyHandled(ProcessedEmailStatus.RECEIVED)


def processed_email_record_attempt(*, processed_email_id: int, reason: str, max_attempts: int) -> bool:
    """A database error interrupted processing: count it; give up (failed) after ``max_attempts``.

    Returns True when the message will be tried again.
    """
    row = ProcessedEmail.objects.filter(pk=processed_email_id, status=ProcessedEmailStatus.RECEIVED).first()
    if row is None:
        return False
    attempts = row.attempts + 1
    if attempts >= max_attempts:
        ProcessedEmail.objects.filter(pk=row.pk, status=ProcessedEmailStatus.RECEIVED).update(
            attempts=attempts,
            status=ProcessedEmailStatus.FAILED,
            reason=_("Processing failed %(count)s times: %(reason)s") % {"count": attempts, "reason": reason},
            processed_at=timezone.now(),
        )
        return False
    ProcessedEmail.objects.filter(pk=row.pk, status=ProcessedEmailStatus.RECEIVED).update(
        attempts=attempts, reason=reason
    )
    return True


def processed_email_mark_failed(*, processed_email_id: int, reason: str) -> None:
    ProcessedEmail.objects.filter(pk=processed_email_id, status=ProcessedEmailStatus.RECEIVED).update(
        status=ProcessedEmailStatus.FAILED, reason=reason, processed_at=timezone.now()
    )


def received_at_or_now(value: datetime | None) -> datetime:
    now = timezone.now()
    return now if value is None or value > now else value
