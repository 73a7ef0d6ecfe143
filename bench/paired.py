"""Paired load for `--compare`: one client that alternates between side A's and side B's server.

Two wrk runs of a few seconds each, one per side, see two different machines when other work
comes and goes (on the shared 2-core machine, pages of the same commit measured that way differed
by up to 2× from one run to the next). Here each client thread sends, in a shuffled order, A's
page, B's page and each side's ceiling, one right after the other, and times every answer: the A
and B requests of one pass are milliseconds apart, so load from elsewhere weighs on both alike,
and B ÷ A is taken pass by pass. Two threads, as many as a side has gunicorn workers, so that a
request does not wait behind another of this client.

Requests are written by hand on a raw socket (``Connection: close``, as gunicorn's sync workers
do anyway), so the client costs little next to the server and is the same for every URL.
"""

from __future__ import annotations

import math
import random
import socket
import threading
import time
from dataclasses import dataclass, field

from .load import Target
from .util import BenchError

THREADS = 2
REQUEST_TIMEOUT = 30.0


@dataclass(frozen=True)
class Endpoint:
    """One URL of one side's server, ready to send."""

    label: str
    port: int
    # One request per session cookie; client thread i sends the (i mod n)-th, as wrk's threads do.
    payloads: tuple[bytes, ...]
    expect_status: int


def endpoint(label: str, port: int, target: Target) -> Endpoint:
    head = [f"{target.method} {target.path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    body = target.body.encode()
    if body:
        head += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
    payloads = tuple(
        ("\r\n".join([*head, *cookie]) + "\r\n\r\n").encode() + body
        for cookie in ([[f"Cookie: {value}"] for value in target.cookies] or [[]])
    )
    return Endpoint(label=label, port=port, payloads=payloads, expect_status=target.expect_status)


@dataclass
class PairedRun:
    """Seconds per answer, in passes: ``a[i]``, ``b[i]``, ``ceiling_a[i]``, ``ceiling_b[i]`` share a pass."""

    a: list[float] = field(default_factory=list)
    b: list[float] = field(default_factory=list)
    ceiling_a: list[float] = field(default_factory=list)
    ceiling_b: list[float] = field(default_factory=list)

    def b_over_a(self) -> float:
        """B's speed ÷ A's: the geometric mean over passes of A's time ÷ B's time."""
        return math.exp(sum(math.log(a / b) for a, b in zip(self.a, self.b, strict=True)) / len(self.a))

    def extend(self, other: PairedRun) -> None:
        self.a += other.a
        self.b += other.b
        self.ceiling_a += other.ceiling_a
        self.ceiling_b += other.ceiling_b


def _timed(endpoint: Endpoint, thread_no: int) -> float:
    started = time.perf_counter()
    chunks = []
    with socket.create_connection(("127.0.0.1", endpoint.port), timeout=REQUEST_TIMEOUT) as sock:
        sock.sendall(endpoint.payloads[thread_no % len(endpoint.payloads)])
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    elapsed = time.perf_counter() - started
    head = b"".join(chunks[:1])[:12]
    status = int(head[9:12]) if head.startswith(b"HTTP/1.") and head[9:12].isdigit() else 0
    if status != endpoint.expect_status:
        raise BenchError(f"{endpoint.label} answered {status or head!r} instead of {endpoint.expect_status}")
    return elapsed


def run(a: Endpoint, b: Endpoint, ceiling_a: Endpoint, ceiling_b: Endpoint, *, seconds: float, seed: int) -> PairedRun:
    """Passes over the four endpoints by ``THREADS`` threads for ``seconds``; every answer checked."""
    result = PairedRun()
    lock = threading.Lock()
    failures: list[BaseException] = []
    deadline = time.monotonic() + seconds
    endpoints = {"a": a, "b": b, "ceiling_a": ceiling_a, "ceiling_b": ceiling_b}

    def client(thread_no: int) -> None:
        rng = random.Random(seed * 100 + thread_no)
        order = list(endpoints)
        try:
            while time.monotonic() < deadline and not failures:
                rng.shuffle(order)
                times = {name: _timed(endpoints[name], thread_no) for name in order}
                with lock:
                    for name, elapsed in times.items():
                        getattr(result, name).append(elapsed)
        except (OSError, BenchError) as exc:
            failures.append(exc)

    threads = [threading.Thread(target=client, args=(number,), daemon=True) for number in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 2 * REQUEST_TIMEOUT)
    if failures:
        raise BenchError(f"paired load on {a.label} / {b.label} failed: {failures[0]}")
    if not result.a:
        raise BenchError(f"paired load on {a.label} / {b.label} completed no pass in {seconds} s")
    return result
