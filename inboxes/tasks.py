"""Celery tasks: each takes ids, calls one service, and holds no logic of its own."""

from __future__ import annotations

from celery import shared_task

from .outbox import (
    MAX_ATTEMPTS,
    TransientSendError,
    outgoing_mail_mark_exhausted,
    outgoing_mail_requeue_stalled,
    outgoing_mail_send,
)


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


@shared_task
def retry_stalled_mail() -> int:
    return outgoing_mail_requeue_stalled()


@shared_task
def enqueue_due_polls() -> None:
    """Beat, every minute: enqueue a poll for each active inbox that is due (filled in with intake)."""
