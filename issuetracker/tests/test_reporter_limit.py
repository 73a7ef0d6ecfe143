"""THR-6: automatic mail to one mailbox is limited per hour, counted on the normalised mailbox.

Before, the public form counted `address.strip().lower()`: `rita+1@…`, `"rita"@…` and
`rita@[192.0.2.1]` each got their own ten reports an hour, all mailed to one person.
"""

from __future__ import annotations

import pytest
from django.core import mail

from issuetracker.ratelimit import reporter_address_allowed
from tickets.models import Ticket
from tickets.tests.factories import BoardFactory

pytestmark = pytest.mark.django_db

ONE_MAILBOX = [
    "rita@example.org",
    "Rita@Example.org",
    "rita+1@example.org",
    "rita+2@example.org",
    "RITA+news@EXAMPLE.ORG",
    '"rita"@example.org',
    '"rita+3"@example.org',
    '"r\\ita"@example.org',
    '"RITA+x"@Example.org',
    "rita+4@example.org",
    "rita+5@example.org",
]


@pytest.fixture
def board(manager):  # type: ignore[no-untyped-def]
    return BoardFactory(manager=manager, unique_name="office-it")


def _report(client, email: str, n: int):  # type: ignore[no-untyped-def]
    data = {"email": email, "title": f"Report {n}", "description": "It broke.", "website": ""}
    # From a new IP each time, so the per-IP limit is not what stops it.
    return client.post("/board/office-it", data, REMOTE_ADDR=f"198.51.100.{n + 1}")


def test_spellings_of_one_mailbox_share_one_allowance(client, board, settings):
    assert settings.RATE_LIMIT_REPORTER_PER_HOUR == 10
    assert len(ONE_MAILBOX) == settings.RATE_LIMIT_REPORTER_PER_HOUR + 1
    for n, email in enumerate(ONE_MAILBOX[:-1]):
        assert _report(client, email, n).status_code == 302, email

    refused = _report(client, ONE_MAILBOX[-1], 50)
    assert refused.status_code == 200
    assert "Many reports were sent for this address" in refused.content.decode()
    assert Ticket.objects.count() == 10
    assert _report(client, "rita.smith@example.org", 51).status_code == 302


@pytest.mark.parametrize("email", ["rita@[192.0.2.1]", "rita@[2001:db8::1]", '"rita"@[192.0.2.1]'])
def test_public_form_refuses_a_domain_literal_inline(client, board, email, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = _report(client, email, 1)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Use an address with a domain name, not an IP address." in html
    assert 'value="Report 1"' in html  # what was typed is kept
    assert Ticket.objects.count() == 0
    assert mail.outbox == []


@pytest.mark.parametrize("email", ["rita@[192.0.2.1]", "rita@192.0.2.1", "not an address"])
def test_a_domain_literal_is_never_answered_even_without_limits(settings, email):
    settings.RATE_LIMIT_ENABLED = False
    assert reporter_address_allowed(email) is False


def test_the_limit_is_per_mailbox(settings):
    settings.RATE_LIMIT_REPORTER_PER_HOUR = 2
    assert reporter_address_allowed("rita+a@example.org")
    assert reporter_address_allowed('"RITA"@example.org')
    assert not reporter_address_allowed("rita+b@example.org")
    assert reporter_address_allowed("bob@example.org")


def test_the_domain_literal_error_is_in_polish(client, board):
    data = {"email": "rita@[192.0.2.1]", "title": "T", "description": "D", "website": ""}
    response = client.post("/board/office-it", data, HTTP_ACCEPT_LANGUAGE="pl")
    assert "Podaj adres z nazwą domeny, a nie adresem IP." in response.content.decode()
