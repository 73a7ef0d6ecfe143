"""The production shape without Docker: the compose services' commands, run from the image's build
context with a virtualenv holding requirements.txt alone, against PostgreSQL and Redis.

``ProductionSite`` prepares the tree as the Dockerfile's build stage does (translations compiled,
static files collected with DEBUG off), starts services by their compose name, runs their compose
health checks, and stops them with their compose stop signal and grace period. Every service gets
the environment compose gives it, with this machine's servers in place of the compose network's.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .compose import Service, read_compose, service
from .image import copy_build_context, requirements_venv

# Values the Dockerfile's build stage gives collectstatic, for the same reason.
_BUILD_ONLY_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "build-only",
    "ENCRYPTION_KEY": "YnVpbGQtb25seS1rZXktbm90LWZvci1ydW50aW1lISE=",
    "EMAIL_URL": "dummymail://",
}


@dataclass
class RunningService:
    service: Service
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]


@dataclass
class ProductionSite:
    root: Path
    app_env: dict[str, str]
    tree: Path = field(init=False)
    venv: Path = field(init=False)
    running: dict[str, RunningService] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tree = self.root / "app"
        self.venv = requirements_venv()
        self.compose = read_compose()

    # -- environment ------------------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        """A container's environment: nothing of the test run's own, the venv first on PATH."""
        home = self.root / "home"
        home.mkdir(exist_ok=True)
        return {
            "PATH": f"{self.venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "LANG": "C.UTF-8",
            # Docker sets it to the container's host name; celery's %h is the same name.
            "HOSTNAME": socket.gethostname(),
            "PYTHONNOUSERSITE": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            **self.app_env,
        }

    def compose_app_variables(self) -> set[str]:
        return set(self.compose["x-app"]["environment"])

    # -- build -----------------------------------------------------------------------------

    def build(self) -> None:
        """The Dockerfile: COPY . ., compile-messages, collectstatic, then an empty var/."""
        copy_build_context(self.tree)
        self.run(["python", "bin/compile-messages"], timeout=120)
        build_env = {**self.env, **_BUILD_ONLY_ENV}
        self.run(["python", "manage.py", "collectstatic", "--noinput"], env=build_env, timeout=300)
        # The runtime stage: an empty var/ for beat's schedule and heartbeat.
        shutil.rmtree(self.tree / "var", ignore_errors=True)
        (self.tree / "var").mkdir()

    def run(
        self, argv: list[str], *, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            argv,
            cwd=self.tree,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        command = " ".join(argv)
        assert result.returncode == 0, f"{command} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        return result

    # -- services --------------------------------------------------------------------------

    def run_once(self, name: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """A one-shot service such as ``migrate``."""
        return self.run(service(name, self.compose).command, timeout=timeout)

    def start(self, name: str) -> RunningService:
        spec = service(name, self.compose)
        log_path = self.root / f"{name}.log"
        log_file = log_path.open("ab")
        process = subprocess.Popen(
            spec.command,
            cwd=self.tree,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        running = RunningService(service=spec, process=process, log_path=log_path, log_file=log_file)
        self.running[name] = running
        return running

    def healthcheck(self, name: str) -> subprocess.CompletedProcess[str]:
        spec = service(name, self.compose)
        return subprocess.run(
            spec.healthcheck_argv(),
            cwd=self.tree,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def wait_healthy(self, name: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.assert_running(name)
            result = self.healthcheck(name)
            if result.returncode == 0:
                return
            assert time.monotonic() < deadline, (
                f"{name} not healthy after {timeout:g} s: {result.stdout}{result.stderr}\n{self.log_tail(name)}"
            )
            time.sleep(1)

    def assert_running(self, name: str) -> None:
        process = self.running[name].process
        assert process.poll() is None, f"{name} exited with {process.returncode}:\n{self.log_tail(name)}"

    def stop(self, name: str) -> tuple[int, float]:
        """Send the compose stop signal; return the exit code and how long the stop took.

        Past the grace period Docker would kill the container: so does this, and says so.
        """
        running = self.running.pop(name)
        started = time.monotonic()
        running.process.send_signal(getattr(signal, running.service.stop_signal))
        try:
            code = running.process.wait(timeout=running.service.stop_grace_seconds)
        except subprocess.TimeoutExpired:
            self._kill(running)
            raise AssertionError(
                f"{name} did not stop within its grace period ({running.service.stop_grace_seconds:g} s)"
            ) from None
        finally:
            running.log_file.close()
        self._kill(running)  # children left behind in its process group, if any
        return code, time.monotonic() - started

    def stop_all(self) -> None:
        for name in list(self.running):
            running = self.running.pop(name)
            self._kill(running)
            running.log_file.close()

    @staticmethod
    def _kill(running: RunningService) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(running.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            running.process.wait(timeout=10)

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def log_tail(self, name: str, lines: int = 40) -> str:
        return f"--- {name} log ---\n" + "\n".join(self.log(name).splitlines()[-lines:])

    def all_logs(self) -> str:
        return "\n".join(self.log_tail(path.stem) for path in sorted(self.root.glob("*.log")))
