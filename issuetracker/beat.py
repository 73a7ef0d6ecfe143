"""Celery beat's scheduler, with a heartbeat file for the container's health check (OPS-1).

Beat has no port and answers no ping, and a beat that hangs or lost its broker looks exactly like
a beat that works. This scheduler touches ``BEAT_HEARTBEAT_FILE`` after every tick that ran to
the end; ``bin/healthcheck beat`` calls beat unhealthy once the file is older than a few ticks.
``CELERY_BEAT_MAX_INTERVAL`` bounds the time between ticks, whatever the schedule holds.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from celery.beat import PersistentScheduler
from django.conf import settings

logger = logging.getLogger(__name__)


class HeartbeatScheduler(PersistentScheduler):
    _heartbeat_failed = False

    def tick(self, *args: Any, **kwargs: Any) -> float:
        interval = super().tick(*args, **kwargs)
        self._heartbeat()
        return interval

    def _heartbeat(self) -> None:
        path = Path(settings.BEAT_HEARTBEAT_FILE)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        except OSError as exc:
            # Scheduling matters more than the health check: say it once, keep beating.
            if not self._heartbeat_failed:
                logger.error("beat: cannot write the heartbeat file", extra={"path": str(path), "error": str(exc)})
            self._heartbeat_failed = True
        else:
            self._heartbeat_failed = False
