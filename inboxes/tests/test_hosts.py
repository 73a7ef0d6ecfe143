"""SSRF: inbox hosts inside the server's own network are refused when saved and when connecting.

The suite's mail servers listen on 127.0.0.1, so settings_test allows private hosts; these tests
turn that off. Host names resolve through a fake DNS (the ``dns`` fixture), never the network.
"""

from __future__ import annotations

import html
import ipaddress
import socket
import time

import pytest
from django.urls import reverse

from inboxes.connection_check import inbox_check_connection
from inboxes.models import Inbox, ProcessedEmail
from inboxes.polling import inbox_poll
from inboxes.tasks import poll_inbox
from inboxes.tests.factories import make_live_inbox
from issuetracker import hosts

from .factories import InboxFactory
from .mails import make_mail
from .test_inbox_views import form_data

INSIDE = "points inside the server's own network"
_real_getaddrinfo = socket.getaddrinfo


@pytest.fixture
def dns(monkeypatch) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """Name → addresses; names not listed do not exist. Address literals resolve as usual."""
    records: dict[str, list[str]] = {}

    def getaddrinfo(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host in records:
            return [
                (socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 0))
                for address in records[host]
            ]
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return _real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return records


@pytest.fixture
def private_hosts_refused(settings):  # type: ignore[no-untyped-def]
    settings.INBOX_ALLOW_PRIVATE_HOSTS = False


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.18.0.3",
        "192.168.1.10",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT, shared address space
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fd00:ec2::254",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::",  # 6to4 wrapping 127.0.0.1
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    ],
)
def test_internal_addresses(address):
    assert hosts.is_internal_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2001:4860:4860::8888", "2a00:1450:4001::1"])
def test_public_addresses(address):
    assert not hosts.is_internal_address(ipaddress.ip_address(address))


def test_a_slow_name_lookup_gives_up_quickly(monkeypatch, private_hosts_refused):
    def hanging(*args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(2)
        return []

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    monkeypatch.setattr(hosts, "RESOLVE_TIMEOUT_SECONDS", 0.2)
    started = time.monotonic()
    with pytest.raises(socket.gaierror):
        hosts.ensure_public_host("slow.example.com")
    # Not known to be inside when saving: "Test connection" and the connect-time check say more.
    assert not hosts.host_is_internal("slow.example.com")
    assert time.monotonic() - started < 1


# -- the settings form ---------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "host", ["localhost", "127.0.0.1", "10.0.0.7", "[::1]", "169.254.169.254", "db", "mixed.example.com"]
)
def test_form_refuses_hosts_inside_our_network(manager_client, dns, private_hosts_refused, host):
    dns.update({"localhost": ["127.0.0.1"], "db": ["172.18.0.3"], "mixed.example.com": ["93.184.216.34", "10.0.0.9"]})
    response = manager_client.post(reverse("inboxes:new"), form_data(imap_host=host, smtp_host=host))

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert INSIDE in errors["imap_host"][0] and INSIDE in errors["smtp_host"][0]
    assert not Inbox.objects.exists()


@pytest.mark.django_db
def test_form_accepts_public_hosts_and_names_it_cannot_resolve_yet(manager_client, dns, private_hosts_refused):
    dns.update({"imap.example.com": ["93.184.216.34"]})
    response = manager_client.post(
        reverse("inboxes:new"), form_data(imap_host="imap.example.com", smtp_host="not-yet.example.org")
    )
    assert response.status_code == 302
    assert Inbox.objects.get().smtp_host == "not-yet.example.org"


@pytest.mark.django_db
def test_private_hosts_are_allowed_when_the_setting_says_so(manager_client, settings):
    settings.INBOX_ALLOW_PRIVATE_HOSTS = True
    response = manager_client.post(reverse("inboxes:new"), form_data(imap_host="127.0.0.1", smtp_host="localhost"))
    assert response.status_code == 302


# -- at connect time (DNS may have changed since the inbox was saved) ------------------------


@pytest.mark.mailserver
@pytest.mark.django_db
def test_connection_check_refuses_without_connecting(live_inbox, imap_account, smtp_server, private_hosts_refused):
    report = inbox_check_connection(inbox=live_inbox, imap_password=imap_account.password)

    assert not report.imap.ok and not report.smtp.ok
    assert report.imap.message.startswith(f"IMAP: 127.0.0.1 {INSIDE}")
    assert report.smtp.message.startswith(f"SMTP: 127.0.0.1 {INSIDE}")
    assert smtp_server.received == []


@pytest.mark.mailserver
@pytest.mark.django_db
def test_test_connection_on_the_inbox_page_refuses_a_name_now_pointing_inside(
    manager_client, manager, imap_account, smtp_server, dns, private_hosts_refused
):
    inbox = make_live_inbox(
        manager=manager,
        account=imap_account,
        smtp=smtp_server,
        imap_host="mail.example.com",
        smtp_host="mail.example.com",
    )
    dns["mail.example.com"] = ["127.0.0.1"]
    response = manager_client.post(reverse("inboxes:test_connection", args=[inbox.pk]), follow=True)
    content = html.unescape(response.content.decode())
    assert f"IMAP: mail.example.com {INSIDE}" in content
    assert f"SMTP: mail.example.com {INSIDE}" in content


@pytest.mark.mailserver
@pytest.mark.django_db
def test_poll_of_a_host_now_pointing_inside_records_the_error(
    manager, imap_account, smtp_server, deliver, dns, private_hosts_refused
):
    # Saved while the name was public; its DNS record was changed afterwards.
    inbox = make_live_inbox(manager=manager, account=imap_account, smtp=smtp_server, imap_host="mail.example.com")
    dns["mail.example.com"] = ["127.0.0.1"]
    deliver(make_mail())

    result = inbox_poll(inbox=inbox)

    assert result.claimed and result.error.startswith(f"IMAP: mail.example.com {INSIDE}")
    inbox.refresh_from_db()
    assert inbox.last_error == result.error and inbox.poll_lease_until is None
    assert not ProcessedEmail.objects.exists()


@pytest.mark.mailserver
@pytest.mark.django_db
def test_poll_task_with_an_internal_host_does_not_crash(live_inbox, deliver, private_hosts_refused):
    deliver(make_mail())
    poll_inbox.delay(live_inbox.pk)
    live_inbox.refresh_from_db()
    assert live_inbox.last_error.startswith(f"IMAP: 127.0.0.1 {INSIDE}")
    assert not ProcessedEmail.objects.exists()


@pytest.mark.django_db
def test_unresolvable_name_at_connect_time_is_reported_in_words(manager, dns, private_hosts_refused):
    inbox = InboxFactory(manager=manager, imap_host="gone.example.com", smtp_host="gone.example.com")
    report = inbox_check_connection(inbox=inbox)
    assert report.imap.message == "IMAP: the server name gone.example.com could not be found. Check the host name."
    assert report.smtp.message == "SMTP: the server name gone.example.com could not be found. Check the host name."
