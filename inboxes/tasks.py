from __future__ import annotations

from celery import shared_task


@shared_task
def enqueue_due_polls() -> None:
    """Beat, every minute: enqueue a poll for each active inbox that is due (filled in with intake)."""


@shared_task
def retry_stalled_mail() -> None:
    """Beat: re-enqueue outgoing mail whose sending task was lost (filled in with the outbox)."""
