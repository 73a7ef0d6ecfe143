from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .selectors import standby_queue_count


def navigation(request: HttpRequest) -> dict[str, Any]:
    """SBQ-3: the queue count in the navigation of every manager page (one query, only if shown)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"standby_count": SimpleLazyObject(lambda: standby_queue_count(manager=user))}
