"""NFR-1 /health and NFR-3 security headers."""

from __future__ import annotations

import socket
from datetime import datetime

import pytest
from django.db import connection
from django.db.utils import load_backend

from issuetracker import health

pytestmark = pytest.mark.django_db

HEALTH_URL = "/health"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def unreachable_database(monkeypatch):  # type: ignore[no-untyped-def]
    """A real connection of the configured backend that cannot reach its server."""
    settings_dict = {**connection.settings_dict}
    if connection.vendor == "sqlite":
        settings_dict["NAME"] = "/nonexistent-directory/for-health-test/db.sqlite3"
    else:
        settings_dict.update(HOST="127.0.0.1", PORT=str(_closed_port()), OPTIONS={"connect_timeout": 2})
    backend = load_backend(settings_dict["ENGINE"])
    broken = backend.DatabaseWrapper(settings_dict, alias="unreachable")
    monkeypatch.setattr(health, "connection", broken)
    yield broken
    broken.close()


def test_healthy_answers_200_with_the_documented_shape(client):
    response = client.get(HEALTH_URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    body = response.json()
    assert set(body) == {"status", "timestamp", "details"}
    assert body["status"] == "healthy"
    assert datetime.fromisoformat(body["timestamp"]).tzinfo is not None
    assert set(body["details"]) == {"database", "email_polling", "broker"}
    assert body["details"]["database"] == {"status": "up", "vendor": connection.vendor}
    assert body["details"]["broker"]["status"] == "up"
    assert body["details"]["email_polling"]["status"] == "ok"


def test_database_unreachable_answers_503(client, unreachable_database):
    response = client.get(HEALTH_URL)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["details"]["database"]["status"] == "down"
    assert body["details"]["database"]["error"] == "OperationalError"
    # No dependent check runs against a dead database, and no secret (DSN, path) leaks out.
    assert body["details"]["email_polling"] == {"status": "unknown"}
    assert "nonexistent-directory" not in response.content.decode()
    assert "password" not in response.content.decode().lower()


def test_broker_unreachable_answers_503(client, settings, monkeypatch):
    from issuetracker.celery import app

    url = f"redis://127.0.0.1:{_closed_port()}/0"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = url
    monkeypatch.setattr(app.conf, "broker_url", url)
    monkeypatch.setattr(health, "BROKER_TIMEOUT_SECONDS", 1)
    response = client.get(HEALTH_URL)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["details"]["broker"]["status"] == "down"
    assert body["details"]["broker"]["transport"] == "redis"


def test_health_is_get_only(client):
    assert client.post(HEALTH_URL).status_code == 405


def test_health_is_never_rate_limited(client, settings):
    settings.RATE_LIMIT_DEFAULT = 3
    for _ in range(150):
        response = client.get(HEALTH_URL)
        assert response.status_code == 200
        assert "X-RateLimit-Limit" not in response
    # The same client is limited elsewhere, so the limiter is really on.
    statuses = [client.get("/accounts/login/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


@pytest.mark.parametrize("url", [HEALTH_URL, "/accounts/login/", "/nonexistent-page/"])
def test_security_headers(client, url):
    response = client.get(url)
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
    csp = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";") if part.strip())
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp


def test_pages_carry_no_inline_script(client):
    html = client.get("/accounts/signup/").content.decode()
    assert "<script>" not in html
    assert "onclick=" not in html.lower()
    assert "<script src=" in html
