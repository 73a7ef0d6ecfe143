"""INB-3 "Test connection" against the real test servers: both at once, plain words, before saving."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from django.urls import reverse

from inboxes import connection_check
from inboxes.connection_check import inbox_check_connection
from inboxes.models import Inbox
from inboxes.tests.factories import make_live_inbox
from testsupport.mailservers import SmtpServer, find_free_port

from .test_inbox_views import form_data

pytestmark = [pytest.mark.mailserver, pytest.mark.django_db]


def live_form(imap_account, smtp_server: SmtpServer, **overrides: object) -> dict[str, object]:  # type: ignore[no-untyped-def]
    values: dict[str, object] = {
        "imap_host": imap_account.host,
        "imap_port": imap_account.port,
        "imap_use_ssl": None,
        "imap_username": imap_account.username,
        "imap_password": imap_account.password,
        "smtp_host": smtp_server.host,
        "smtp_port": smtp_server.port,
        "smtp_use_starttls": None,
        "smtp_username": smtp_server.username,
        "smtp_password": smtp_server.password,
    }
    values.update(overrides)
    return form_data(**values)


def test_both_sides_ok(live_inbox, imap_account):
    report = inbox_check_connection(inbox=live_inbox, imap_password=imap_account.password)
    assert report.ok
    assert report.imap.message == "IMAP: logged in to 127.0.0.1 and opened the inbox."
    assert report.smtp.message == "SMTP: logged in to 127.0.0.1."


def test_each_side_reports_its_own_problem_in_words(manager, imap_account, smtp_server):
    inbox = make_live_inbox(manager=manager, account=imap_account, smtp=smtp_server, passwords=("bad", "also-bad"))
    report = inbox_check_connection(inbox=inbox, imap_password="bad")
    assert report.imap.message == "IMAP: login refused by 127.0.0.1."
    assert report.smtp.message == "SMTP: login refused by 127.0.0.1."
    assert not report.ok


def test_unreachable_smtp_is_reported_without_hurting_the_imap_result(live_inbox, imap_account):
    live_inbox.smtp_port = find_free_port()
    report = inbox_check_connection(inbox=live_inbox, imap_password=imap_account.password)
    assert report.imap.ok
    assert report.smtp.message.startswith(f"SMTP: connection refused by 127.0.0.1:{live_inbox.smtp_port}")


def test_both_checks_run_at_once_and_are_bounded(live_inbox, imap_account, monkeypatch):
    """Two silent servers: the check takes about one timeout, not two."""
    listeners = []
    for _ in range(2):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        listeners.append(listener)
    accepted: list[socket.socket] = []
    for listener in listeners:
        threading.Thread(target=lambda s=listener: accepted.append(s.accept()[0]), daemon=True).start()
    monkeypatch.setattr(connection_check, "CHECK_TIMEOUT_SECONDS", 1)
    live_inbox.imap_port = listeners[0].getsockname()[1]
    live_inbox.smtp_port = listeners[1].getsockname()[1]
    try:
        started = time.monotonic()
        report = inbox_check_connection(inbox=live_inbox, imap_password="x")
        elapsed = time.monotonic() - started
    finally:
        for sock in accepted + listeners:
            sock.close()
    assert report.imap.message == f"IMAP: 127.0.0.1:{live_inbox.imap_port} did not answer in time."
    assert "did not answer in time" in report.smtp.message
    assert elapsed < 1.9


def test_test_connection_before_the_first_save(manager_client, imap_account, smtp_server):
    response = manager_client.post(reverse("inboxes:new"), live_form(imap_account, smtp_server, action="test"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "IMAP: logged in to 127.0.0.1 and opened the inbox." in content
    assert "SMTP: logged in to 127.0.0.1." in content
    # The typed passwords are not echoed back into the page.
    assert imap_account.password not in content
    assert not Inbox.objects.exists()


def test_test_connection_fragment_for_javascript(manager_client, imap_account, smtp_server):
    response = manager_client.post(
        reverse("inboxes:new"),
        live_form(imap_account, smtp_server, action="test", imap_password="wrong"),
        headers={"X-Requested-With": "fetch"},
    )
    content = response.content.decode()
    assert "<html" not in content
    assert "IMAP: login refused by 127.0.0.1." in content


def test_test_connection_on_the_edit_page_uses_the_stored_password_when_empty(
    manager_client, manager, imap_account, smtp_server
):
    inbox = make_live_inbox(manager=manager, account=imap_account, smtp=smtp_server)
    response = manager_client.post(
        reverse("inboxes:edit", args=[inbox.pk]),
        live_form(imap_account, smtp_server, action="test", imap_password="", smtp_password=""),
        headers={"X-Requested-With": "fetch"},
    )
    assert "IMAP: logged in" in response.content.decode()
    assert "SMTP: logged in" in response.content.decode()


def test_test_connection_from_the_inbox_page(manager_client, live_inbox):
    response = manager_client.post(reverse("inboxes:test_connection", args=[live_inbox.pk]), follow=True)
    content = response.content.decode()
    assert "IMAP: logged in to 127.0.0.1 and opened the inbox." in content
    assert "SMTP: logged in to 127.0.0.1." in content
