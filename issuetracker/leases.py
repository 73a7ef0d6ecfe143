"""One claim helper for every row that a worker takes for a while: an inbox being polled, a mail
being sent, a ticket being forwarded.

A claim is a conditional UPDATE: it matches only while nobody else holds the row (the lease field
is empty or in the past) and the row is in a state that may be claimed. The same
UPDATE counts the attempt and stores a fresh token, so a holder renews and releases only its own
claim: one whose lease ran out during a long stall cannot touch the claim another worker took
since. A worker that dies simply stops renewing; its lease runs out and the row is free again.

The attempt counter on the row is the only retry budget: callers compare it with their maximum,
never with the number of times a queue delivered a task.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import F, Model, Q, QuerySet
from django.utils import timezone

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaseFields:
    """The names of a model's claim columns."""

    until: str
    token: str
    attempts: str | None = None


@dataclass(frozen=True)
class Claim:
    pk: Any
    token: str
    fields: LeaseFields
    model: type[Model]

    def _mine(self) -> QuerySet[Any]:
        return self.model._default_manager.filter(pk=self.pk, **{self.fields.token: self.token})

    def renew(self, duration: timedelta, **also: object) -> bool:
        """Extend our lease; False when it is no longer ours (ran out and taken, or the row is gone)."""
        return bool(self._mine().update(**{self.fields.until: timezone.now() + duration}, **also))

    def release(self, **also: object) -> bool:
        """Give the row back now (and write ``also`` with it), if it is still ours."""
        return bool(self._mine().update(**{self.fields.until: None, self.fields.token: ""}, **also))

    def still_held(self) -> QuerySet[Any]:
        """A queryset of the row while we hold it: fence the write of an outcome with it."""
        return self._mine()


def free_now(fields: LeaseFields, now: datetime) -> Q:
    """Rows nobody holds at ``now``."""
    return Q(**{f"{fields.until}__isnull": True}) | Q(**{f"{fields.until}__lt": now})


def lease_claim(
    queryset: QuerySet[Any],
    *,
    pk: Any,
    fields: LeaseFields,
    duration: timedelta,
    now: datetime | None = None,
    **also: object,
) -> Claim | None:
    """Claim the row ``pk`` of ``queryset`` (its filter says in which state it may be claimed).

    Returns the claim, or None when the row is held by someone else or not in that state.
    The attempt counter, if the model has one, goes up by one in the same UPDATE.
    """
    now = now or timezone.now()
    token = uuid.uuid4().hex
    values: dict[str, object] = {fields.until: now + duration, fields.token: token, **also}
    if fields.attempts:
        values[fields.attempts] = F(fields.attempts) + 1
    claimed = queryset.filter(free_now(fields, now), pk=pk).update(**values)
    if not claimed:
        return None
    return Claim(pk=pk, token=token, fields=fields, model=queryset.model)


def lease_overdue_ids(
    queryset: QuerySet[Any], *, fields: LeaseFields, due: str, grace: timedelta, limit: int, now: datetime | None = None
) -> list[Any]:
    """Rows of ``queryset`` that nobody holds and that were due more than ``grace`` ago: the
    wake-up task that should have taken them was lost (broker down, worker killed). The drains
    hand them to their task again; the claim keeps a late original and the drain from both acting."""
    now = now or timezone.now()
    return list(
        queryset.filter(free_now(fields, now), **{f"{due}__lte": now - grace})
        .order_by(due, "pk")
        .values_list("pk", flat=True)[:limit]
    )


class LeaseLostError(Exception):
    """Another worker holds the row now (ours ran out, or the row is gone)."""


class Heartbeat:
    """Keeps a claim alive while slow work runs.

    The working thread renews at its own pace by calling ``keep()`` between steps (at most once
    per ``renew_after``). A background thread renews only when the working thread has not for
    ``every`` (it is blocked in one long step: a big FETCH, a slow server), so a lease can be
    short: a killed worker stops renewing, and its lease runs out within ``duration``. Work stuck
    past ``max_hold`` is no longer renewed, so the row is not held for ever.
    """

    def __init__(
        self,
        claim: Claim,
        *,
        duration: timedelta,
        every: timedelta,
        renew_after: timedelta,
        max_hold: timedelta,
    ) -> None:
        self.claim = claim
        self.duration = duration
        self.every = every
        self.renew_after = renew_after
        self.max_hold = max_hold
        self.renewed = time.monotonic()
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread: threading.Thread | None = None

    def renew(self, **progress: object) -> None:
        """Renew now (saving ``progress`` with it); raises LeaseLostError when the row is not ours."""
        if self._lost.is_set() or not self.claim.renew(self.duration, **progress):
            self._lost.set()
            raise LeaseLostError
        self.renewed = time.monotonic()

    def keep(self) -> None:
        """Between steps of the work: renew when due; raises LeaseLostError once the row is not ours."""
        if self._lost.is_set():
            raise LeaseLostError
        if time.monotonic() - self.renewed >= self.renew_after.total_seconds():
            self.renew()

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_hold.total_seconds()
        try:
            while not self._stop.wait(self.every.total_seconds()):
                if time.monotonic() >= deadline:
                    logger.error("lease held too long, no longer renewed", extra={"row": str(self.claim.pk)})
                    self._lost.set()
                    return
                if time.monotonic() - self.renewed < self.every.total_seconds():
                    continue  # the working thread renews on its own
                try:
                    if not self.claim.renew(self.duration):
                        self._lost.set()
                        return
                    self.renewed = time.monotonic()
                except Exception:  # a database blip: the next beat tries again before the lease ends
                    logger.warning("lease renewal failed", exc_info=True, extra={"row": str(self.claim.pk)})
        finally:
            connection.close()  # this thread's own connection

    @contextmanager
    def running(self) -> Iterator[Heartbeat]:
        self._thread = threading.Thread(target=self._run, name=f"lease-{self.claim.pk}", daemon=True)
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()
