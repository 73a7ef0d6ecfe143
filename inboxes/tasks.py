"""Celery tasks: each takes ids, calls one service, and holds no logic of its own."""

from __future__ import annotations

import logging

from celery import shared_task

from .models import Inbox
from .outbox import (
    MAX_ATTEMPTS,
    TransientSendError,
    outgoing_mail_mark_exhausted,
    outgoing_mail_requeue_stalled,
    outgoing_mail_send,
    outgoing_mails_send,
)
from .polling import due_inbox_ids, inbox_poll

logger = logging.getLogger(__name__)

# A poll stops taking new batches after polling.POLL_TIME_BUDGET (3 min). These limits stop one
# stuck inside a single step, and the hard one lies within the lease (5 min): a poll is killed
# before its lease can run out, so a second worker never starts on an inbox still being polled.
POLL_SOFT_TIME_LIMIT_SECONDS = 4 * 60
POLL_TIME_LIMIT_SECONDS = POLL_SOFT_TIME_LIMIT_SECONDS + 30
# Beat enqueues due polls every minute; a poll still waiting in the queue a minute later is
# dropped instead of piling up behind a backlog, since the next minute enqueues a fresh one.
POLL_EXPIRES_SECONDS = 55


@shared_task(bind=True, max_retries=MAX_ATTEMPTS, acks_late=True)
def send_outgoing_mail(self, mail_id: int) -> None:  # type: ignore[no-untyped-def]
    try:
        outgoing_mail_send(mail_id=mail_id)
    except TransientSendError as exc:
        if self.request.retries >= self.max_retries:
            outgoing_mail_mark_exhausted(mail_id=mail_id, reason=str(exc))
            return
        # 30 s, 60 s, 120 s … capped at 30 min.
        raise self.retry(exc=exc, countdown=min(30 * 2**self.request.retries, 1800)) from exc


@shared_task(acks_late=True)
def send_outgoing_mails(mail_ids: list[int]) -> None:
    """A batch from intake; a mail that fails transiently goes on with its own retries."""
    for mail_id in outgoing_mails_send(mail_ids=mail_ids):
        send_outgoing_mail.apply_async((mail_id,), countdown=30)


@shared_task
def retry_stalled_mail() -> int:
    return outgoing_mail_requeue_stalled()


@shared_task
def enqueue_due_polls() -> int:
    """Beat, every minute: enqueue a poll for each active inbox that is due (ING-1)."""
    inbox_ids = due_inbox_ids()
    for inbox_id in inbox_ids:
        poll_inbox.apply_async((inbox_id,), expires=POLL_EXPIRES_SECONDS)
    return len(inbox_ids)


# No retries here: a failed poll is recorded on the inbox and the next interval tries again.
# acks_late + idempotent polling make a task lost with a killed worker harmless.
@shared_task(acks_late=True, soft_time_limit=POLL_SOFT_TIME_LIMIT_SECONDS, time_limit=POLL_TIME_LIMIT_SECONDS)
def poll_inbox(inbox_id: int) -> None:
    inbox = Inbox.objects.filter(pk=inbox_id, is_active=True).first()
    if inbox is None:
        return
    try:
        inbox_poll(inbox=inbox)
    except Exception:
        # inbox_poll records its own failures; this only keeps a surprise from reaching the worker.
        logger.exception("inbox poll task failed", extra={"inbox_id": inbox_id})
