"""OPS-1: the health checks compose runs in the web and beat containers (bin/healthcheck) and the
heartbeat beat writes for them. The full services run with them in test_production.py."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from issuetracker.beat import HeartbeatScheduler
from issuetracker.celery import app
from testsupport.mailservers import find_free_port

ROOT = Path(__file__).resolve().parents[2]


def _healthcheck(kind: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "bin" / "healthcheck"), kind],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_beat_check_follows_the_heartbeat_age(tmp_path):
    heartbeat = tmp_path / "celerybeat-heartbeat"
    missing = _healthcheck("beat", BEAT_HEARTBEAT_FILE=str(heartbeat))
    assert missing.returncode == 1
    assert "no heartbeat file" in missing.stderr

    heartbeat.touch()
    assert _healthcheck("beat", BEAT_HEARTBEAT_FILE=str(heartbeat)).returncode == 0

    four_minutes_ago = time.time() - 240
    os.utime(heartbeat, (four_minutes_ago, four_minutes_ago))
    stale = _healthcheck("beat", BEAT_HEARTBEAT_FILE=str(heartbeat))
    assert stale.returncode == 1
    assert "last tick 240 s ago" in stale.stderr


def test_beat_check_finds_the_heartbeat_under_var_dir(tmp_path):
    (tmp_path / "celerybeat-heartbeat").touch()
    env = {key: value for key, value in os.environ.items() if key != "BEAT_HEARTBEAT_FILE"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "bin" / "healthcheck"), "beat"],
        env={**env, "VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db(transaction=True)
def test_web_check_asks_health_on_the_gunicorn_port(live_server):
    port = live_server.url.rsplit(":", 1)[-1]
    assert _healthcheck("web", GUNICORN_BIND=f"0.0.0.0:{port}").returncode == 0

    nobody = _healthcheck("web", GUNICORN_BIND=f"0.0.0.0:{find_free_port()}")
    assert nobody.returncode == 1
    assert "no answer" in nobody.stderr


def test_healthcheck_refuses_an_unknown_kind():
    assert _healthcheck("worker").returncode == 2


def test_the_scheduler_touches_the_heartbeat_on_every_tick(tmp_path, settings):
    settings.BEAT_HEARTBEAT_FILE = str(tmp_path / "beat" / "heartbeat")
    scheduler = HeartbeatScheduler(app=app, schedule_filename=str(tmp_path / "schedule"), lazy=True)
    scheduler.setup_schedule()
    try:
        interval = scheduler.tick()
        first = Path(settings.BEAT_HEARTBEAT_FILE).stat().st_mtime
        os.utime(settings.BEAT_HEARTBEAT_FILE, (first - 100, first - 100))
        scheduler.tick()
        assert Path(settings.BEAT_HEARTBEAT_FILE).stat().st_mtime > first - 100
    finally:
        scheduler.close()
    # Beat never sleeps longer than a minute, so the file is never older than that while it works.
    assert 0 < interval <= 60


def test_beat_runs_the_heartbeat_scheduler():
    assert app.conf.beat_scheduler == "issuetracker.beat.HeartbeatScheduler"
    assert app.conf.beat_max_interval == 60
