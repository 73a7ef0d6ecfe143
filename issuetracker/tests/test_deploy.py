"""NFR-3: `manage.py check --deploy` is clean under production settings, and production refuses
to start with the development secrets or without a mailer (OPS-1)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    dropped = {
        "DJANGO_SETTINGS_MODULE",
        "DEBUG",
        "SECRET_KEY",
        "ENCRYPTION_KEY",
        "EMAIL_URL",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
    }
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "issuetracker.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": base64.b64encode(os.urandom(48)).decode(),
    "ENCRYPTION_KEY": base64.b64encode(os.urandom(32)).decode(),
    "ALLOWED_HOSTS": "tracker.example.com",
    "SITE_URL": "https://tracker.example.com",
    "EMAIL_URL": "smtp+tls://tracker%40example.com:app-password@smtp.example.com:587",
}


def test_check_deploy_is_clean_with_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_development_secret_key():
    env = {**PRODUCTION}
    env.pop("SECRET_KEY")
    result = _manage("check", **env)
    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_a_mailer():
    env = {**PRODUCTION}
    env.pop("EMAIL_URL")
    result = _manage("check", **env)
    assert result.returncode != 0
    assert "Set EMAIL_URL to the SMTP server" in result.stderr


def test_development_runs_without_secrets_or_mailer():
    result = _manage("check", DEBUG="true")
    assert result.returncode == 0, result.stdout + result.stderr
