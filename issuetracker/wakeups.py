"""Wake-up tasks for side effects that are already rows (OPS-2).

Every side effect of a request or a poll (a mail to send, a ticket to forward) is a row written in
the same transaction as the change that caused it. The task that acts on it is only a wake-up: it
is published after the commit, and when the broker cannot take it (down, restarting) the action
still stands and the person still sees the success page; a beat task drains the rows a wake-up
missed. So a publish failure is logged, never raised.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from celery import Task
from django.db import transaction
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def publish(task: Task, *args: Any, **options: Any) -> bool:
    """Publish ``task``; False (logged) when the broker cannot be reached. Never raises for that."""
    try:
        task.apply_async(args, **options)
    except OperationalError as exc:
        # The arguments are ids only: nothing secret reaches the log.
        logger.warning(
            "task not published, the broker is unreachable; the beat drain picks the row up later",
            extra={"task": task.name, "task_args": list(args), "error": str(exc)},
        )
        return False
    return True


def publish_on_commit(task: Task, *args: Any, **options: Any) -> None:
    """Publish ``task`` once the current transaction has committed (right away outside one)."""
    transaction.on_commit(partial(publish, task, *args, **options))
