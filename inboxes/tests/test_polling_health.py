"""/health's email_polling part (NFR-1): which inbox states make the site degraded or unhealthy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from inboxes.models import Inbox

from .factories import InboxFactory

pytestmark = pytest.mark.django_db


def _health(client):  # type: ignore[no-untyped-def]
    response = client.get("/health")
    return response.status_code, response.json()["status"], response.json()["details"]["email_polling"]


def _inbox(manager, *, polled_minutes_ago: float, error: str = "") -> Inbox:  # type: ignore[no-untyped-def]
    inbox = InboxFactory(manager=manager, poll_interval_minutes=5)
    now = timezone.now()
    Inbox.objects.filter(pk=inbox.pk).update(
        last_polled_at=now - timedelta(minutes=polled_minutes_ago),
        last_error=error,
        created_at=now - timedelta(days=1),
    )
    return inbox


def test_polled_on_time_is_healthy(client, manager):
    _inbox(manager, polled_minutes_ago=2)
    code, status, polling = _health(client)
    assert (code, status, polling["status"], polling["active_inboxes"]) == (200, "healthy", "ok", 1)


def test_a_failing_mail_server_degrades_without_taking_the_site_down(client, manager):
    _inbox(manager, polled_minutes_ago=2)
    _inbox(manager, polled_minutes_ago=2, error="IMAP: connection refused by imap.example.com:993")
    code, status, polling = _health(client)
    assert (code, status, polling["status"], polling["failing_inboxes"]) == (200, "degraded", "failing", 1)


def test_one_overdue_inbox_is_degraded(client, manager):
    _inbox(manager, polled_minutes_ago=2)
    _inbox(manager, polled_minutes_ago=60)
    code, status, polling = _health(client)
    assert (code, status, polling["stalled_inboxes"]) == (200, "degraded", 1)


def test_every_inbox_overdue_means_polling_is_down(client, manager):
    _inbox(manager, polled_minutes_ago=60)
    _inbox(manager, polled_minutes_ago=90)
    code, status, polling = _health(client)
    assert (code, status, polling["status"], polling["stalled_inboxes"]) == (503, "unhealthy", "stalled", 2)


def test_a_poll_whose_worker_died_shows_on_health_and_on_the_inbox_page(client, manager_client, manager):
    inbox = _inbox(manager, polled_minutes_ago=2)
    # A claim taken and never released nor renewed: the worker was killed mid-poll.
    Inbox.objects.filter(pk=inbox.pk).update(
        poll_lease_token="dead-worker", poll_lease_until=timezone.now() - timedelta(seconds=5)
    )
    code, status, polling = _health(client)
    assert (code, status, polling["status"], polling["abandoned_polls"]) == (200, "degraded", "failing", 1)
    page = manager_client.get(f"/settings/inboxes/{inbox.pk}/")
    assert b'data-testid="poll-abandoned"' in page.content
    # Still being polled (the lease runs): nothing to report.
    Inbox.objects.filter(pk=inbox.pk).update(poll_lease_until=timezone.now() + timedelta(seconds=30))
    assert _health(client)[2]["abandoned_polls"] == 0
    assert b'data-testid="poll-abandoned"' not in manager_client.get(f"/settings/inboxes/{inbox.pk}/").content
