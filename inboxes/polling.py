"""Polling one inbox (ING-1, ING-5): claim it, fetch new mail by UID in batches, take each in.

The order of a poll is what makes intake exactly-once:

1. Claim the inbox (``issuetracker.leases``), so two workers never poll it at the same time. The
   lease is short and a heartbeat thread keeps it alive while the poll runs, so a killed
   worker's claim runs out within a minute; a poll that lost it stops before touching the
   mailbox again, and a warm shutdown stops a poll between batches and hands the inbox back.
2. Fetch a batch by UID (BODY.PEEK[], so nothing is marked \\Seen yet) and store the raw bytes,
   one row per (inbox, UIDVALIDITY, UID), before parsing anything.
3. Parse the batch, read what dedup and loop protection need in a few queries (``batch_facts``),
   then process each message in its own savepoint of one transaction per fetch (``intake``):
   one bad message never stops the others.
4. Only after that commit mark the handled messages \\Seen, and remember the last UID.

A crash anywhere leads to a re-poll that finds the stored rows and skips what they say is done.
Mail is never deleted from the server.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from celery.exceptions import SoftTimeLimitExceeded
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from issuetracker.crypto import DecryptionError
from issuetracker.leases import Claim, Heartbeat, LeaseFields, LeaseLostError, lease_claim
from notifications.services import notify_inbox_failing
from outbox.services import outgoing_mail_batch

from .batch_facts import BatchFacts, StoredMessage, stored_message_parse
from .imap import FetchedMessage, ImapError, ImapMailbox, ImapSettings
from .intake import (
    IntakeContext,
    intake_context_load,
    processed_email_mark_failed,
    processed_email_process,
    processed_email_process_one,
    processed_email_record_attempt,
    received_at_or_now,
)
from .models import HANDLED_STATUSES, Inbox, PollInterval, ProcessedEmail, ProcessedEmailStatus

logger = logging.getLogger(__name__)

LEASE_FIELDS = LeaseFields(until="poll_lease_until", token="poll_lease_token")
# Short, and renewed by a heartbeat thread every HEARTBEAT: a worker killed mid-poll (SIGKILL,
# out of memory) stops beating, and the next beat tick after LEASE polls the inbox again.
LEASE = timedelta(seconds=60)
HEARTBEAT = timedelta(seconds=15)
# The poll itself renews before a mailbox command or message once this much has passed; checking
# is a clock read, cheap enough to do that often.
RENEW_AFTER = timedelta(seconds=15)
# A poll stuck past every time limit stops being renewed, so another worker can take the inbox.
MAX_HOLD = timedelta(minutes=5)
# A poll takes no new batch after this long; the rest waits for the next poll, so one inbox with
# a big backlog or a slow server holds a polling worker only so long (ING-1). The task's time
# limits (tasks.py) stop a poll stuck inside one step, before its lease could run out.
POLL_TIME_BUDGET = timedelta(minutes=3)
BATCH_SIZE = 50
# Bodies of one FETCH held in memory at once; the worker stays flat as the mailbox grows.
BATCH_MAX_BYTES = 20 * 1024 * 1024
MAX_MESSAGE_BYTES = 25 * 1024 * 1024
MAX_ATTEMPTS = 5
# Rows left ``received`` by an earlier database error, retried from their stored bytes per poll.
RETRIES_PER_POLL = 200
DUE_SLACK = timedelta(seconds=5)


# Set when the worker begins a warm shutdown (tasks.py connects it to Celery's signal): polls stop
# at the next batch and hand their inbox back instead of running on until they are killed. A
# process-shared event, made when the worker imports its tasks and before it forks its pool, so
# the signal that reaches only the main process (SIGTERM from a deploy) reaches every pool process.
shutdown_requested = multiprocessing.get_context("fork").Event()


class _Lease:
    """Our claim on an inbox while we poll it, kept alive by a heartbeat."""

    def __init__(self, *, heartbeat: Heartbeat) -> None:
        self.heartbeat = heartbeat
        self.started = time.monotonic()

    def renew(self, **progress: object) -> None:
        """Save progress with the lease; raises LeaseLostError when the inbox is no longer ours."""
        self.heartbeat.renew(**progress)

    def keep(self) -> None:
        """Call before each mailbox command and between messages; raises LeaseLostError."""
        self.heartbeat.keep()

    def should_stop(self) -> bool:
        """Between batches: out of time, or the worker is shutting down."""
        return shutdown_requested.is_set() or time.monotonic() - self.started >= POLL_TIME_BUDGET.total_seconds()


@dataclass
class PollResult:
    claimed: bool
    fetched: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    error: str = ""


def imap_settings_for(inbox: Inbox) -> ImapSettings:
    try:
        password = inbox.get_imap_password()
    except DecryptionError as exc:
        raise ImapError(
            _("IMAP: the stored password cannot be decrypted (was ENCRYPTION_KEY changed?). Enter it again.")
        ) from exc
    return ImapSettings(
        host=inbox.imap_host,
        port=inbox.imap_port,
        username=inbox.imap_username,
        password=password,
        use_ssl=inbox.imap_use_ssl,
    )


def due_inbox_ids(*, now: datetime | None = None) -> list[int]:
    """Active inboxes whose interval has passed and that nobody is polling right now."""
    now = now or timezone.now()
    due = Q(last_polled_at__isnull=True)
    for interval in PollInterval.values:
        due |= Q(poll_interval_minutes=interval, last_polled_at__lte=now - timedelta(minutes=interval) + DUE_SLACK)
    free = Q(poll_lease_until__isnull=True) | Q(poll_lease_until__lt=now)
    return list(Inbox.objects.active().filter(due, free).order_by("last_polled_at", "id").values_list("pk", flat=True))


def inbox_poll(*, inbox: Inbox, batch_size: int = BATCH_SIZE) -> PollResult:
    """Poll one inbox. Never raises: every failure is recorded on the inbox and logged."""
    claim = lease_claim(
        Inbox.objects.filter(is_active=True),
        pk=inbox.pk,
        fields=LEASE_FIELDS,
        duration=LEASE,
        last_polled_at=timezone.now(),
    )
    if claim is None:
        logger.info("inbox poll skipped, claimed elsewhere", extra={"inbox_id": inbox.pk})
        return PollResult(claimed=False)
    result = PollResult(claimed=True)
    log_extra = {"inbox_id": inbox.pk, "imap_host": inbox.imap_host}
    try:
        inbox.refresh_from_db()
        heartbeat = Heartbeat(claim, duration=LEASE, every=HEARTBEAT, renew_after=RENEW_AFTER, max_hold=MAX_HOLD)
        with heartbeat.running():
            _poll_claimed(inbox=inbox, lease=_Lease(heartbeat=heartbeat), batch_size=batch_size, result=result)
    except ImapError as exc:
        result.error = str(exc)
        logger.warning("inbox poll failed", extra={**log_extra, "error": result.error})
    except LeaseLostError:
        result.error = _("The poll was interrupted because another worker took over the inbox.")
        logger.warning("inbox poll lost its lease", extra=log_extra)
        return result
    except SoftTimeLimitExceeded:
        result.error = _("The poll took too long and was stopped; the next poll continues where it ended.")
        logger.warning("inbox poll hit its time limit", extra=log_extra)
    except Exception as exc:
        result.error = _("Polling stopped on an unexpected error (%(error)s).") % {"error": exc.__class__.__name__}
        logger.exception("inbox poll crashed", extra=log_extra)
    _finish(claim=claim, error=result.error)
    logger.info(
        "inbox polled",
        extra={**log_extra, "fetched": result.fetched, "outcomes": dict(result.outcomes), "error": result.error},
    )
    return result


def _finish(*, claim: Claim, error: str) -> None:
    now = timezone.now()
    fields: dict[str, object] = {}
    if error:
        fields.update(last_error=error, last_error_at=now)
    else:
        # Recovery: an empty last_error ends the failure streak and the managers' banner (THR-8).
        fields.update(last_error="", last_success_at=now)
    try:
        _drop_broken_connection()
        if not error:
            claim.release(**fields)
            return
        with transaction.atomic():
            # The previous outcome, read under a row lock with the write that replaces it: only
            # the poll that turns a working inbox into a failing one tells the manager, so a
            # failure streak makes one notification however many polls it lasts.
            previous_error = claim.still_held().select_for_update().values_list("last_error", flat=True).first()
            if claim.release(**fields) and previous_error == "":
                _notify_failing(inbox_id=claim.pk, error=error)
    except DatabaseError:
        # The lease runs out on its own; the next poll records whatever is still wrong.
        logger.exception("could not record the end of an inbox poll", extra={"inbox_id": claim.pk})


def _notify_failing(*, inbox_id: int, error: str) -> None:
    """Tell the manager, in a savepoint: a notification that cannot be written or rendered is
    logged, and never costs the record of the poll's outcome."""
    try:
        with transaction.atomic():
            notify_inbox_failing(inbox=Inbox.objects.select_related("manager").get(pk=inbox_id), error=error)
    except Exception:
        logger.exception("could not notify the manager of a failing inbox", extra={"inbox_id": inbox_id})


