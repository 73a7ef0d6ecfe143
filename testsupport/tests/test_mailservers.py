"""The mail server fixtures talk real IMAP and SMTP, and fail rather than skip under CI."""

from __future__ import annotations

import imaplib
import smtplib
import socket
import threading
from email.message import EmailMessage

import pytest

from testsupport import mailservers
from testsupport.mailservers import (
    DovecotServer,
    DovecotUnavailable,
    ImapAccount,
    SmtpServer,
)

# Also registered by the root conftest (where present); pytest loads a plugin only once.
pytest_plugins = ["testsupport.mailservers"]

pytestmark = pytest.mark.mailserver

RAW_MAIL = (
    b"From: Customer <customer@example.com>\r\n"
    b"To: support@example.com\r\n"
    b"Subject: Printer on fire\r\n"
    b"Message-ID: <printer-1@example.com>\r\n"
    b"\r\n"
    b"It is on fire again.\r\n"
)


def _login(account: ImapAccount) -> imaplib.IMAP4:
    client = imaplib.IMAP4(account.host, account.port, timeout=10)
    client.login(account.username, account.password)
    return client


# -- Dovecot ----------------------------------------------------------------------------------


def test_imap_account_round_trip_marks_message_seen(dovecot: DovecotServer, imap_account: ImapAccount) -> None:
    uid = dovecot.append(imap_account.username, RAW_MAIL)

    client = _login(imap_account)
    try:
        status, data = client.select("INBOX")
        assert (status, data) == ("OK", [b"1"])
        status, data = client.uid("SEARCH", "UNSEEN")
        assert status == "OK"
        assert data[0].split() == [str(uid).encode()]
        status, data = client.uid("FETCH", str(uid), "(BODY.PEEK[])")
        assert status == "OK"
        assert data[0][1] == RAW_MAIL
        # BODY.PEEK must not have set \Seen: the poller decides when a message counts as read.
        assert dovecot.fetch_flags(imap_account.username) == {uid: set()}

        status, _ = client.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Seen)")
        assert status == "OK"
    finally:
        client.logout()

    assert dovecot.fetch_flags(imap_account.username) == {uid: {"\\Seen"}}
    assert dovecot.message_count(imap_account.username) == 1


def test_append_keeps_given_flags(dovecot: DovecotServer, imap_account: ImapAccount) -> None:
    seen_uid = dovecot.append(imap_account.username, RAW_MAIL, "\\Seen \\Flagged")
    unseen_uid = dovecot.append(imap_account.username, RAW_MAIL)

    assert dovecot.fetch_flags(imap_account.username) == {
        seen_uid: {"\\Seen", "\\Flagged"},
        unseen_uid: set(),
    }


def test_each_imap_account_starts_empty_and_private(dovecot: DovecotServer, imap_account: ImapAccount) -> None:
    dovecot.add_user("other-user-of-this-test", "other-password")
    dovecot.append("other-user-of-this-test", RAW_MAIL)

    assert dovecot.message_count(imap_account.username) == 0
    assert dovecot.fetch_flags(imap_account.username) == {}
    assert dovecot.message_count("other-user-of-this-test") == 1


def test_imap_rejects_wrong_password(imap_account: ImapAccount) -> None:
    client = imaplib.IMAP4(imap_account.host, imap_account.port, timeout=10)
    try:
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            client.login(imap_account.username, "not-the-password")
    finally:
        client.shutdown()


def test_add_user_again_changes_password_at_once(dovecot: DovecotServer, imap_account: ImapAccount) -> None:
    assert dovecot.message_count(imap_account.username) == 0

    dovecot.add_user(imap_account.username, "new-password")

    client = imaplib.IMAP4(imap_account.host, imap_account.port, timeout=10)
    try:
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            client.login(imap_account.username, imap_account.password)
    finally:
        client.shutdown()
    assert dovecot.message_count(imap_account.username) == 0


def test_restart_keeps_port_users_and_messages(private_dovecot: DovecotServer) -> None:
    private_dovecot.add_user("alice", "alice-pw")
    uid = private_dovecot.append("alice", RAW_MAIL, "\\Seen")
    port = private_dovecot.port

    private_dovecot.restart()

    assert private_dovecot.port == port
    assert private_dovecot.fetch_flags("alice") == {uid: {"\\Seen"}}


