"""Celery tasks of the outbox: each takes ids and calls one service.

Retries are Celery's own (``self.retry`` with the delay the row now waits); how many there may be
is the row's business (``sending.MAX_ATTEMPTS``), so Celery's own count is unbounded here.
"""

from __future__ import annotations

from celery import shared_task

from .sending import TransientSendError, outgoing_mail_send, outgoing_mail_stalled_ids, outgoing_mails_send


@shared_task(bind=True, acks_late=True, max_retries=None)
def send_outgoing_mail(self, mail_id: int) -> None:  # type: ignore[no-untyped-def]
    try:
        outgoing_mail_send(mail_id=mail_id)
    except TransientSendError as exc:
        raise self.retry(exc=exc, countdown=exc.retry_in) from exc


@shared_task(acks_late=True)
def send_outgoing_mails(mail_ids: list[int]) -> None:
    """A batch from intake; a mail that fails for now goes on with its own retries."""
    for mail_id, retry_in in outgoing_mails_send(mail_ids=mail_ids):
        send_outgoing_mail.apply_async((mail_id,), countdown=retry_in)


@shared_task
def send_stalled_mail() -> int:
    """Beat, twice a minute: send the rows whose wake-up was lost (broker down, worker killed)."""
    mail_ids = outgoing_mail_stalled_ids()
    for mail_id in mail_ids:
        send_outgoing_mail.delay(mail_id)
    return len(mail_ids)
