"""Fixtures for the intake tests: an inbox wired to the real Dovecot and SMTP test servers."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from inboxes.models import Inbox
from testsupport.mailservers import DovecotServer, ImapAccount, SmtpServer

from .factories import make_live_inbox


@pytest.fixture
def live_inbox(manager, imap_account: ImapAccount, smtp_server: SmtpServer) -> Inbox:  # type: ignore[no-untyped-def]
    """An inbox of ``manager`` reading the fresh Dovecot account and sending through the test SMTP server."""
    return make_live_inbox(manager=manager, account=imap_account, smtp=smtp_server)


@pytest.fixture
def deliver(dovecot: DovecotServer, imap_account: ImapAccount) -> Callable[..., int]:
    """Put a message into the live inbox's mailbox over IMAP APPEND; returns its UID."""

    def _deliver(raw: bytes, flags: str = "") -> int:
        return dovecot.append(imap_account.username, raw, flags)

    return _deliver
