"""Reads for boards and the dashboard: a fixed number of queries whatever the data size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from tickets.models import Ticket

from .models import Board


def board_for_manager_or_404(*, manager: Any, pk: int) -> Board:
    """NFR-4: anyone else's board is simply not found."""
    return get_object_or_404(Board.objects.select_related("exclusive_inbox"), pk=pk, manager=manager)


def boards_for_manager(*, manager: Any, include_archived: bool = False) -> QuerySet[Board]:
    boards = Board.objects.filter(manager=manager).order_by("is_archived", "name")
    if not include_archived:
        boards = boards.filter(is_archived=False)
    return boards


@dataclass(frozen=True)
class Dashboard:
    boards: list[Board]
    recent_tickets: list[Ticket]
    created_today: int
    created_this_week: int
    # THR-7: tickets with a reporter message no manager has opened yet.
    unread_tickets: list[Ticket]


UNREAD_ON_DASHBOARD = 10


def _start_of_today(now: datetime) -> datetime:
    local = timezone.localtime(now)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def dashboard_for_manager(*, manager: Any, now: datetime | None = None) -> Dashboard:
    """DSH-1. "Today" and "this week" (from Monday) are in the manager's own timezone."""
    now = now or timezone.now()
    today = _start_of_today(now)
    week_start = today - timedelta(days=today.weekday())
    boards = list(boards_for_manager(manager=manager))
    tickets = Ticket.objects.filter(manager=manager)
    recent = list(tickets.select_related("board").order_by("-created_at", "-id")[:10])
    counts = tickets.filter(created_at__gte=week_start).aggregate(
        week=Count("id"), today=Count("id", filter=Q(created_at__gte=today))
    )
    unread = list(
        tickets.filter(has_unread=True).select_related("board").order_by("-created_at", "-id")[:UNREAD_ON_DASHBOARD]
    )
    return Dashboard(
        boards=boards,
        recent_tickets=recent,
        created_today=counts["today"],
        created_this_week=counts["week"],
        unread_tickets=unread,
    )
