"""Intake from a private Dovecot: the bare fetch+parse ceiling, the product's rate and memory.

A Dovecot of the test suite's kind (``testsupport.mailservers.DovecotServer``: its own
config and Maildirs in a temporary directory, plaintext auth on a free port of 127.0.0.1) gets
two users: ``small`` with the first 500 generated messages and ``full`` with all 2,000. Each
measurement runs in a fresh process (``bench.intake_worker``), like a Celery worker would:

1. bare, on ``full``, twice: the first pass warms Dovecot's index and cache files and the page
   cache, so neither side pays for a cold server; the second is the ceiling;
2. product, on ``small`` and on ``full``: ``inbox_poll`` until nothing is left; its rate on
   ``full`` is compared with the ceiling, and the peak resident memory (VmHWM) of the two
   runs shows whether the worker's memory grows with the mailbox.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import mailbox
from .util import BASE_DIR, BenchError, log

SMALL, FULL = 500, 2_000
PASSWORD = "bench-imap-password"
WORKER_TIMEOUT = 420


@dataclass
class IntakeRun:
    messages: int
    seconds: float
    hwm_kb: int
    rss_before_kb: int
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


@dataclass
class IntakeResults:
    mailbox_bytes: int
    bare: IntakeRun
    bare_warmup: IntakeRun
    product_small: IntakeRun
    product_full: IntakeRun
    dovecot_version: str


def ensure_dovecot() -> None:
    if shutil.which("dovecot") or Path("/usr/sbin/dovecot").exists():
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("Dovecot is missing; installing Debian's dovecot-imapd")
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=300)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "dovecot-imapd"],
            capture_output=True,
            timeout=600,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        if Path("/usr/sbin/dovecot").exists():
            return
    raise BenchError("Dovecot is missing. Install it with: sudo apt-get install dovecot-imapd")


def dovecot_version() -> str:
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    result = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    return result.stdout.split()[0] if result.stdout else "unknown"


def append_all(server: object, username: str, messages: list[bytes]) -> None:
    with server.connect(username) as client:  # type: ignore[attr-defined]
        for raw in messages:
            status, data = client.append("INBOX", None, None, raw)
            if status != "OK":
                raise BenchError(f"IMAP APPEND failed: {data!r}")


def mark_all_unseen(server: object, username: str) -> None:
    """Take the \\Seen flag off every message: the next first poll of a new Inbox takes them all in."""
    with server.connect(username) as client:  # type: ignore[attr-defined]
        client.select("INBOX")
        status, data = client.uid("STORE", "1:*", "-FLAGS.SILENT", r"(\Seen)")
        if status != "OK":
            raise BenchError(f"IMAP STORE -FLAGS failed: {data!r}")


def run_worker(env: dict[str, str], *args: str, cwd: Path = BASE_DIR) -> IntakeRun:
    """``python -m bench.intake_worker ARGS`` in ``cwd`` (the folder whose code it measures)."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.intake_worker", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=WORKER_TIMEOUT,
    )
    match = re.search(r"^BENCH_JSON (\{.*\})$", result.stdout, re.MULTILINE)
    if result.returncode != 0 or match is None:
        raise BenchError(f"intake worker {args[0]} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    data = json.loads(match.group(1))
    if data.get("errors"):
        raise BenchError(f"intake worker {args[0]}: the poll reported {data['errors']}")
    return IntakeRun(
        messages=int(data["messages"]),
        seconds=float(data["seconds"]),
        hwm_kb=int(data["hwm_kb"]),
        rss_before_kb=int(data["rss_before_kb"]),
        outcomes=data.get("outcomes", {}),
    )


def run_intake(*, env: dict[str, str], scratch: Path) -> IntakeResults:
    from testsupport.mailservers import DovecotServer, DovecotUnavailable

    ensure_dovecot()
    messages = mailbox.generate(FULL)
    log(f"generated {len(messages)} support mails, {mailbox.total_bytes(messages) / 1e6:.1f} MB")
    try:
        server = DovecotServer()
        server.start()
    except DovecotUnavailable as exc:
        raise BenchError(f"Dovecot did not start: {exc}") from exc
    try:
        log(f"Dovecot on 127.0.0.1:{server.port}; appending the mailboxes")
        server.add_user("small", PASSWORD)
        server.add_user("full", PASSWORD)
        append_all(server, "small", messages[:SMALL])
        append_all(server, "full", messages)
        from django.db import connections

        from . import seeding

        small_inbox = seeding.seed_intake_inbox(username="small", port=server.port, label="small", password=PASSWORD)
        full_inbox = seeding.seed_intake_inbox(username="full", port=server.port, label="full", password=PASSWORD)

        connections.close_all()

        bare_args = ("bare", "127.0.0.1", str(server.port), "full", PASSWORD)
        warmup = run_worker(env, *bare_args)
        bare = run_worker(env, *bare_args)
        log(f"bare fetch+parse: {bare.rate:.0f} msg/s (warm-up pass {warmup.rate:.0f} msg/s)")
        product_small = run_worker(env, "product", str(small_inbox))
        log(f"product intake, {SMALL} messages: {product_small.rate:.0f} msg/s, peak RSS {product_small.hwm_kb} KiB")
        product_full = run_worker(env, "product", str(full_inbox))
        log(
            f"product intake, {FULL} messages: {product_full.rate:.0f} msg/s, peak RSS {product_full.hwm_kb} KiB,"
            f" outcomes {product_full.outcomes}"
        )
        for run, expected in ((bare, FULL), (product_small, SMALL), (product_full, FULL)):
            if run.messages != expected:
                raise BenchError(f"an intake run took in {run.messages} messages instead of {expected}")
        return IntakeResults(
            mailbox_bytes=mailbox.total_bytes(messages),
            bare=bare,
            bare_warmup=warmup,
            product_small=product_small,
            product_full=product_full,
            dovecot_version=dovecot_version(),
        )
    finally:
        server.close()
