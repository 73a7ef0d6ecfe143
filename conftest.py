"""Persona fixtures shared by every app's tests (STYLE.md): a manager, another manager who must
never see the first one's data, a board and an inbox of the first manager."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import override_settings

from accounts.tests.factories import ManagerFactory
from boards.tests.factories import BoardFactory
from inboxes.tests.factories import InboxFactory

IN_CI = os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}

pytest_plugins = [
    "testsupport.browser",
    "testsupport.mailservers",
    "testsupport.fake_platforms",
    "testsupport.s3server",
]


def require(condition: bool, reason: str) -> None:
    """Fail under CI=true, skip on a laptop: a test that cannot reach its server never passes silently."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required test dependency missing under CI: {reason}")
    pytest.skip(reason)


class _TaskFailures(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.failures: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.failures.append(record.getMessage())


@pytest.fixture(autouse=True)
def _tasks_never_fail_unnoticed() -> Iterator[None]:
    """Tasks run inline without re-raising (settings_test), so a task that raised is caught here."""
    handler = _TaskFailures()
    trace_logger = logging.getLogger("celery.app.trace")
    trace_logger.addHandler(handler)
    try:
        yield
    finally:
        trace_logger.removeHandler(handler)
    if handler.failures:
        pytest.fail("a Celery task failed: " + "; ".join(handler.failures))


@pytest.fixture(scope="session", autouse=True)
def _media_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Attachments of the suite go to a temporary directory, never to the project's var/media."""
    with override_settings(MEDIA_ROOT=str(tmp_path_factory.mktemp("media"))):
        yield


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    cache.clear()
    yield


@pytest.fixture
def manager(db):  # type: ignore[no-untyped-def]
    return ManagerFactory(email="manager@example.com", name="Maria Manager")


@pytest.fixture
def other_manager(db):  # type: ignore[no-untyped-def]
    return ManagerFactory(email="other@example.com", name="Oscar Other")


@pytest.fixture
def board(manager):  # type: ignore[no-untyped-def]
    return BoardFactory(manager=manager, name="Printers", unique_name="printers")


@pytest.fixture
def inbox(manager):  # type: ignore[no-untyped-def]
    return InboxFactory(manager=manager, name="Support", from_address="support@tracker.example")


@pytest.fixture
def manager_client(client, manager):  # type: ignore[no-untyped-def]
    client.force_login(manager)
    return client


@pytest.fixture
def other_client(client, other_manager):  # type: ignore[no-untyped-def]
    client.force_login(other_manager)
    return client


@pytest.fixture
def outbox() -> list[mail.EmailMessage]:
    return mail.outbox