def _poll_claimed(*, inbox: Inbox, lease: _Lease, batch_size: int, result: PollResult) -> None:
    with ImapMailbox(imap_settings_for(inbox)) as mailbox:
        lease.keep()
        uidvalidity = mailbox.uidvalidity
        assert uidvalidity is not None
        known_mailbox = inbox.imap_uidvalidity == uidvalidity
        tried: set[int] = set()
        if known_mailbox:
            uids = mailbox.search_uids(after_uid=inbox.imap_last_uid)
        else:
            # A new mailbox (or one whose UIDs were reset): take in what is unread, not years of
            # archive. The position is saved only once all of it is done, so an interrupted first
            # poll repeats this search instead of continuing with old read mail.
            uid_next = mailbox.uid_next()
            uids = [uid for uid in mailbox.search_uids(after_uid=None) if uid < uid_next]
            logger.info(
                "new mailbox, taking in unread mail",
                extra={"inbox_id": inbox.pk, "uidvalidity": uidvalidity, "unread": len(uids)},
            )
        for number, batch in enumerate(_chunks(uids, batch_size)):
            if number and lease.should_stop():
                logger.info(
                    "inbox poll stopped (time used or worker shutting down), the rest waits for the next one",
                    extra={"inbox_id": inbox.pk},
                )
                # A new mailbox's position is saved only once all of its unread mail is done.
                return
            lease.renew()
            # Reloaded per batch: boards archived or a manager suspended mid-poll count at once.
            context = intake_context_load(inbox=inbox)
            _take_in_batch(
                mailbox=mailbox,
                context=context,
                uidvalidity=uidvalidity,
                uids=batch,
                result=result,
                tried=tried,
                lease=lease,
            )
            if known_mailbox:
                lease.renew(imap_uidvalidity=uidvalidity, imap_last_uid=batch[-1])
        if not known_mailbox:
            lease.renew(imap_uidvalidity=uidvalidity, imap_last_uid=uid_next - 1)
        if uids and lease.should_stop():
            return  # stored messages left from earlier polls wait for the next one too
        _retry_pending(
            mailbox=mailbox,
            context=intake_context_load(inbox=inbox),
            uidvalidity=uidvalidity,
            result=result,
            tried=tried,
            lease=lease,
        )


