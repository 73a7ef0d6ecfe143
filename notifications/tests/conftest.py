"""Fixtures for the notification tests: a manager's inbox on the real Dovecot and SMTP test servers,
and the site's default mailer pointed at that SMTP server."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from inboxes.models import Inbox
from inboxes.tests.factories import make_live_inbox
from testsupport.mailservers import DovecotServer, ImapAccount, SmtpServer


@pytest.fixture
def live_inbox(manager, imap_account: ImapAccount, smtp_server: SmtpServer) -> Inbox:  # type: ignore[no-untyped-def]
    return make_live_inbox(manager=manager, account=imap_account, smtp=smtp_server)


@pytest.fixture
def deliver(dovecot: DovecotServer, imap_account: ImapAccount) -> Callable[[bytes], int]:
    return lambda raw: dovecot.append(imap_account.username, raw)


@pytest.fixture
def site_mailer_on(settings, smtp_server: SmtpServer) -> SmtpServer:
    """The site's default sender (manager mail, account mail) delivers to the test SMTP server."""
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": smtp_server.host,
                "port": smtp_server.port,
                "username": smtp_server.username,
                "password": smtp_server.password,
                "use_tls": False,
                "timeout": 10,
            },
        }
    }
    return smtp_server
