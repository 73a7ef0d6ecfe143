from __future__ import annotations

from typing import Any

from .models import StandbyItem


def standby_queue_count(*, manager: Any) -> int:
    return StandbyItem.objects.for_manager(manager).count()