def _take_in_batch(
    *,
    mailbox: ImapMailbox,
    context: IntakeContext,
    uidvalidity: int,
    uids: Sequence[int],
    result: PollResult,
    tried: set[int],
    lease: _Lease,
) -> None:
    inbox = context.inbox
    already_stored = dict(
        ProcessedEmail.objects.filter(inbox=inbox, imap_uidvalidity=uidvalidity, imap_uid__in=uids).values_list(
            "imap_uid", "status"
        )
    )
    # Stored by an earlier, interrupted poll: done ones only need their \Seen flag, pending
    # ones are taken from their stored bytes in _retry_pending.
    seen = [uid for uid, status in already_stored.items() if status in HANDLED_STATUSES]
    new_uids = [uid for uid in uids if uid not in already_stored]
    lease.keep()
    sizes = mailbox.fetch_sizes(new_uids)
    too_large = [uid for uid in new_uids if sizes.get(uid, 0) > MAX_MESSAGE_BYTES]
    if too_large:
        _record_too_large(inbox=inbox, uidvalidity=uidvalidity, uids=too_large, sizes=sizes)
        seen.extend(too_large)
    skipped = set(too_large)
    wanted = [uid for uid in new_uids if uid not in skipped]
    for part in _byte_chunks(wanted, sizes):
        lease.keep()
        messages = mailbox.fetch(part)
        result.fetched += len(messages)
        now = timezone.now()
        row_ids = _store(inbox=inbox, uidvalidity=uidvalidity, messages=messages, now=now)
        parsed_batch = [
            (
                fetched.uid,
                stored_message_parse(
                    row_id=row_ids[fetched.uid],
                    raw=fetched.raw,
                    received_at=received_at_or_now(fetched.internal_date, now=now),
                ),
            )
            for fetched in messages
            if fetched.uid in row_ids
        ]
        del messages  # the parsed text is all that is needed from here on
        tried.update(message.row_id for _uid, message in parsed_batch)
        # One task sends the batch's confirmations, published once the batch has committed.
        with outgoing_mail_batch():
            handled = _process_batch(inbox=inbox, context=context, parsed_batch=parsed_batch)
        for uid, status in handled:
            result.outcomes[str(status)] += 1
            if status in HANDLED_STATUSES:
                seen.append(uid)
    lease.keep()
    mailbox.mark_seen(seen)


