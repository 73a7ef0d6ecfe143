from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .selectors import manager_navigation


def navigation(request: HttpRequest) -> dict[str, Any]:
    """What the navigation of every manager page shows: the standby queue count (SBQ-3) and a
    banner per failing inbox (THR-8).

    Lazy and shared: one query on the first use, none on pages that never show them (public
    pages replace the navigation) and none for anonymous visitors.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    facts = SimpleLazyObject(lambda: manager_navigation(manager=user))
    return {
        "standby_count": SimpleLazyObject(lambda: facts.standby_count),
        "failing_inboxes": SimpleLazyObject(lambda: facts.failing_inboxes),
    }
