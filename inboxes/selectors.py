from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q

from .models import Inbox, PollInterval

# An active inbox not polled for its interval plus this much means the worker or beat is down.
STALL_GRACE = timedelta(minutes=10)


def _overdue(now: datetime) -> Q:
    # One branch per allowed interval keeps the arithmetic in Python, portable across databases.
    condition = Q(pk__in=[])
    for interval in PollInterval.values:
        deadline = now - STALL_GRACE - timedelta(minutes=interval)
        condition |= Q(poll_interval_minutes=interval, last_polled_at__lt=deadline)
    return condition


def polling_health(*, now: datetime) -> dict[str, Any]:
    """Counts only: /health is public and must not name anyone's inboxes."""
    stats = Inbox.objects.active().aggregate(
        active=Count("id"),
        failing=Count("id", filter=~Q(last_error="")),
        never_polled=Count("id", filter=Q(last_polled_at__isnull=True, created_at__lt=now - STALL_GRACE)),
        stalled=Count("id", filter=_overdue(now)),
    )
    stalled = stats["stalled"] + stats["never_polled"]
    if stalled:
        status = "stalled"
    elif stats["failing"]:
        status = "failing"
    else:
        status = "ok"
    return {
        "status": status,
        "active_inboxes": stats["active"],
        "failing_inboxes": stats["failing"],
        "stalled_inboxes": stalled,
    }


def standby_queue_count(*, manager: Any) -> int:
    return 0
