"""Small helpers shared by the bench modules."""

from __future__ import annotations

import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
_START = time.monotonic()


class BenchError(Exception):
    """The bench cannot go on; ``str(error)`` says why in words."""


def log(message: str) -> None:
    """Progress goes to stderr, so stdout carries only the table."""
    print(f"[bench {time.monotonic() - _START:6.1f}s] {message}", file=sys.stderr, flush=True)


def vm_status_kb(field: str, pid: int | str = "self") -> int:
    """A memory figure of /proc/<pid>/status in KiB (VmHWM = peak resident set, VmRSS = now)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0
