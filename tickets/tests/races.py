"""Two real database connections racing on one row, made deterministic (no sleeps that
"probably" hit the race).

The first caller is held at a known point inside its transaction (a hook the test patches calls
``Gate.pause``), the second then starts on its own thread and connection and runs until
PostgreSQL makes it wait for a lock the first one holds, or until it ends, which is what happens
when nothing serialises the two. Only then is the first one let go. Use in tests marked
``django_db(transaction=True)``: the rows the threads read must be committed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection

TIMEOUT = 10.0


@dataclass
class Outcome:
    """What one side of the race returned or raised."""

    result: Any = None
    error: BaseException | None = None


class Gate:
    """Holds the first thread of a race where the code under test calls ``pause``."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()
        self.holder: threading.Thread | None = None

    def pause(self) -> None:
        """Call from a patched hook; a no-op for any thread but the first one."""
        if threading.current_thread() is not self.holder or self.reached.is_set():
            return
        self.reached.set()
        if not self.release.wait(TIMEOUT):
            raise RuntimeError("the race's first thread was never released")


def _blocked_by_another_backend(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT cardinality(pg_blocking_pids(%s)) > 0", [pid])
        return bool(cursor.fetchone()[0])


def race(first: Callable[[], Any], second: Callable[[], Any], *, gate: Gate) -> tuple[Outcome, Outcome]:
    """Run ``first`` up to ``gate.pause()``, then ``second`` until it waits on a lock (or ends),
    then let ``first`` finish. Each runs on its own thread with its own database connection,
    closed at the end; returns both outcomes, first's first."""
    outcomes = (Outcome(), Outcome())
    second_pid: list[int] = []
    second_connected = threading.Event()

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            if index == 1:
                connection.ensure_connection()
                second_pid.append(connection.connection.info.backend_pid)
                second_connected.set()
            outcomes[index].result = call()
        except BaseException as exc:  # handed to the test, which asserts on it
            outcomes[index].error = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=pair, daemon=True) for pair in enumerate((first, second))]
    gate.holder = threads[0]
    try:
        threads[0].start()
        deadline = time.monotonic() + TIMEOUT
        while not gate.reached.wait(0.01):
            assert threads[0].is_alive(), f"the first thread ended before the gate: {outcomes[0]}"
            assert time.monotonic() < deadline, "the first thread never reached the gate"
        threads[1].start()
        assert second_connected.wait(TIMEOUT), "the second thread never connected"
        deadline = time.monotonic() + TIMEOUT
        # Polled, not slept on: this only waits for a state PostgreSQL reports, whatever the timing.
        while threads[1].is_alive() and not _blocked_by_another_backend(second_pid[0]):
            assert time.monotonic() < deadline, "the second thread neither finished nor waited on a lock"
            time.sleep(0.002)
    finally:
        gate.release.set()
        for thread in threads:
            thread.join(TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a racing thread is stuck"
    return outcomes


def paused_before(gate: Gate, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` with ``gate.pause()`` first, for monkeypatching the hook the race stops at."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        gate.pause()
        return function(*args, **kwargs)

    return wrapper


def paused_after(gate: Gate, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` with ``gate.pause()`` after it ran (its writes and locks are held meanwhile)."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = function(*args, **kwargs)
        gate.pause()
        return result

    return wrapper
