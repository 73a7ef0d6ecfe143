"""OPS-4: every link in account mail is built from SITE_URL, never from the request's Host header.

A Host header is whatever the client sends. ALLOWED_HOSTS does not look at the port, so even a
strict list lets `tracker.example.com:6666` through; with a catch-all list (the test settings
use one, as do many proxied setups) any name does. A verification or reset link built from it
would send the secret to a server of the sender's choosing.
"""

from __future__ import annotations

import re

import pytest
from django.core import mail

from accounts.tests.factories import ManagerFactory

pytestmark = pytest.mark.django_db

SITE_URL = "https://tracker.example.com"
HOSTILE_HOSTS = ["evil.example", "testserver:6666", "tracker.example.com:8443"]
URL = re.compile(r"\w+://[^\s\"'<>]+")


@pytest.fixture(autouse=True)
def _site_url(settings):  # type: ignore[no-untyped-def]
    settings.SITE_URL = SITE_URL


def _links_in_mail() -> list[str]:
    links = [link for message in mail.outbox for link in URL.findall(message.body)]
    assert links, "expected at least one link in the mail sent"
    return links


def _post(client, path: str, data: dict[str, str], host: str, capture):  # type: ignore[no-untyped-def]
    with capture(execute=True):
        response = client.post(path, data, HTTP_HOST=host)
    assert response.status_code == 302, response.content.decode()[:500]


def _assert_every_link_on_site_url() -> None:
    for link in _links_in_mail():
        assert link.startswith(f"{SITE_URL}/"), link


@pytest.mark.parametrize("host", HOSTILE_HOSTS)
def test_verification_link_of_a_sign_up(client, host, django_capture_on_commit_callbacks):
    data = {"name": "Nina", "email": "nina@example.org", "password1": "long-enough-1"}
    _post(client, "/accounts/signup/", data, host, django_capture_on_commit_callbacks)
    _assert_every_link_on_site_url()
    assert any("/accounts/confirm-email/" in link for link in _links_in_mail())


@pytest.mark.parametrize("host", HOSTILE_HOSTS)
def test_resent_verification_link(client, host, django_capture_on_commit_callbacks):
    ManagerFactory(email="late@example.org", verified=False)
    _post(
        client,
        "/accounts/verification/resend/",
        {"email": "late@example.org"},
        host,
        django_capture_on_commit_callbacks,
    )
    _assert_every_link_on_site_url()


@pytest.mark.parametrize("host", HOSTILE_HOSTS)
def test_password_reset_link(client, manager, host, django_capture_on_commit_callbacks):
    _post(client, "/accounts/password/reset/", {"email": manager.email}, host, django_capture_on_commit_callbacks)
    _assert_every_link_on_site_url()
    assert any("/accounts/password/reset/key/" in link for link in _links_in_mail())


@pytest.mark.parametrize("host", HOSTILE_HOSTS)
def test_no_such_account_mail_of_a_reset(client, host, django_capture_on_commit_callbacks):
    _post(
        client, "/accounts/password/reset/", {"email": "nobody@example.org"}, host, django_capture_on_commit_callbacks
    )
    _assert_every_link_on_site_url()
    assert any(link.endswith("/accounts/signup/") for link in _links_in_mail())


@pytest.mark.parametrize("host", HOSTILE_HOSTS)
def test_account_already_exists_mail_of_a_sign_up(client, manager, host, django_capture_on_commit_callbacks):
    data = {"name": "Copy", "email": manager.email, "password1": "long-enough-1"}
    _post(client, "/accounts/signup/", data, host, django_capture_on_commit_callbacks)
    _assert_every_link_on_site_url()
    assert any(link.endswith("/accounts/password/reset/") for link in _links_in_mail())
