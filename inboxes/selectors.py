from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q

from .models import Inbox, PollInterval, ProcessedEmail, ProcessedEmailStatus

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
        # A claim nobody released and nobody renews: the worker polling it died (killed, out of
        # memory). The next beat tick polls it again; until then it waits on a dead worker.
        abandoned=Count("id", filter=~Q(poll_lease_token="") & Q(poll_lease_until__lt=now)),
    )
    stalled = stats["stalled"] + stats["never_polled"]
    # Every inbox overdue means nothing polls at all (worker or beat down): the product is broken.
    # Some overdue, or some failing, is one manager's trouble: shown, but the site is up.
    if stalled and stalled >= stats["active"]:
        status = "stalled"
    elif stalled or stats["failing"] or stats["abandoned"]:
        status = "failing"
    else:
        status = "ok"
    return {
        "status": status,
        "active_inboxes": stats["active"],
        "failing_inboxes": stats["failing"],
        "stalled_inboxes": stalled,
        "abandoned_polls": stats["abandoned"],
    }


def inbox_counters(*, inbox: Inbox) -> dict[str, int]:
    """INB-4 in one query: what became of the messages this inbox took in."""
    statuses = {
        "tickets": ProcessedEmailStatus.TICKET,
        "queued": ProcessedEmailStatus.QUEUED,
        "duplicates": ProcessedEmailStatus.DUPLICATE,
        "failed": ProcessedEmailStatus.FAILED,
        "ignored": ProcessedEmailStatus.IGNORED,
        "pending": ProcessedEmailStatus.RECEIVED,
    }
    return ProcessedEmail.objects.filter(inbox=inbox).aggregate(
        **{name: Count("id", filter=Q(status=status)) for name, status in statuses.items()}
    )


def inbox_ignored_emails(*, inbox: Inbox, limit: int = 20) -> list[ProcessedEmail]:
    """The newest messages ignored as duplicates or while suspended, without their raw bytes (THR-5)."""
    return list(
        ProcessedEmail.objects.filter(
            inbox=inbox, status__in=(ProcessedEmailStatus.DUPLICATE, ProcessedEmailStatus.IGNORED)
        )
        .defer("raw")
        .order_by("-created_at", "-id")[:limit]
    )


def inbox_failed_emails(*, inbox: Inbox, limit: int = 50) -> list[ProcessedEmail]:
    """The newest failed and still-retrying messages, without their raw bytes."""
    return list(
        ProcessedEmail.objects.filter(
            inbox=inbox, status__in=(ProcessedEmailStatus.FAILED, ProcessedEmailStatus.RECEIVED)
        )
        .defer("raw")
        .order_by("-created_at", "-id")[:limit]
    )
