"""OPS-4: no secret in any log. Account mail carries single-use links (verification, password
reset); the task that sends it takes only the outbox row's id, so Celery's own log lines (which
print task arguments and results) and ours never contain a link or a key."""

from __future__ import annotations

import logging

import pytest

from accounts.tests.factories import ManagerFactory
from accounts.tests.helpers import confirmation_path, reset_path

pytestmark = pytest.mark.django_db


def _everything_logged(records: list[logging.LogRecord]) -> str:
    return "\n".join(f"{record.getMessage()} {record.__dict__}" for record in records)


def test_verification_and_reset_links_never_reach_a_log(client, caplog, django_capture_on_commit_callbacks):
    caplog.set_level(logging.DEBUG)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/accounts/signup/",
            {"name": "Nina New", "email": "nina@example.com", "password1": "s3cret-enough", "timezone": "UTC"},
        )
    ManagerFactory(email="owner@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/password/reset/", {"email": "owner@example.com"})

    secrets = [confirmation_path("nina@example.com"), reset_path("owner@example.com")]
    logged = _everything_logged(caplog.records)
    assert "outbox.tasks.send_outgoing_mail" in logged  # Celery did log the task runs
    for secret in secrets:
        key = secret.rstrip("/").rsplit("/", 1)[-1]
        assert key not in logged