def _process_batch(
    *, inbox: Inbox, context: IntakeContext, parsed_batch: Sequence[tuple[int, StoredMessage]]
) -> list[tuple[int, str]]:
    """Take a fetched batch in within one transaction, so it costs one durable commit.

    Nothing is flagged \\Seen before this commit; if it never happens, the next poll finds the
    rows still "received" and does the work again. The first attempt runs without a savepoint per
    message. If anything goes wrong in it, the whole batch is rolled back and done again with a
    savepoint per message, so the one bad message is isolated and the others are still taken in.
    """
    messages = [message for _uid, message in parsed_batch]
    try:
        facts = BatchFacts.load(inbox=inbox, messages=messages)
        with transaction.atomic():
            return [
                (uid, processed_email_process(message=message, context=context, facts=facts, isolated=False))
                for uid, message in parsed_batch
            ]
    except SoftTimeLimitExceeded:
        raise  # the task is out of time: stop, the batch is rolled back and taken again next poll
    except Exception:
        logger.warning("batch failed, retrying it message by message", exc_info=True, extra={"inbox_id": inbox.pk})
        _drop_broken_connection()
    facts = BatchFacts.load(inbox=inbox, messages=messages)
    with transaction.atomic():
        return [
            (
                uid,
                process_safely(
                    row_id=message.row_id,
                    inbox_id=inbox.pk,
                    process=partial(processed_email_process, message=message, context=context, facts=facts),
                ),
            )
            for uid, message in parsed_batch
        ]


def _store(*, inbox: Inbox, uidvalidity: int, messages: Sequence[FetchedMessage], now: datetime) -> dict[int, int]:
    """Commit the raw bytes before any parsing; returns UID → row id of the rows still to process."""
    ProcessedEmail.objects.bulk_create(
        [
            ProcessedEmail(
                inbox=inbox,
                imap_uidvalidity=uidvalidity,
                imap_uid=message.uid,
                raw=message.raw,
                raw_size=len(message.raw),
                received_at=received_at_or_now(message.internal_date, now=now),
                created_at=now,
            )
            for message in messages
        ],
        ignore_conflicts=True,
    )
    return dict(
        ProcessedEmail.objects.filter(
            inbox=inbox,
            imap_uidvalidity=uidvalidity,
            imap_uid__in=[message.uid for message in messages],
            status=ProcessedEmailStatus.RECEIVED,
        ).values_list("imap_uid", "id")
    )


