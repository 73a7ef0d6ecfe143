"""Reads of notifications and of what every manager page shows (THR-8, SBQ-3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Min
from django.utils import timezone

from accounts.models import NotificationMode
from inboxes.models import Inbox
from standby.models import StandbyItem

from .models import Notification, digest_due


def digest_due_manager_ids(*, now: datetime | None = None) -> list[int]:
    """Managers whose waiting notifications are due to be mailed as a digest."""
    now = now or timezone.now()
    waiting = (
        Notification.objects.filter(mailed_at__isnull=True, manager__is_active=True, manager__is_suspended=False)
        .exclude(manager__notification_mode=NotificationMode.OFF)
        .values("manager_id", "manager__notification_mode", "manager__notifications_digest_sent_at")
        .annotate(oldest=Min("created_at"))
        .order_by("manager_id")
    )
    return [
        row["manager_id"]
        for row in waiting
        if digest_due(
            mode=row["manager__notification_mode"],
            sent_at=row["manager__notifications_digest_sent_at"],
            oldest_pending=row["oldest"],
            now=now,
        )
    ]


@dataclass(frozen=True)
class FailingInbox:
    id: int
    name: str
    last_error: str


@dataclass(frozen=True)
class ManagerNavigation:
    standby_count: int
    failing_inboxes: list[FailingInbox] = field(default_factory=list)


def manager_navigation(*, manager: Any) -> ManagerNavigation:
    """The standby queue count (SBQ-3) and the active inboxes that are failing (THR-8), in one query.

    Every manager page shows both, so they are read together: the queue count, outer-joined to
    the manager's failing inboxes (one row each, or one row of nulls). Written in SQL because it
    runs on every manager page and the ORM's FilteredRelation and Subquery took longer to
    compile than the query takes to run (bench/).
    """
    items, inboxes = StandbyItem._meta.db_table, Inbox._meta.db_table
    sql = (
        f"SELECT (SELECT COUNT(*) FROM {items} WHERE manager_id = %s), i.id, i.name, i.last_error "  # noqa: S608
        f"FROM (SELECT 1 AS one) AS d LEFT JOIN {inboxes} AS i "
        "ON i.manager_id = %s AND i.is_active AND i.last_error <> '' ORDER BY i.name, i.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [manager.pk, manager.pk])
        rows = cursor.fetchall()
    return ManagerNavigation(
        standby_count=rows[0][0] if rows else 0,
        failing_inboxes=[
            FailingInbox(id=inbox_id, name=name, last_error=last_error)
            for _count, inbox_id, name, last_error in rows
            if inbox_id is not None
        ],
    )
