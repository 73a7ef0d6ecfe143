"""Celery tasks: each takes ids, calls one service, and holds no logic of its own."""

from __future__ import annotations

from celery import shared_task

from boards.external import TransientExternalError

from .forwarding import (
    FORWARD_MAX_RETRIES,
    forward_retry_delay,
    ticket_forward_pending,
    ticket_forward_requeue_stalled,
)


@shared_task(bind=True, max_retries=FORWARD_MAX_RETRIES, acks_late=True)
def forward_ticket(self, ticket_id: int) -> None:  # type: ignore[no-untyped-def]
    """EXT-2/EXT-3: create the stub's issue or card; retry transient failures, queue the rest.

    Safe to deliver twice: the service claims the stub before calling the platform.
    """
    try:
        ticket_forward_pending(ticket_id=ticket_id, last_attempt=self.request.retries >= self.max_retries)
    except TransientExternalError as exc:
        if self.request.is_eager:
            # Eager mode (tests) has no queue to come back through, and self.retry would only
            # propagate: run the next attempt now, counted like a real retry.
            self.apply(args=(ticket_id,), retries=self.request.retries + 1)
            return
        delay = forward_retry_delay(retries=self.request.retries, retry_after=exc.retry_after)
        raise self.retry(exc=exc, countdown=delay) from exc


@shared_task
def requeue_stalled_forwards() -> int:
    """Beat: pick up stubs whose forwarding task was lost."""
    return ticket_forward_requeue_stalled()
