"""OPS-1: /health answers a probe whatever ALLOWED_HOSTS and the HTTPS redirect say, and nothing
else gets through on a host name that is not allowed or on plain HTTP."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def production_host(settings):  # type: ignore[no-untyped-def]
    """Production's hardening, which the test settings switch off, behind a TLS proxy."""
    settings.ALLOWED_HOSTS = ["tracker.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    return settings


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost", "172.18.0.5:8000", "[::1]:8000"])
def test_health_answers_a_probe_on_a_host_outside_allowed_hosts_over_http(client, production_host, host):
    response = client.get("/health", HTTP_HOST=host)
    assert response.status_code == 200
    assert response.json()["status"] == "healthy"
    # Still a page of ours: the security headers are there.
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert "no-cache" in response["Cache-Control"]


def test_an_unhealthy_answer_also_reaches_the_probe(client, production_host, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get("/health", HTTP_HOST="127.0.0.1:8000")
    assert response.status_code == 503
    assert response.json()["status"] == "unhealthy"


def test_health_stays_get_only_for_a_probe(client, production_host):
    assert client.post("/health", HTTP_HOST="127.0.0.1:8000").status_code == 405


def test_other_pages_still_refuse_a_host_outside_allowed_hosts(client, production_host):
    assert client.get("/accounts/login/", HTTP_HOST="127.0.0.1:8000", secure=True).status_code == 400
    assert client.get("/health/", HTTP_HOST="127.0.0.1:8000", secure=True).status_code == 400


def test_other_pages_still_redirect_to_https(client, production_host):
    response = client.get("/accounts/login/", HTTP_HOST="tracker.example.com")
    assert response.status_code == 301
    assert response["Location"] == "https://tracker.example.com/accounts/login/"


def test_an_allowed_host_over_https_gets_the_page_and_hsts(client, production_host):
    response = client.get("/accounts/login/", HTTP_HOST="tracker.example.com", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
