"""One stored message → a ticket, a standby item, a duplicate, or a failure (ING-2 … ING-8).

``processed_email_process`` is called for a ``ProcessedEmail`` row whose raw bytes are already
committed. Everything it creates is written in one transaction (a savepoint inside the poller's
batch) together with the row's change away from ``received``, which is a conditional UPDATE: a
second attempt at the same row, after a crash or racing a reprocess, finds it changed and rolls
its own work back. So a message is handled exactly once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from attachments.services import mail_files_add
from boards.models import Board, Keyword
from outbox.loops import block_reason, suspension_reply_sent_recently
from outbox.models import OutgoingMailKind
from outbox.rendering import render_mail
from outbox.services import outgoing_mail_create, outgoing_mail_suppress_confirmation
from standby.models import StandbyFollowUp, StandbyItem, StandbyReason
from tickets.errors import BoardClosedError
from tickets.models import EntrySource, TicketSource
from tickets.services import ticket_add_reporter_message, ticket_create

from .batch_facts import SUBJECT_MAX_LENGTH, BatchFacts, StoredMessage, stored_message_parse
from .models import Inbox, ProcessedEmail, ProcessedEmailStatus, inbox_reporter_language
from .parsing import MailPart, ParsedMessage, PartNotKept, parts_within_limits
from .replies import thread_target
from .routing import BoardCandidate, route_message

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IntakeContext:
    """What routing needs about an inbox and its manager; the poller reloads it per batch, so a
    board archived mid-poll stops taking mail within one batch."""

    inbox: Inbox
    manager: Any
    exclusive_board: BoardCandidate | None
    boards: tuple[BoardCandidate, ...]
    board_by_id: dict[int, Board]


def intake_context_load(*, inbox: Inbox) -> IntakeContext:
    manager = get_user_model().objects.get(pk=inbox.manager_id)
    boards = list(Board.objects.filter(manager_id=inbox.manager_id))
    keywords: dict[int, list[str]] = {}
    for board_id, text in Keyword.objects.filter(board__manager_id=inbox.manager_id).values_list("board_id", "text"):
        keywords.setdefault(board_id, []).append(text)
    candidates = {}
    for board in boards:
        board.manager = manager
        candidates[board.pk] = BoardCandidate(
            board_id=board.pk,
            keywords=tuple(keywords.get(board.pk, ())),
            is_archived=board.is_archived,
            has_exclusive_inbox=board.exclusive_inbox_id is not None,
        )
    exclusive = next((candidates[board.pk] for board in boards if board.exclusive_inbox_id == inbox.pk), None)
    return IntakeContext(
        inbox=inbox,
        manager=manager,
        exclusive_board=exclusive,
        boards=tuple(candidates.values()),
        board_by_id={board.pk: board for board in boards},
    )


@dataclass
class _Outcome:
    status: ProcessedEmailStatus
    reason: str = ""
    ticket_id: int | None = None
    # An automatic mail went to the sender (counts towards the hourly limit of THR-6).
    answered: bool = False


class _AlreadyHandled(Exception):
    pass


def processed_email_process_one(
    *, processed_email_id: int, raw: bytes, context: IntakeContext, received_at: datetime | None = None
) -> ProcessedEmailStatus:
    """Parse and handle a single stored message (a retry, a reprocess); the poller batches instead."""
    if received_at is None:
        received_at = ProcessedEmail.objects.values_list("received_at", flat=True).get(pk=processed_email_id)
    message = stored_message_parse(row_id=processed_email_id, raw=raw, received_at=received_at)
    facts = BatchFacts.load(inbox=context.inbox, messages=[message])
    return processed_email_process(message=message, context=context, facts=facts)


def processed_email_process(
    *, message: StoredMessage, context: IntakeContext, facts: BatchFacts, isolated: bool = True
) -> ProcessedEmailStatus:
    """Handle one stored message. Returns the status it ended in.

    A parse failure or an unplaceable message ends as ``failed`` with a reason. A database error
    propagates, leaving the row ``received`` (nothing of it was committed) for the caller to retry.
    The row's status changes only from ``received``, in the same transaction as everything the
    message created, so whoever commits first wins and anyone else rolls back (exactly once).

    ``isolated=False`` (the poller's fast path) skips the message's own savepoint: then any
    exception, including a lost race, must roll back the caller's whole transaction.
    """
    if not isolated:
        with transaction.atomic(savepoint=False):
            outcome = _outcome_and_save(message=message, context=context, facts=facts)
        return _finish(message=message, outcome=outcome, context=context, facts=facts)
    try:
        with transaction.atomic():
            outcome = _outcome_and_save(message=message, context=context, facts=facts)
    except _AlreadyHandled:
        current = ProcessedEmail.objects.values_list("status", flat=True).get(pk=message.row_id)
        return ProcessedEmailStatus(current)
    except IntegrityError:
        # Only a concurrent reprocess of a copy of this message can get here: the other one
        # committed its Message-ID first, so this one is the duplicate.
        if not message.key or not _key_taken(context.inbox.pk, message.key, exclude_pk=message.row_id):
            raise
        outcome = _Outcome(ProcessedEmailStatus.DUPLICATE, _("A message with the same Message-ID was processed."))
        with transaction.atomic():
            _save(message=message, outcome=outcome)
    return _finish(message=message, outcome=outcome, context=context, facts=facts)


def _outcome_and_save(*, message: StoredMessage, context: IntakeContext, facts: BatchFacts) -> _Outcome:
    if message.parsed is None:
        outcome = _Outcome(ProcessedEmailStatus.FAILED, _("The message could not be read: %s") % message.parse_failure)
    else:
        outcome = _decide(message=message, parsed=message.parsed, context=context, facts=facts)
    _save(message=message, outcome=outcome)
    return outcome


def _finish(
    *, message: StoredMessage, outcome: _Outcome, context: IntakeContext, facts: BatchFacts
) -> ProcessedEmailStatus:
    facts.record(message, status=outcome.status, answered=outcome.answered, ticket_id=outcome.ticket_id)
    logger.info(
        "email processed",
        extra={
            "inbox_id": context.inbox.pk,
            "processed_email_id": message.row_id,
            "status": outcome.status,
            "ticket_id": outcome.ticket_id,
        },
    )
    return outcome.status


def _key_taken(inbox_id: int, key: str, *, exclude_pk: int) -> bool:
    return (
        ProcessedEmail.objects.filter(inbox_id=inbox_id, message_id=key)
        .exclude(status=ProcessedEmailStatus.DUPLICATE)
        .exclude(pk=exclude_pk)
        .exists()
    )


def _decide(*, message: StoredMessage, parsed: ParsedMessage, context: IntakeContext, facts: BatchFacts) -> _Outcome:
    inbox = context.inbox
    if facts.same_message_id_seen(message):
        return _Outcome(ProcessedEmailStatus.DUPLICATE, _("A message with the same Message-ID was already processed."))
    if context.manager.is_suspended:
        return _answer_suspended(parsed=parsed, context=context, facts=facts)
    if not parsed.sender_email:
        return _Outcome(
            ProcessedEmailStatus.FAILED,
            _("The message has no sender address, so no ticket can be opened for anyone."),
        )
    if parsed.auto_generated_reason and facts.is_own_address(parsed.sender_email):
        # Our own robot's mail (a notification, a confirmation) delivered back into a polled
        # inbox: a ticket for it would notify again and loop for ever.
        return _Outcome(
            ProcessedEmailStatus.IGNORED,
            _("Automatic mail from this site's own address (%(reason)s): nothing to open a ticket for.")
            % {"reason": parsed.auto_generated_reason},
        )
    if facts.same_content_recently(message):
        return _Outcome(
            ProcessedEmailStatus.DUPLICATE,
            _(
                "The same sender sent the same subject and text, without a Message-ID, to this inbox less than "
                "%(minutes)s minutes earlier."
            )
            % {"minutes": settings.DUPLICATE_EMAIL_THRESHOLD_MINUTES},
        )
    followed_up = _follow_up(message=message, parsed=parsed, context=context, facts=facts)
    if followed_up is not None:
        return followed_up
    decision = route_message(subject=parsed.subject, exclusive_board=context.exclusive_board, boards=context.boards)
    if decision.board_id is None:
        assert decision.standby_reason is not None
        return _queue(parsed=parsed, row_id=message.row_id, context=context, reason=decision.standby_reason)
    blocked = block_reason(
        auto_generated_reason=parsed.auto_generated_reason,
        own_address=facts.is_own_address(parsed.sender_email),
        to_email=parsed.sender_email,
        automatic_mail_counts=facts.automatic_mail_counts,
    )
    try:
        ticket = ticket_create(
            board=context.board_by_id[decision.board_id],
            title=parsed.title,
            description=parsed.description,
            creator_email=parsed.sender_email,
            source=TicketSource.EMAIL,
            receiving_inbox=inbox,
            source_message_id=parsed.message_id or "",
            source_references=" ".join(parsed.references),
            reporter_language=inbox_reporter_language(inbox=inbox, manager=context.manager),
        )
    except BoardClosedError:
        return _queue(parsed=parsed, row_id=message.row_id, context=context, reason=StandbyReason.NO_BOARD_MATCH)
    _keep_files(parsed, ticket=ticket)
    if blocked:
        outgoing_mail_suppress_confirmation(ticket_id=ticket.pk, reason=blocked)
    return _Outcome(ProcessedEmailStatus.TICKET, blocked or "", ticket_id=ticket.pk, answered=not blocked)


def _follow_up(
    *, message: StoredMessage, parsed: ParsedMessage, context: IntakeContext, facts: BatchFacts
) -> _Outcome | None:
    """THR-4: a mail that continues a conversation joins its ticket or its standby item."""
    target = thread_target(
        manager_id=context.inbox.manager_id,
        sender_email=parsed.sender_email or "",
        in_reply_to=parsed.in_reply_to,
        references=parsed.references,
        subject=parsed.subject,
        earlier=facts.earlier_in_conversation(message),
    )
    if target is None:
        return None
    if target.ticket is not None:
        ticket = target.ticket
        if parsed.auto_generated_reason:
            # An out-of-office answer to our notification: neither a new ticket nor a message on it.
            return _Outcome(
                ProcessedEmailStatus.IGNORED,
                _("An automatic answer (%(reason)s) to a mail about ticket “%(title)s”.")
                % {"reason": parsed.auto_generated_reason, "title": ticket.title},
                ticket_id=ticket.pk,
            )
        entry = ticket_add_reporter_message(
            ticket=ticket,
            body=parsed.body,
            sender_email=parsed.sender_email or "",
            source=EntrySource.EMAIL,
            message_id=parsed.message_id or "",
        )
        _keep_files(parsed, ticket=ticket, entry=entry)
        return _Outcome(
            ProcessedEmailStatus.REPLY, _("Added to ticket “%(title)s”.") % {"title": ticket.title}, ticket_id=ticket.pk
        )
    item = target.standby_item
    assert item is not None
    follow_up = StandbyFollowUp.objects.create(
        item=item,
        processed_email_id=message.row_id,
        sender_email=(parsed.sender_email or "")[:320],
        body=parsed.body,
        message_id=parsed.message_id or "",
    )
    _keep_files(parsed, standby_follow_up=follow_up)
    return _Outcome(
        ProcessedEmailStatus.QUEUED,
        _("A follow-up of “%(subject)s”, waiting with it in the standby queue.") % {"subject": item.title},
    )


def _queue(*, parsed: ParsedMessage, row_id: int, context: IntakeContext, reason: StandbyReason) -> _Outcome:
    item = StandbyItem.objects.create(
        manager_id=context.inbox.manager_id,
        receiving_inbox=context.inbox,
        processed_email_id=row_id,
        subject=parsed.subject[:SUBJECT_MAX_LENGTH],
        body=parsed.body,
        sender_email=parsed.sender_email or "",
        sender_name=parsed.sender_name[:255],
        message_id=parsed.message_id or "",
        references=" ".join(parsed.references),
        auto_generated_reason=(parsed.auto_generated_reason or "")[:40],
        reason=reason,
    )
    _keep_files(parsed, standby_item=item)
    return _Outcome(ProcessedEmailStatus.QUEUED, str(reason.label))


def mail_files_within_limits(parsed: ParsedMessage) -> tuple[list[MailPart], list[PartNotKept]]:
    """The mail's files to keep under the upload limits (ATT-2), and every one left out.

    The mail itself is taken in whatever its files weigh; only the bytes over a limit are dropped.
    """
    megabyte = 1024 * 1024
    kept, refused = parts_within_limits(
        parsed.parts,
        max_files=settings.ATTACHMENT_MAX_FILES,
        max_file_bytes=settings.ATTACHMENT_MAX_FILE_MB * megabyte,
        max_total_bytes=settings.ATTACHMENT_MAX_SUBMIT_MB * megabyte,
    )
    return kept, [*parsed.parts_not_kept, *refused]


def _keep_files(parsed: ParsedMessage, **owner: Any) -> None:
    if not parsed.parts and not parsed.parts_not_kept:
        return
    kept, not_kept = mail_files_within_limits(parsed)
    mail_files_add(files=kept, not_kept=not_kept, **owner)


def _answer_suspended(*, parsed: ParsedMessage, context: IntakeContext, facts: BatchFacts) -> _Outcome:
    """ING-8: create nothing; answer with the suspension message at most once per sender per day."""
    manager, inbox = context.manager, context.inbox
    note = _("The account is suspended, so nothing was created.")
    sender = parsed.sender_email
    if not sender:
        return _Outcome(ProcessedEmailStatus.IGNORED, note)
    if suspension_reply_sent_recently(manager_id=manager.pk, to_email=sender):
        return _Outcome(ProcessedEmailStatus.IGNORED, note + " " + _("The sender was already answered today."))
    blocked = block_reason(
        auto_generated_reason=parsed.auto_generated_reason,
        own_address=facts.is_own_address(sender),
        to_email=sender,
        automatic_mail_counts=facts.automatic_mail_counts,
    )
    if blocked:
        return _Outcome(ProcessedEmailStatus.IGNORED, f"{note} {blocked}")
    context_vars = {"subject": parsed.title, "suspension_message": manager.suspension_message}
    # In the language of mail to reporters set for the inbox (THR-9), not whoever runs the worker.
    rendered = render_mail(
        "inboxes/emails/suspension_reply", context_vars, language=inbox_reporter_language(inbox=inbox, manager=manager)
    )
    outgoing_mail_create(
        kind=OutgoingMailKind.SUSPENSION_REPLY,
        to_email=sender,
        subject=rendered.subject,
        body=rendered.body,
        manager=manager,
        inbox=inbox,
        in_reply_to=parsed.message_id or "",
        references=" ".join([*parsed.references, parsed.message_id or ""]).strip(),
    )
    return _Outcome(
        ProcessedEmailStatus.IGNORED,
        note + " " + _("The sender was answered with the suspension message."),
        answered=True,
    )


def _save(*, message: StoredMessage, outcome: _Outcome) -> None:
    fields: dict[str, object] = {
        "status": outcome.status,
        "reason": outcome.reason,
        "ticket_id": outcome.ticket_id,
        "processed_at": timezone.now(),
    }
    if message.parsed is not None:
        fields.update(
            message_id=message.key,
            subject=message.subject,
            sender_email=message.sender,
            content_hash=message.content_hash,
        )
    # Blocks on a concurrent writer of this row, then sees its committed status.
    updated = ProcessedEmail.objects.filter(pk=message.row_id, status=ProcessedEmailStatus.RECEIVED).update(**fields)
    if updated != 1:
        raise _AlreadyHandled


def processed_email_record_attempt(*, processed_email_id: int, reason: str, max_attempts: int) -> bool:
    """A database error interrupted processing: count it; give up (failed) after ``max_attempts``.

    Returns True when the message will be tried again.
    """
    pending = ProcessedEmail.objects.filter(pk=processed_email_id, status=ProcessedEmailStatus.RECEIVED)
    previous = pending.values_list("attempts", flat=True).first()
    if previous is None:
        return False
    attempts = previous + 1
    if attempts >= max_attempts:
        pending.update(
            attempts=attempts,
            status=ProcessedEmailStatus.FAILED,
            reason=_("Processing failed %(count)s times: %(reason)s") % {"count": attempts, "reason": reason},
            processed_at=timezone.now(),
        )
        return False
    pending.update(attempts=attempts, reason=reason)
    return True


def processed_email_mark_failed(*, processed_email_id: int, reason: str) -> None:
    ProcessedEmail.objects.filter(pk=processed_email_id, status=ProcessedEmailStatus.RECEIVED).update(
        status=ProcessedEmailStatus.FAILED, reason=reason, processed_at=timezone.now()
    )


def received_at_or_now(value: datetime | None, *, now: datetime) -> datetime:
    return now if value is None or value > now else value
