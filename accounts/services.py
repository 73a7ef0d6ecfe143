from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from .models import Manager


def manager_update_profile(*, manager: Manager, name: str, timezone_name: str) -> Manager:
    manager.name = name
    manager.timezone = timezone_name
    manager.save(update_fields=["name", "timezone"])
    return manager


def manager_suspend(*, manager: Manager, message: str) -> Manager:
    """Suspend for good (ACC-6, ACC-7). There is deliberately no reverse service."""
    with transaction.atomic():
        locked = Manager.objects.select_for_update().get(pk=manager.pk)
        if locked.is_suspended:
            return locked
        locked.is_suspended = True
        locked.suspension_message = message.strip()
        locked.suspended_at = timezone.now()
        locked.save(update_fields=["is_suspended", "suspension_message", "suspended_at"])
    manager.refresh_from_db()
    return manager


def manager_set_ticket_page_size(*, manager: Manager, page_size: int) -> None:
    if manager.ticket_page_size != page_size:
        manager.ticket_page_size = page_size
        manager.save(update_fields=["ticket_page_size"])
