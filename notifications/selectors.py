"""Reads of notifications and of what every manager page shows (THR-8, SBQ-3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, FilteredRelation, IntegerField, Min, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Manager, NotificationMode
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

    Every manager page shows both, so they are read together: the manager's row, outer-joined to
    their failing inboxes (one row each, or one row of nulls), with the queue count computed once.
    """
    standby_count = Subquery(
        StandbyItem.objects.filter(manager_id=manager.pk)
        .order_by()
        .values("manager_id")
        .annotate(count=Count("pk"))
        .values("count"),
        output_field=IntegerField(),
    )
    rows = (
        Manager.objects.filter(pk=manager.pk)
        .annotate(
            failing=FilteredRelation("inboxes", condition=Q(inboxes__is_active=True) & ~Q(inboxes__last_error="")),
            standby=Coalesce(standby_count, Value(0)),
        )
        .order_by("failing__name", "failing__id")
        .values_list("standby", "failing__id", "failing__name", "failing__last_error")
    )
    rows = list(rows)
    return ManagerNavigation(
        standby_count=rows[0][0] if rows else 0,
        failing_inboxes=[
            FailingInbox(id=inbox_id, name=name, last_error=last_error)
            for _count, inbox_id, name, last_error in rows
            if inbox_id is not None
        ],
    )
