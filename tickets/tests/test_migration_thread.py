"""The thread migration (issue 10) keeps every state change and reporter reply of the previous release."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

# The last migration of each app in the release before issue 10.
BEFORE = [
    ("accounts", "0002_site_from_settings"),
    ("boards", "0002_initial"),
    ("inboxes", "0002_initial"),
    ("outbox", "0001_initial"),
    ("standby", "0001_initial"),
    ("tickets", "0001_initial"),
]


def _migrate(targets):  # type: ignore[no-untyped-def]
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_state_changes_and_reporter_messages_become_thread_entries():
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        _check_migration(latest)
    finally:
        _migrate(latest)  # leave the schema as the rest of the suite expects it


def _check_migration(latest):  # type: ignore[no-untyped-def]
    old = _migrate(BEFORE)
    manager = old.get_model("accounts", "Manager").objects.create(email="m@example.com", name="M", password="x")
    board = old.get_model("boards", "Board").objects.create(manager=manager, name="B", unique_name="b")
    ticket = old.get_model("tickets", "Ticket").objects.create(
        board=board, manager=manager, title="T", creator_email="r@example.org", source="email", state="closed"
    )
    when = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    changes = old.get_model("tickets", "StateChange")
    changes.objects.create(
        ticket=ticket, from_state="new", to_state="in_progress", comment="On it", changed_by=manager, created_at=when
    )
    changes.objects.create(ticket=ticket, from_state="in_progress", to_state="closed", comment="", created_at=when)
    old.get_model("tickets", "ReporterMessage").objects.create(
        ticket=ticket, sender_email="r@example.org", body="Thanks!", message_id="<a@example.org>", created_at=when
    )

    new = _migrate(latest)
    entries = new.get_model("tickets", "Entry").objects.filter(ticket_id=ticket.pk).order_by("id")
    assert [
        (e.kind, e.from_state, e.to_state, e.body, e.author_id, e.sender_email, e.message_id, e.created_at)
        for e in entries
    ] == [
        ("reply", "new", "in_progress", "On it", manager.pk, "", "", when),
        ("reply", "in_progress", "closed", "", None, "", "", when),
        ("message", "", "", "Thanks!", None, "r@example.org", "<a@example.org>", when),
    ]
