"""Celery tasks: each takes ids, calls one service, and holds no logic of its own."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_shutting_down

from .models import Inbox
from .polling import due_inbox_ids, inbox_poll, shutdown_requested

logger = logging.getLogger(__name__)

# A poll stops taking new batches after polling.POLL_TIME_BUDGET (3 min). These limits stop one
# stuck inside a single step, and the hard one lies within the heartbeat's longest hold
# (polling.MAX_HOLD, 5 min): a poll is killed before its lease can stop being renewed, so a second
# worker never starts on an inbox still being polled.
POLL_SOFT_TIME_LIMIT_SECONDS = 4 * 60
POLL_TIME_LIMIT_SECONDS = POLL_SOFT_TIME_LIMIT_SECONDS + 30
# Beat enqueues due polls every minute; a poll still waiting in the queue a minute later is
# dropped instead of piling up behind a backlog, since the next minute enqueues a fresh one.
POLL_EXPIRES_SECONDS = 55


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


@worker_shutting_down.connect
def _stop_polls_on_shutdown(**kwargs: object) -> None:
    """A warm shutdown (a deploy's SIGTERM): running polls stop at the next batch and hand their
    inbox back, so the next worker polls it at once instead of after a lease runs out."""
    shutdown_requested.set()
