"""Celery tasks: each takes ids, calls one service, and holds no logic of its own."""

from __future__ import annotations

from celery import shared_task

from boards.external import PermanentExternalError, TransientExternalError

from .forwarding import FORWARD_MAX_RETRIES, forward_retry_delay, ticket_forward_fail, ticket_forward_pending


# Eager mode (tests) re-runs a retry at once, ignoring the countdown, so tests stay fast.
@shared_task(bind=True, max_retries=FORWARD_MAX_RETRIES, acks_late=True)
def forward_ticket(self, ticket_id: int) -> None:  # type: ignore[no-untyped-def]
    """EXT-2/EXT-3: create the stub's issue or card; retry transient failures, queue the rest."""
    try:
        ticket_forward_pending(ticket_id=ticket_id)
    except TransientExternalError as exc:
        if self.request.retries >= self.max_retries:
            ticket_forward_fail(ticket_id=ticket_id, reason=exc.message)
            return
        delay = forward_retry_delay(retries=self.request.retries, retry_after=exc.retry_after)
        raise self.retry(exc=exc, countdown=delay) from exc
    except PermanentExternalError as exc:
        ticket_forward_fail(ticket_id=ticket_id, reason=exc.message)