def _record_too_large(*, inbox: Inbox, uidvalidity: int, uids: Sequence[int], sizes: dict[int, int]) -> None:
    now = timezone.now()
    ProcessedEmail.objects.bulk_create(
        [
            ProcessedEmail(
                inbox=inbox,
                imap_uidvalidity=uidvalidity,
                imap_uid=uid,
                raw=b"",
                raw_size=sizes[uid],
                status=ProcessedEmailStatus.FAILED,
                reason=_(
                    "The message is too large (%(size)d MB; the limit is %(limit)d MB). It was left on the server."
                )
                % {"size": sizes[uid] // (1024 * 1024), "limit": MAX_MESSAGE_BYTES // (1024 * 1024)},
                created_at=now,
                processed_at=now,
            )
            for uid in uids
        ],
        ignore_conflicts=True,
    )


def process_safely(*, row_id: int, inbox_id: int, process: Callable[[], ProcessedEmailStatus]) -> str:
    """Run ``process`` for one message; whatever goes wrong is recorded on that message only."""
    extra = {"inbox_id": inbox_id, "processed_email_id": row_id}
    try:
        return process()
    except SoftTimeLimitExceeded:
        raise  # the poll is out of time, not the message at fault: it stays received for the next poll
    except DatabaseError as exc:
        logger.exception("database error while processing an email", extra=extra)
        _drop_broken_connection()
        reason = _("A database error interrupted processing (%(error)s).") % {"error": exc.__class__.__name__}
        # If even this fails the database is down: let the poll stop and record that.
        will_retry = processed_email_record_attempt(processed_email_id=row_id, reason=reason, max_attempts=MAX_ATTEMPTS)
        return ProcessedEmailStatus.RECEIVED if will_retry else ProcessedEmailStatus.FAILED
    except Exception as exc:
        logger.exception("unexpected error while processing an email", extra=extra)
        processed_email_mark_failed(
            processed_email_id=row_id,
            reason=_("An unexpected error stopped processing (%(error)s). Reprocess it once the cause is fixed.")
            % {"error": exc.__class__.__name__},
        )
        # The error may have come after the commit (a post-commit hook); the row knows best.
        status = ProcessedEmail.objects.filter(pk=row_id).values_list("status", flat=True).first()
        return status or ProcessedEmailStatus.FAILED


def _retry_pending(
    *,
    mailbox: ImapMailbox,
    context: IntakeContext,
    uidvalidity: int,
    result: PollResult,
    tried: set[int],
    lease: _Lease,
) -> None:
    pending = list(
        ProcessedEmail.objects.filter(inbox=context.inbox, status=ProcessedEmailStatus.RECEIVED)
        .exclude(pk__in=tried)
        .order_by("id")
        .values_list("id", "imap_uidvalidity", "imap_uid")[:RETRIES_PER_POLL]
    )
    seen: list[int] = []
    for row_id, row_uidvalidity, uid in pending:
        lease.keep()
        raw = ProcessedEmail.objects.filter(pk=row_id).values_list("raw", flat=True).first()
        if raw is None:
            continue
        status = process_safely(
            row_id=row_id,
            inbox_id=context.inbox.pk,
            process=partial(processed_email_process_one, processed_email_id=row_id, raw=bytes(raw), context=context),
        )
        result.outcomes[str(status)] += 1
        if status in HANDLED_STATUSES and row_uidvalidity == uidvalidity:
            seen.append(uid)
    lease.keep()
    mailbox.mark_seen(seen)


def _drop_broken_connection() -> None:
    """After a lost database connection, let the next query open a fresh one.

    Only outside a transaction: inside one (a caller's, or a test's) closing would lose it.
    """
    if connection.in_atomic_block or connection.connection is None or not connection.errors_occurred:
        return
    if connection.is_usable():
        connection.errors_occurred = False
    else:
        connection.close()


def _chunks(items: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), max(size, 1)):
        yield list(items[start : start + size])


def _byte_chunks(uids: Sequence[int], sizes: dict[int, int]) -> Iterator[list[int]]:
    part: list[int] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if part and total + size > BATCH_MAX_BYTES:
            yield part
            part, total = [], 0
        part.append(uid)
        total += size
    if part:
        yield part
