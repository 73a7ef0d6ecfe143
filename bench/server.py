"""The product as in production: its own database, gunicorn with DEBUG off, Redis, on 127.0.0.1.

Everything here is started by the bench and stopped by it: ``Gunicorn`` is a context manager
that terminates its whole process group, whatever happens in between.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import psycopg

from .util import BASE_DIR, BenchError, log

HOST = "127.0.0.1"
DB_NAME = "issuetracker_bench"
# The older commit's database in `--compare REV`; the newer side keeps DB_NAME (bench.profile's).
REV_DB_NAME = "issuetracker_bench_rev"
# Cache and broker databases of Redis: (5, 6) for the measured tree, (7, 8) for REV's side.
REDIS_DBS = (5, 6)
REV_REDIS_DBS = (7, 8)
GUNICORN_WORKERS = 2  # the baseline: 2 sync workers on a 2-core machine
STARTUP_TIMEOUT = 30.0


def postgres_base_url() -> str:
    """Server URL without a database name (user postgres, trust auth, as in CI)."""
    return os.environ.get("BENCH_POSTGRES_URL", f"postgres://postgres@{HOST}:5432").rstrip("/")


def redis_base_url() -> str:
    return os.environ.get("BENCH_REDIS_URL", f"redis://{HOST}:6379").rstrip("/")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def recreate_database(name: str = DB_NAME) -> str:
    """Drop and create one of the bench's fixed databases; returns its DATABASE_URL.

    The names are fixed (``issuetracker_bench``, and ``REV_DB_NAME`` for a comparison) so that
    nothing accumulates; the machine lock in ``bench.__main__`` keeps two runs from sharing them.
    """
    base = postgres_base_url()
    try:
        with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")
    except psycopg.OperationalError as exc:
        raise BenchError(f"PostgreSQL is not reachable at {base} ({exc}).") from exc
    return f"{base}/{name}"


def postgres_version() -> str:
    try:
        with psycopg.connect(f"{postgres_base_url()}/postgres", connect_timeout=5) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.OperationalError:
        return "unknown"
    return str(row[0]) if row else "unknown"


def product_environment(
    *, database_url: str, static_root: Path, port: int, redis_dbs: tuple[int, int] = REDIS_DBS
) -> dict[str, str]:
    """The environment of a production deployment, with secrets generated for this run only."""
    redis = redis_base_url()
    cache_db, broker_db = redis_dbs
    env = {
        key: value
        for key, value in os.environ.items()
        # Nothing of a developer's shell may change what is measured, nor which tree's code
        # a process imports (each side of a comparison runs from its own folder).
        if not key.startswith(("DJANGO_", "DATABASE_", "CACHE_", "CELERY_", "RATE_LIMIT", "EMAIL_", "PYTHONPATH"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        BENCH_STATIC_ROOT=str(static_root),
        DEBUG="false",
        # Production requires a mailer; the bench sends nothing through it (no worker runs).
        EMAIL_URL="dummymail://",
        SECRET_KEY=secrets.token_urlsafe(48),
        ENCRYPTION_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
        ALLOWED_HOSTS=HOST,
        SITE_URL=f"http://{HOST}:{port}",
        DATABASE_URL=database_url,
        CACHE_URL=f"{redis}/{cache_db}",
        CELERY_BROKER_URL=f"{redis}/{broker_db}",
        RATE_LIMIT_ENABLED="false",
        # The bench's Dovecot runs on 127.0.0.1, which production refuses as an inbox host.
        INBOX_ALLOW_PRIVATE_HOSTS="true",
        SECURE_SSL_REDIRECT="false",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        SECURE_HSTS_SECONDS="0",
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    return env


def flush_redis_databases() -> None:
    """Empty the bench's own cache and broker databases: tasks queued by the run have no worker."""
    import redis

    base = redis_base_url()
    for db in (*REDIS_DBS, *REV_REDIS_DBS):
        try:
            redis.Redis.from_url(f"{base}/{db}", socket_timeout=5).flushdb()
        except redis.RedisError as exc:
            raise BenchError(f"Redis is not reachable at {base} ({exc}).") from exc


def redis_version() -> str:
    import redis

    try:
        info = redis.Redis.from_url(f"{redis_base_url()}/{REDIS_DBS[0]}", socket_timeout=5).info("server")
        return str(info["redis_version"])
    except redis.RedisError:
        return "unknown"


def manage(env: dict[str, str], *args: str, timeout: float = 300, cwd: Path = BASE_DIR) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise BenchError(f"manage.py {' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")


class Gunicorn:
    """gunicorn with sync workers on 127.0.0.1:<port>, in its own process group, serving ``cwd``'s code."""

    def __init__(self, *, env: dict[str, str], port: int, log_path: Path, cwd: Path = BASE_DIR) -> None:
        self.env, self.port, self.log_path, self.cwd = env, port, log_path, cwd
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        gunicorn = Path(sys.executable).with_name("gunicorn")
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                [
                    str(gunicorn),
                    "issuetracker.wsgi:application",
                    "--bind",
                    f"{HOST}:{self.port}",
                    "--workers",
                    str(GUNICORN_WORKERS),
                    "--worker-class",
                    "sync",
                    "--timeout",
                    "60",
                    # A backlog deep enough for every wrk connection; sync workers never keep alive.
                    "--backlog",
                    "256",
                    # The default control socket is one path per user: it would collide with any
                    # other gunicorn of this user, e.g. a developer's own.
                    "--no-control-socket",
                ],
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                start_new_session=True,
            )
        self._wait_ready()
        log(f"gunicorn ({GUNICORN_WORKERS} sync workers) serving on {self.url}, pid {self.process.pid}")

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        with contextlib.suppress(OSError):
            return [int(pid) for pid in children.read_text().split()]
        return []

    def _wait_ready(self) -> None:
        import requests

        assert self.process is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"gunicorn exited during startup; see {self.log_path}:\n{_tail(self.log_path)}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/bench/ceiling", timeout=2).status_code == 200:
                    # Both workers must have imported the app before the first measurement.
                    for _ in range(20):
                        requests.get(f"{self.url}/bench/ceiling", timeout=2)
                    return
            time.sleep(0.2)
        self.stop()
        raise BenchError(f"gunicorn did not answer within {STARTUP_TIMEOUT:g} s; see {self.log_path}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            if not _wait_exited_unreaped(process.pid, timeout=15):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
        # While the arbiter is an unreaped zombie its pid still names our process group, so this
        # reaches only workers that outlived it, never an unrelated group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _wait_exited_unreaped(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:
            return True
        time.sleep(0.05)
    return False


def _tail(path: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""
