"""OPS-2: a broker that is down never turns a saved action into an error page. The action
commits, the person sees the success page, and the mail (or the forward) goes out once the
broker is back, picked up by the beat drain within a minute.

The broker here is real and really down: Celery publishes to a Redis URL on a closed port, and
kombu's own connection error is what the product meets.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts.tests.helpers import confirmation_path
from issuetracker.celery import app
from outbox.models import OutgoingMail, OutgoingMailKind, OutgoingMailStatus
from outbox.sending import STALLED_AFTER
from outbox.tasks import send_stalled_mail
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def broker_down() -> Iterator[None]:
    saved = {name: app.conf[name] for name in ("task_always_eager", "broker_url", "broker_write_url")}
    app.conf.task_always_eager = False
    app.conf.broker_url = app.conf.broker_write_url = f"redis://127.0.0.1:{_closed_port()}/0"
    app._pool = None  # the producer pool was made for the old URL
    try:
        yield
    finally:
        app.conf.update(saved)
        app._pool = None


def _broker_back_and_drain() -> int:
    """The broker is back and a drain tick runs (tasks run inline again)."""
    OutgoingMail.objects.update(next_attempt_at=timezone.now() - STALLED_AFTER - timedelta(seconds=1))
    return send_stalled_mail()


def test_sign_up_succeeds_and_the_verification_mail_follows_later(
    client, broker_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/accounts/signup/",
            {"name": "Nina New", "email": "nina@example.com", "password1": "s3cret-enough", "timezone": "UTC"},
        )
    assert response.status_code == 302 and response["Location"] == "/accounts/confirm-email/"
    pending = OutgoingMail.objects.get(kind=OutgoingMailKind.ACCOUNT)
    assert pending.status == OutgoingMailStatus.PENDING and mail.outbox == []

    app.conf.task_always_eager = True
    assert _broker_back_and_drain() == 1
    assert confirmation_path("nina@example.com")
    pending.refresh_from_db()
    # Sent, and the single-use link no longer sits in the database.
    assert pending.status == OutgoingMailStatus.SENT and pending.body == ""


def test_a_public_report_succeeds_and_its_confirmation_follows_later(
    client, board, broker_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/board/{board.unique_name}",
            {"email": "reporter@example.org", "title": "Printer jammed", "description": "Floor 2", "website": ""},
            follow=True,
        )
    assert response.status_code == 200
    ticket = Ticket.objects.get()
    assert f"/ticket/{ticket.uuid}" in response.content.decode()  # the reporter has the link at once
    assert mail.outbox == []

    app.conf.task_always_eager = True
    assert _broker_back_and_drain() == 2  # the confirmation and the manager's notification (THR-8)
    [confirmation] = [message for message in mail.outbox if message.to == ["reporter@example.org"]]
    assert f"/ticket/{ticket.uuid}" in confirmation.body
    assert [message.to for message in mail.outbox if message is not confirmation] == [[board.manager.email]]
    assert _broker_back_and_drain() == 0  # sent once
