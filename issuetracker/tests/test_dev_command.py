"""OPS-3: Ctrl-C on `make run` stops every process it started and leaves the port free.

Runs the real `make run` on a free port with its own VAR_DIR (SQLite, file broker, mail files),
waits until web, worker, beat and runserver's autoreloader child are up, then sends SIGINT to the
foreground process group as a terminal's Ctrl-C does (make and bin/dev both get it).
Every process started carries a marker in its environment, so leftovers are found by it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from conftest import require
from testsupport.mailservers import find_free_port

ROOT = Path(__file__).resolve().parents[2]
MARKER = "ISSUETRACKER_MAKE_RUN_TEST"
# What CI or a developer's shell points at PostgreSQL, Redis or elsewhere: make run's own defaults apply.
DROPPED = ("DATABASE_URL", "CACHE_URL", "CELERY_", "DJANGO_", "EMAIL_URL", "SECRET_KEY", "ENCRYPTION_KEY", "PYTEST_")


def _processes_with_marker(value: str) -> dict[int, str]:
    """pid -> command line of every live process whose environment carries the marker."""
    found: dict[int, str] = {}
    needle = f"{MARKER}={value}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            status = (entry / "stat").read_text()
            if status.rsplit(")", 1)[1].split()[0] == "Z":
                continue  # exited, waiting for its parent to collect it
            found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
    return found


def _port_is_free(port: int) -> bool:
    """Whether the next `make run` could listen here. As every server does (runserver too), with
    SO_REUSEADDR: connections of the stopped server still in TIME_WAIT do not hold the port, a
    process still listening on it does."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def test_ctrl_c_on_make_run_stops_every_process_and_frees_the_port(tmp_path):
    require(shutil.which("make") is not None, "make is not installed")
    require((ROOT / ".venv" / "bin" / "celery").exists(), "no .venv with the requirements (make creates it)")
    port = find_free_port()
    marker = uuid.uuid4().hex
    env = {key: value for key, value in os.environ.items() if not key.startswith(DROPPED)}
    env.update(PORT=str(port), VAR_DIR=str(tmp_path / "var"), **{MARKER: marker})
    log_path = tmp_path / "make-run.log"
    with log_path.open("wb") as log:
        make = subprocess.Popen(
            ["make", "--no-print-directory", "run"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            commands = list(_processes_with_marker(marker).values())
            started = {
                "web": _answers(f"http://127.0.0.1:{port}/accounts/login/"),
                "worker": any("celery -A issuetracker worker" in c for c in commands),
                "beat": any("celery -A issuetracker beat" in c for c in commands),
                # The autoreloader's parent and the child that serves.
                "runserver and its reloaded child": sum("manage.py runserver" in c for c in commands) >= 2,
            }
            if all(started.values()):
                break
            assert make.poll() is None, f"make run exited early:\n{log_path.read_text()}"
            assert time.monotonic() < deadline, f"not started: {started}\n{log_path.read_text()}"
            time.sleep(0.5)
        # The worker and beat must get past their start before the signal for the test to mean much.
        time.sleep(2)

        os.killpg(make.pid, signal.SIGINT)
        make.wait(timeout=30)

        deadline = time.monotonic() + 5
        while _processes_with_marker(marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _processes_with_marker(marker) == {}, log_path.read_text()
        assert _port_is_free(port)
        # make re-raises the interrupt once its child is done, as after any Ctrl-C.
        assert make.returncode in (0, -signal.SIGINT), log_path.read_text()
        assert "Error" not in log_path.read_text()
        assert "Stopping web, worker and beat..." in log_path.read_text()
    finally:
        for pid in _processes_with_marker(marker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if make.poll() is None:
            make.kill()
            make.wait()
