"""Celery tasks of tickets: each takes ids and calls one service.

Retries are Celery's own (``self.retry`` with the delay the stub now waits); how many there may
be is the row's business (``forwarding.FORWARD_MAX_ATTEMPTS``), so Celery's own count is unbounded.
"""

from __future__ import annotations

from celery import shared_task

from .forwarding import ForwardRetryLater, ticket_forward_pending, ticket_forward_stalled_ids


@shared_task(bind=True, acks_late=True, max_retries=None)
def forward_ticket(self, ticket_id: int) -> None:  # type: ignore[no-untyped-def]
    """EXT-2/EXT-3: create the stub's issue or card; retry transient failures, queue the rest.

    Safe to deliver twice: the service claims the stub before calling the platform.
    """
    try:
        ticket_forward_pending(ticket_id=ticket_id)
    except ForwardRetryLater as exc:
        raise self.retry(exc=exc, countdown=exc.retry_in) from exc


@shared_task
def forward_stalled_tickets() -> int:
    """Beat, every minute: pick up stubs whose forwarding task was lost."""
    ticket_ids = ticket_forward_stalled_ids()
    for ticket_id in ticket_ids:
        forward_ticket.delay(ticket_id)
    return len(ticket_ids)
