"""Celery tasks of manager notifications: each takes ids and calls one service."""

from __future__ import annotations

from celery import shared_task

from .selectors import digest_due_manager_ids
from .services import notification_digest_send


@shared_task
def send_notification_digests() -> int:
    """Beat, every five minutes: each manager whose digest is due gets a task of their own, so
    one manager's trouble never holds up another's digest."""
    manager_ids = digest_due_manager_ids()
    for manager_id in manager_ids:
        send_notification_digest.delay(manager_id)
    return len(manager_ids)


@shared_task(acks_late=True)
def send_notification_digest(manager_id: int) -> int:
    # Delivered twice, or racing the next beat's task: the service sends one digest.
    return notification_digest_send(manager_id=manager_id)