def test_kill_breaks_open_and_new_connections_until_restart(
    private_dovecot: DovecotServer,
) -> None:
    private_dovecot.add_user("alice", "alice-pw")
    uid = private_dovecot.append("alice", RAW_MAIL)
    account = ImapAccount(
        host=private_dovecot.host,
        port=private_dovecot.port,
        username="alice",
        password="alice-pw",
    )
    open_client = _login(account)
    open_client.select("INBOX")

    private_dovecot.kill()

    assert not private_dovecot.is_running
    with pytest.raises((imaplib.IMAP4.abort, OSError)):
        open_client.noop()
    with pytest.raises(ConnectionRefusedError):
        _login(account)

    private_dovecot.restart()

    assert private_dovecot.fetch_flags("alice") == {uid: set()}


def test_start_failure_reports_dovecot_log(private_dovecot: DovecotServer) -> None:
    private_dovecot.stop()
    # Someone else takes the port, so the restart (which must keep its port) cannot bind.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind((private_dovecot.host, private_dovecot.port))
        squatter.listen()
        with pytest.raises(DovecotUnavailable, match="Address already in use"):
            private_dovecot.start()
    assert not private_dovecot.is_running


def test_missing_dovecot_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(mailservers, "_find_dovecot_binary", lambda: None)

    with pytest.raises(pytest.fail.Exception, match="dovecot is not installed"):
        mailservers._started_dovecot()


def test_missing_dovecot_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(mailservers, "_find_dovecot_binary", lambda: None)

    with pytest.raises(pytest.skip.Exception, match="dovecot is not installed"):
        mailservers._started_dovecot()


# -- SMTP -------------------------------------------------------------------------------------


def test_smtp_login_and_send_is_received(smtp_server: SmtpServer) -> None:
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as client:
        client.login("smtpuser", "smtppass")
        client.sendmail("helpdesk@example.com", ["a@example.com", "b@example.com"], RAW_MAIL)

    [mail] = smtp_server.wait_for(1)
    assert mail.mail_from == "helpdesk@example.com"
    assert mail.rcpt_tos == ("a@example.com", "b@example.com")
    assert mail.raw == RAW_MAIL
    assert isinstance(mail.message, EmailMessage)
    assert mail.message["Subject"] == "Printer on fire"

    smtp_server.clear()
    assert smtp_server.received == []


def test_smtp_refuses_mail_without_auth(smtp_server: SmtpServer) -> None:
    with (
        smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as client,
        pytest.raises(smtplib.SMTPSenderRefused) as excinfo,
    ):
        client.sendmail("helpdesk@example.com", ["a@example.com"], RAW_MAIL)
    assert excinfo.value.smtp_code == 530
    assert smtp_server.received == []


def test_smtp_reject_all_answers_550_to_rcpt(smtp_server: SmtpServer) -> None:
    smtp_server.reject_all = True
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as client:
        client.login("smtpuser", "smtppass")
        with pytest.raises(smtplib.SMTPRecipientsRefused) as excinfo:
            client.sendmail("helpdesk@example.com", ["a@example.com"], RAW_MAIL)
    assert excinfo.value.recipients["a@example.com"][0] == 550
    assert smtp_server.received == []


@pytest.mark.parametrize(
    ("password", "fail_auth"),
    [("wrong", False), ("smtppass", True)],
    ids=["wrong-password", "fail-auth-mode"],
)
def test_smtp_auth_failure(smtp_server: SmtpServer, password: str, fail_auth: bool) -> None:
    smtp_server.fail_auth = fail_auth
    with (
        smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as client,
        pytest.raises(smtplib.SMTPAuthenticationError) as excinfo,
    ):
        client.login("smtpuser", password)
    assert excinfo.value.smtp_code == 535


def test_smtp_without_credentials_accepts_anonymous_mail() -> None:
    with SmtpServer() as server:
        with smtplib.SMTP(server.host, server.port, timeout=10) as client:
            client.sendmail("helpdesk@example.com", ["a@example.com"], RAW_MAIL)
        assert [mail.rcpt_tos for mail in server.wait_for(1)] == [("a@example.com",)]


def test_smtp_collects_concurrent_deliveries(smtp_server: SmtpServer) -> None:
    def send(index: int) -> None:
        with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as client:
            client.login("smtpuser", "smtppass")
            client.sendmail("helpdesk@example.com", [f"user{index}@example.com"], RAW_MAIL)

    senders = [threading.Thread(target=send, args=(index,)) for index in range(5)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(timeout=10)

    mails = smtp_server.wait_for(5)
    assert sorted(mail.rcpt_tos[0] for mail in mails) == [f"user{index}@example.com" for index in range(5)]


def test_smtp_wait_for_times_out_with_count(smtp_server: SmtpServer) -> None:
    with pytest.raises(TimeoutError, match="expected 1 mail"):
        smtp_server.wait_for(1, timeout=0.1)
