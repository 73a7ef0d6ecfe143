"""The IMAP client against a real Dovecot: UIDs, PEEK, \\Seen, and failures in plain words."""

from __future__ import annotations

import socket
import threading
from datetime import UTC, datetime

import pytest

from inboxes.imap import ImapError, ImapMailbox, ImapSettings, _internal_date, uid_set
from testsupport.mailservers import find_free_port

from .mails import make_mail

pytestmark = pytest.mark.mailserver


def settings_for(account, **overrides) -> ImapSettings:  # type: ignore[no-untyped-def]
    values = {
        "host": account.host,
        "port": account.port,
        "username": account.username,
        "password": account.password,
        "use_ssl": False,
        "timeout": 5,
    }
    values.update(overrides)
    return ImapSettings(**values)


def test_uid_set_compresses_runs():
    assert uid_set([7, 1, 2, 3, 9, 10]) == "1:3,7,9:10"
    assert uid_set([5]) == "5"


def test_internal_date_is_read_as_utc():
    meta = b'1 (UID 4 INTERNALDATE " 7-Jul-2025 02:44:25 -0700" BODY[] {12}'
    assert _internal_date(meta) == datetime(2025, 7, 7, 9, 44, 25, tzinfo=UTC)
    assert _internal_date(b"1 (UID 4)") is None


def test_search_fetch_with_peek_then_mark_seen(dovecot, imap_account):
    first = dovecot.append(imap_account.username, make_mail(subject="one"))
    already_read = dovecot.append(imap_account.username, make_mail(subject="two"), "\\Seen")
    third = dovecot.append(imap_account.username, make_mail(subject="three"))

    with ImapMailbox(settings_for(imap_account)) as mailbox:
        assert mailbox.uidvalidity
        assert mailbox.uid_next() == third + 1
        assert mailbox.search_uids(after_uid=None) == [first, third]
        assert mailbox.search_uids(after_uid=first) == [already_read, third]
        # "n:*" on a server returns the last message even past the end; the client filters it.
        assert mailbox.search_uids(after_uid=third) == []
        sizes = mailbox.fetch_sizes([first, third])
        assert set(sizes) == {first, third} and all(size > 100 for size in sizes.values())
        fetched = mailbox.fetch([third, first])
        assert [message.uid for message in fetched] == [first, third]
        assert b"Subject: three" in fetched[1].raw
        assert fetched[0].internal_date is not None

    # Fetching did not mark anything read (BODY.PEEK[]).
    assert "\\Seen" not in dovecot.fetch_flags(imap_account.username)[first]

    with ImapMailbox(settings_for(imap_account)) as mailbox:
        mailbox.mark_seen([first, third])
    flags = dovecot.fetch_flags(imap_account.username)
    assert all("\\Seen" in flags[uid] for uid in (first, already_read, third))
    assert dovecot.message_count(imap_account.username) == 3  # never deleted


def test_wrong_password_is_reported_in_words(imap_account):
    with pytest.raises(ImapError, match=r"IMAP: login refused by 127\.0\.0\.1"):
        ImapMailbox(settings_for(imap_account, password="wrong")).open()


def test_refused_port_is_reported_in_words(imap_account):
    port = find_free_port()
    with pytest.raises(ImapError, match=f"connection refused by 127.0.0.1:{port}"):
        ImapMailbox(settings_for(imap_account, port=port)).open()


def test_unknown_host_is_reported_in_words(imap_account):
    with pytest.raises(ImapError, match="could not be found"):
        ImapMailbox(settings_for(imap_account, host="no-such-host.invalid")).open()


def test_ssl_against_a_plaintext_server_fails_and_never_falls_back(imap_account):
    with pytest.raises(ImapError, match=r"secure \(TLS\) connection"):
        ImapMailbox(settings_for(imap_account, use_ssl=True)).open()


def test_a_server_that_never_answers_times_out():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True)
    thread.start()
    try:
        settings = ImapSettings(
            host="127.0.0.1", port=listener.getsockname()[1], username="u", password="p", use_ssl=False, timeout=0.5
        )
        with pytest.raises(ImapError, match="did not answer in time"):
            ImapMailbox(settings).open()
    finally:
        for conn in accepted:
            conn.close()
        listener.close()
