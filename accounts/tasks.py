from __future__ import annotations

import logging
import smtplib

from celery import shared_task
from django.core.mail import EmailMessage

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=30,
    retry_backoff_max=1800,
    retry_jitter=True,
    max_retries=8,
)
def send_account_email(self: object, *, subject: str, body: str, from_email: str, to: list[str]) -> None:
    """Send a verification or password-reset mail (ACC-8).

    Unlike ticket notifications these are not kept in the outbox table: their bodies carry
    single-use secrets that must not sit in the database after delivery.
    """
    EmailMessage(subject=subject, body=body, from_email=from_email, to=to).send()
    logger.info("account email sent", extra={"subject": subject, "recipient_count": len(to)})
