"""NFR-2: per-IP rate limits with X-RateLimit-* headers and a friendly 429 page."""

from __future__ import annotations

import types

import pytest

from issuetracker import ratelimit

pytestmark = pytest.mark.django_db

LOGIN_URL = "/accounts/login/"
SIGNUP_URL = "/accounts/signup/"
# In the middle of a window, so a test never straddles two of them.
FROZEN_NOW = 1_800_000_030.0


@pytest.fixture(autouse=True)
def _frozen_clock(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(ratelimit, "time", types.SimpleNamespace(time=lambda: FROZEN_NOW))


def _login_post(client, ip: str = "198.51.100.7", **extra: str):  # type: ignore[no-untyped-def]
    return client.post(LOGIN_URL, {"login": "someone@example.com", "password": "wrong"}, REMOTE_ADDR=ip, **extra)


def test_defaults_match_the_spec():
    from django.conf import settings

    assert (settings.RATE_LIMIT_LOGIN, settings.RATE_LIMIT_PUBLIC_TICKET, settings.RATE_LIMIT_DEFAULT) == (10, 20, 100)


def test_login_posts_are_limited_per_ip_with_headers_and_a_friendly_page(client, settings):
    settings.RATE_LIMIT_LOGIN = 3
    reset = str(int(FROZEN_NOW // 60 + 1) * 60)
    for remaining in (2, 1, 0):
        response = _login_post(client)
        assert response.status_code == 200
        assert response["X-RateLimit-Limit"] == "3"
        assert response["X-RateLimit-Remaining"] == str(remaining)
        assert response["X-RateLimit-Reset"] == reset

    limited = _login_post(client)
    assert limited.status_code == 429
    assert limited["X-RateLimit-Limit"] == "3"
    assert limited["X-RateLimit-Remaining"] == "0"
    assert limited["X-RateLimit-Reset"] == reset
    assert limited["Retry-After"] == "31"
    html = limited.content.decode()
    assert "Slow down a little" in html
    assert "Please try again in 31 seconds." in html
    assert '<html lang="en">' in html  # the site layout, not a bare error


def test_signup_shares_the_login_bucket(client, settings):
    settings.RATE_LIMIT_LOGIN = 2
    _login_post(client)
    client.post(SIGNUP_URL, {"email": "x@example.com"}, REMOTE_ADDR="198.51.100.7")
    assert client.post(SIGNUP_URL, {"email": "x@example.com"}, REMOTE_ADDR="198.51.100.7").status_code == 429


def test_reading_the_login_page_is_not_a_login_attempt(client, settings):
    settings.RATE_LIMIT_LOGIN = 1
    for _ in range(3):
        response = client.get(LOGIN_URL, REMOTE_ADDR="198.51.100.7")
        assert response.status_code == 200
        assert response["X-RateLimit-Limit"] == "100"
    assert _login_post(client).status_code == 200


def test_different_ips_are_counted_separately(client, settings):
    settings.RATE_LIMIT_LOGIN = 2
    for _ in range(2):
        assert _login_post(client, ip="198.51.100.1").status_code == 200
    assert _login_post(client, ip="198.51.100.1").status_code == 429
    assert _login_post(client, ip="198.51.100.2").status_code == 200
    assert _login_post(client, ip="2001:db8::1").status_code == 200


def test_a_new_window_starts_a_new_count(client, settings, monkeypatch):
    settings.RATE_LIMIT_LOGIN = 1
    _login_post(client)
    assert _login_post(client).status_code == 429
    monkeypatch.setattr(ratelimit, "time", types.SimpleNamespace(time=lambda: FROZEN_NOW + 60))
    assert _login_post(client).status_code == 200


def test_x_forwarded_for_is_ignored_without_trusted_proxies(client, settings):
    settings.RATE_LIMIT_LOGIN = 2
    settings.TRUSTED_PROXIES = []
    statuses = [
        _login_post(client, ip="198.51.100.7", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code for n in range(3)
    ]
    # A client cannot buy itself new buckets by inventing addresses.
    assert statuses == [200, 200, 429]


def test_x_forwarded_for_is_ignored_when_the_peer_is_not_a_trusted_proxy(client, settings):
    settings.RATE_LIMIT_LOGIN = 2
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    statuses = [
        _login_post(client, ip="198.51.100.7", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code for n in range(3)
    ]
    assert statuses == [200, 200, 429]


def test_x_forwarded_for_is_used_behind_a_trusted_proxy(client, settings):
    settings.RATE_LIMIT_LOGIN = 2
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    for _ in range(2):
        assert _login_post(client, ip="10.0.0.5", HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 200
    assert _login_post(client, ip="10.0.0.5", HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 429
    # Another client behind the same proxy has its own bucket.
    assert _login_post(client, ip="10.0.0.5", HTTP_X_FORWARDED_FOR="203.0.113.2").status_code == 200
    # A spoofed entry on the left does not help: the rightmost untrusted address is the client.
    spoofed = _login_post(client, ip="10.0.0.5", HTTP_X_FORWARDED_FOR="192.0.2.99, 203.0.113.1")
    assert spoofed.status_code == 429


def test_client_ip_skips_trusted_hops(rf, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "192.168.1.1"]
    request = rf.get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="203.0.113.9, 192.168.1.1, 10.1.1.1")
    assert ratelimit.client_ip(request) == "203.0.113.9"
    request = rf.get("/", REMOTE_ADDR="10.0.0.5")
    assert ratelimit.client_ip(request) == "10.0.0.5"


def test_default_bucket_allows_100_requests_a_minute(client):
    for n in range(100):
        response = client.get("/nonexistent-page/", REMOTE_ADDR="198.51.100.9")
        assert response.status_code == 404, f"request {n + 1} refused"
    limited = client.get("/nonexistent-page/", REMOTE_ADDR="198.51.100.9")
    assert limited.status_code == 429
    assert limited["X-RateLimit-Limit"] == "100"


def test_login_attempts_do_not_use_up_the_default_bucket(client, settings):
    settings.RATE_LIMIT_LOGIN = 1
    settings.RATE_LIMIT_DEFAULT = 2
    assert _login_post(client).status_code == 200
    assert client.get(LOGIN_URL, REMOTE_ADDR="198.51.100.7")["X-RateLimit-Remaining"] == "1"


def test_static_files_are_not_limited(client, settings):
    settings.RATE_LIMIT_DEFAULT = 1
    for _ in range(3):
        response = client.get("/static/css/app.css", REMOTE_ADDR="198.51.100.7")
        assert response.status_code != 429
        assert "X-RateLimit-Limit" not in response


def test_limits_can_be_switched_off(client, settings):
    settings.RATE_LIMIT_ENABLED = False
    settings.RATE_LIMIT_LOGIN = 1
    assert [_login_post(client).status_code for _ in range(3)] == [200, 200, 200]


@pytest.mark.parametrize(("language", "text"), [("en", "try again in a few minutes"), ("pl", "za kilka minut")])
def test_allauths_own_limits_answer_with_the_429_page(client, manager, language, text):
    # allauth renders 429.html without retry_after (here: six reset requests for one address
    # within five minutes); that was a 500 error.
    responses = [
        client.post("/accounts/password/reset/", {"email": manager.email}, HTTP_ACCEPT_LANGUAGE=language)
        for _ in range(6)
    ]
    assert [r.status_code for r in responses] == [302] * 5 + [429]
    assert text in responses[-1].content.decode()
