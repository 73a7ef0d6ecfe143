"""Fixtures for the intake tests: an inbox wired to the real Dovecot and SMTP test servers."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from inboxes.models import Inbox
from testsupport.mailservers import DovecotServer, ImapAccount, SmtpServer

from .factories import BoardFactory, InboxFactory


@pytest.fixture
def inbox(manager) -> Inbox:  # type: ignore[no-untyped-def]
    return InboxFactory(manager=manager, name="Support", from_address="support@tracker.example")


@pytest.fixture
def board(manager):  # type: ignore[no-untyped-def]
    return BoardFactory(manager=manager, name="Printers", unique_name="printers")


@pytest.fixture
def live_inbox(manager, imap_account: ImapAccount, smtp_server: SmtpServer) -> Inbox:  # type: ignore[no-untyped-def]
    """An inbox of ``manager`` reading the fresh Dovecot account and sending through the test SMTP server."""
    return make_live_inbox(manager=manager, account=imap_account, smtp=smtp_server)


def make_live_inbox(*, manager, account: ImapAccount, smtp: SmtpServer, **fields: object) -> Inbox:  # type: ignore[no-untyped-def]
    defaults: dict[str, object] = {
        "name": "Live support",
        "from_address": f"{account.username}@tracker.example",
        "imap_host": account.host,
        "imap_port": account.port,
        "imap_username": account.username,
        "imap_use_ssl": False,
        "smtp_host": smtp.host,
        "smtp_port": smtp.port,
        "smtp_username": smtp.username or "",
        "smtp_use_starttls": False,
        "passwords": (account.password, smtp.password or ""),
    }
    defaults.update(fields)
    return InboxFactory(manager=manager, **defaults)


@pytest.fixture
def deliver(dovecot: DovecotServer, imap_account: ImapAccount) -> Callable[..., int]:
    """Put a message into the live inbox's mailbox over IMAP APPEND; returns its UID."""

    def _deliver(raw: bytes, flags: str = "") -> int:
        return dovecot.append(imap_account.username, raw, flags)

    return _deliver
