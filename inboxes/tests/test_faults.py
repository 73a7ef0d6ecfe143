"""Fault tests with real processes: a worker SIGKILLed mid-poll, two workers racing for the same
inboxes, a real database error on one message. They need PostgreSQL (several processes sharing
one database) and the real Dovecot and SMTP servers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from boards.tests.factories import BoardFactory
from conftest import require
from inboxes import polling
from inboxes.models import Inbox, ProcessedEmail, ProcessedEmailStatus
from inboxes.tests.factories import make_live_inbox
from outbox.models import OutgoingMail
from testsupport.mailservers import DovecotServer, ImapAccount
from tickets.models import Ticket

from .mails import make_mail

pytestmark = [pytest.mark.mailserver, pytest.mark.django_db(transaction=True)]

ROOT = Path(settings.BASE_DIR)


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    require(connection.vendor == "postgresql", "real-process fault tests need PostgreSQL (set DATABASE_URL)")


def worker_env() -> dict[str, str]:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "issuetracker.settings_test"}
    env.pop("PYTEST_XDIST_WORKER", None)
    return env


def fill_mailbox(dovecot: DovecotServer, username: str, count: int, prefix: str) -> list[str]:
    """APPEND ``count`` messages over one connection; returns their Message-IDs."""
    message_ids = []
    with dovecot.connect(username) as client:
        for number in range(count):
            message_id = f"<{prefix}-{number}@example.org>"
            raw = make_mail(subject=f"{prefix} report {number}", message_id=message_id, sender=f"r{number}@example.org")
            status, _data = client.append("INBOX", None, None, raw)
            assert status == "OK"
            message_ids.append(message_id)
    return message_ids


def new_account(dovecot: DovecotServer, name: str) -> ImapAccount:
    password = f"{name}-password"
    dovecot.add_user(name, password)
    return ImapAccount(host=dovecot.host, port=dovecot.port, username=name, password=password)


def assert_exactly_once(message_ids: list[str]) -> None:
    taken = Counter(Ticket.objects.values_list("source_message_id", flat=True))
    assert {message_id: taken[message_id] for message_id in message_ids} == dict.fromkeys(message_ids, 1)
    assert ProcessedEmail.objects.filter(message_id__in=message_ids).count() == len(message_ids)
    # One confirmation per ticket: a crash neither lost nor doubled one.
    assert OutgoingMail.objects.filter(ticket__source_message_id__in=message_ids).count() == len(message_ids)


def test_worker_killed_mid_poll_then_polled_again_takes_every_message_once(manager, dovecot, smtp_server):
    account = new_account(dovecot, "killed")
    inbox = make_live_inbox(manager=manager, account=account, smtp=smtp_server)
    BoardFactory(manager=manager, exclusive_inbox=inbox)
    message_ids = fill_mailbox(dovecot, "killed", 300, "kill")
    command = [sys.executable, "manage.py", "poll_inboxes", "--once", "--inbox", str(inbox.pk), "--batch-size", "10"]

    for threshold in (40, 120):  # kill it twice, at different points of the mailbox
        worker = subprocess.Popen(
            command, cwd=ROOT, env=worker_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while ProcessedEmail.objects.filter(inbox=inbox).exclude(status="received").count() < threshold:
            assert worker.poll() is None, "the worker finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
        assert worker.returncode == -signal.SIGKILL
        done = ProcessedEmail.objects.filter(inbox=inbox, status=ProcessedEmailStatus.TICKET).count()
        assert threshold <= done < 300
        # The dead worker's claim is still there and keeps everyone off until it runs out, which
        # is within one short lease: nothing renews it any more.
        inbox.refresh_from_db()
        assert inbox.poll_lease_until is not None
        assert inbox.poll_lease_until - timezone.now() <= polling.LEASE
        assert inbox.pk not in polling.due_inbox_ids()
        # A minute later: /health says the inbox waits on a dead worker, and the next beat tick
        # enqueues its poll.
        Inbox.objects.filter(pk=inbox.pk).update(poll_lease_until=timezone.now() - timedelta(seconds=1))
        assert Client().get("/health").json()["details"]["email_polling"]["abandoned_polls"] == 1
        assert inbox.pk in polling.due_inbox_ids(now=timezone.now() + timedelta(minutes=inbox.poll_interval_minutes))

    finished = subprocess.run(command, cwd=ROOT, env=worker_env(), capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr[-3000:]

    assert_exactly_once(message_ids)
    assert all("\\Seen" in flags for flags in dovecot.fetch_flags("killed").values())
    assert dovecot.message_count("killed") == 300  # nothing deleted


def test_two_workers_polling_the_same_inboxes_take_each_message_once_never_together(
    manager, dovecot, smtp_server, tmp_path
):
    inboxes, message_ids = [], []
    for number in range(4):
        account = new_account(dovecot, f"race{number}")
        inbox = make_live_inbox(manager=manager, account=account, smtp=smtp_server, name=f"Race {number}")
        BoardFactory(manager=manager, exclusive_inbox=inbox)
        inboxes.append(inbox)
        message_ids += fill_mailbox(dovecot, f"race{number}", 60, f"race{number}")
    audit = tmp_path / "audit.jsonl"
    base = [sys.executable, "-m", "inboxes.tests.poll_worker", "--rounds", "3", "--batch-size", "4"]
    base += [arg for inbox in inboxes for arg in ("--inbox", str(inbox.pk))]
    base += ["--audit", str(audit)]

    workers = [
        subprocess.Popen(
            base + extra, cwd=ROOT, env=worker_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for extra in ([], ["--reverse"])
    ]
    outputs = [worker.communicate(timeout=180) for worker in workers]
    for worker, (_stdout, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stderr[-3000:]

    assert_exactly_once(message_ids)
    results = [json.loads(line) for stdout, _stderr in outputs for line in stdout.splitlines() if line.startswith("{")]
    assert not [result for result in results if result["error"]]
    # They really raced: some polls found the inbox held by the other worker.
    assert any(not result["claimed"] for result in results)
    held: dict[int, list[tuple[float, float, int]]] = defaultdict(list)
    for line in audit.read_text().splitlines():
        entry = json.loads(line)
        held[entry["inbox"]].append((entry["start"], entry["end"], entry["pid"]))
    assert {worker.pid for worker in workers} == {pid for spans in held.values() for _s, _e, pid in spans}
    for spans in held.values():
        spans.sort()
        for (_start, end, _pid), (next_start, _end, _next_pid) in zip(spans, spans[1:], strict=False):
            assert end <= next_start, "an inbox was polled by two workers at the same time"


def test_a_real_database_error_on_one_message_is_retried_and_the_rest_taken(manager, dovecot, smtp_server):
    account = new_account(dovecot, "dberror")
    inbox = make_live_inbox(manager=manager, account=account, smtp=smtp_server)
    BoardFactory(manager=manager, exclusive_inbox=inbox)
    message_ids = fill_mailbox(dovecot, "dberror", 5, "db")
    poison_title = "db report 2"
    with connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE FUNCTION refuse_poison() RETURNS trigger AS $$
            BEGIN
                IF NEW.title = %s THEN RAISE EXCEPTION 'disk full (simulated)'; END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER refuse_poison BEFORE INSERT ON tickets_ticket
                FOR EACH ROW EXECUTE FUNCTION refuse_poison();
            """,
            [poison_title],
        )
    command = [sys.executable, "manage.py", "poll_inboxes", "--once", "--inbox", str(inbox.pk)]
    try:
        first = subprocess.run(command, cwd=ROOT, env=worker_env(), capture_output=True, text=True, timeout=120)
        assert first.returncode == 0, first.stderr[-3000:]
        assert set(Ticket.objects.values_list("title", flat=True)) == {f"db report {n}" for n in (0, 1, 3, 4)}
        poison = ProcessedEmail.objects.get(inbox=inbox, status=ProcessedEmailStatus.RECEIVED)
        assert poison.attempts == 1 and "database error" in poison.reason
        assert "\\Seen" not in dovecot.fetch_flags("dberror")[poison.imap_uid]
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "DROP TRIGGER IF EXISTS refuse_poison ON tickets_ticket; DROP FUNCTION IF EXISTS refuse_poison();"
            )

    second = subprocess.run(command, cwd=ROOT, env=worker_env(), capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr[-3000:]
    assert_exactly_once(message_ids)
    assert all("\\Seen" in flags for flags in dovecot.fetch_flags("dberror").values())


def test_a_deploys_sigterm_stops_a_poll_in_a_prefork_worker_and_hands_the_inbox_back(
    manager, dovecot, smtp_server, tmp_path
):
    """A real Celery worker (prefork pool, on the polling queue, against Redis) gets SIGTERM, as
    `docker compose stop` sends it, in the middle of a long poll: the poll in the pool process
    stops at its next batch, releases the inbox, and the worker exits well within its grace period.
    """
    broker = os.environ.get("CELERY_BROKER_URL", "")
    require(broker.startswith("redis://"), "the warm-shutdown test needs Redis (set CELERY_BROKER_URL)")
    account = new_account(dovecot, "deploy")
    inbox = make_live_inbox(manager=manager, account=account, smtp=smtp_server)
    BoardFactory(manager=manager, exclusive_inbox=inbox)
    message_ids = fill_mailbox(dovecot, "deploy", 400, "deploy")
    queue = f"polling-test-{os.getpid()}"
    env = {**worker_env(), "CELERY_TASK_ALWAYS_EAGER": "false"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "issuetracker", "worker", "-Q", queue, "-n", f"{queue}@%h",
         "--concurrency=1", "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "worker.log", "wb"),
    )  # fmt: skip
    try:
        publish = (
            "import django; django.setup(); from inboxes.tasks import poll_inbox; "
            f"poll_inbox.apply_async(({inbox.pk},), queue={queue!r})"
        )
        subprocess.run([sys.executable, "-c", publish], cwd=ROOT, env=env, check=True, timeout=60)
        deadline = time.monotonic() + 90
        while ProcessedEmail.objects.filter(inbox=inbox).exclude(status="received").count() < 30:
            assert worker.poll() is None and time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(0.05)
        stopped_at = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
        took = time.monotonic() - stopped_at
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0, (tmp_path / "worker.log").read_text()[-3000:]
    assert took < 20  # a batch, not the rest of a 400-message mailbox
    inbox.refresh_from_db()
    assert (inbox.poll_lease_token, inbox.poll_lease_until) == ("", None)  # handed back, not left to run out
    done = ProcessedEmail.objects.filter(inbox=inbox, status=ProcessedEmailStatus.TICKET).count()
    assert 30 <= done < 400
    # The next poll takes the rest, every message once.
    finished = subprocess.run(
        [sys.executable, "manage.py", "poll_inboxes", "--once", "--inbox", str(inbox.pk)],
        cwd=ROOT, env=worker_env(), capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert_exactly_once(message_ids)
