"""OPS-1, end to end: the compose services, run with requirements.txt alone, serve the whole product.

What compose runs, without Docker (CI has no daemon and pulls no images): the image's build context
(.dockerignore applied: no tests, no test support) prepared as the Dockerfile does, a virtualenv
holding requirements.txt and nothing else, then docker-compose.yml's own commands for migrate, web,
worker, poller and beat, with DEBUG off, behind a TLS proxy, with an ALLOWED_HOSTS that leaves out
127.0.0.1, against PostgreSQL and Redis on this machine, a real SMTP server as EMAIL_URL and a real
Dovecot for the inbox. Their compose health checks must pass, and then a person:

signs up → follows the verification link from the mail → logs in → creates a board → a reporter
sends the public form and gets the secret link by mail → the manager adds an inbox → a mail in
Dovecot becomes a ticket through beat and the poller → the manager changes its state → the
reporter is mailed. At the end every service is still up and stops warm within its grace period.

It uses its own database (``<test database>_production``, recreated) and Redis databases (the
suite's cache and broker numbers + 8), so it never touches what the rest of the suite uses.
Marked ``production``; under CI=true it fails when PostgreSQL, Redis or Dovecot are missing.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import redis

from conftest import require
from testsupport.mailservers import DovecotServer, ImapAccount, ReceivedMail, SmtpServer, find_free_port
from testsupport.production import ProductionSite
from testsupport.webclient import ProxiedBrowser

pytestmark = pytest.mark.production

HOST = "tracker.example.test"
SERVICES = ["web", "worker", "poller", "beat"]
# beat enqueues due polls at the start of every minute; the poll itself takes a moment.
MAIL_TICKET_TIMEOUT = 150


def _redis_url_with_offset(url: str, offset: int) -> str:
    parts = urlsplit(url)
    db = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(db + offset) % 16}"))


@pytest.fixture
def production_database() -> str:
    url = os.environ.get("DATABASE_URL", "")
    require(url.startswith(("postgres://", "postgresql://")), "DATABASE_URL must point at PostgreSQL")
    parts = urlsplit(url)
    name = f"{parts.path.strip('/')}_production"
    admin = urlunsplit(parts._replace(path="/postgres"))
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        require(False, f"PostgreSQL unreachable: {exc}")
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture
def production_redis() -> tuple[str, str]:
    cache_url = os.environ.get("CACHE_URL", "")
    broker_url = os.environ.get("CELERY_BROKER_URL", "")
    require(
        cache_url.startswith("redis://") and broker_url.startswith("redis://"),
        "CACHE_URL and CELERY_BROKER_URL must point at Redis",
    )
    urls = (_redis_url_with_offset(cache_url, 8), _redis_url_with_offset(broker_url, 8))
    try:
        for url in urls:
            redis.Redis.from_url(url, socket_timeout=5).flushdb()
    except redis.RedisError as exc:
        require(False, f"Redis unreachable: {exc}")
    return urls


@pytest.fixture
def site(
    tmp_path: Path, production_database: str, production_redis: tuple[str, str], smtp_server: SmtpServer
) -> Iterator[ProductionSite]:
    cache_url, broker_url = production_redis
    app_env = {
        # docker-compose.yml's x-app environment, with this machine's servers.
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ENCRYPTION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "DATABASE_URL": production_database,
        "EMAIL_URL": f"smtp://{smtp_server.username}:{smtp_server.password}@{smtp_server.host}:{smtp_server.port}",
        "ALLOWED_HOSTS": HOST,
        "SITE_URL": f"https://{HOST}",
        "CACHE_URL": cache_url,
        "CELERY_BROKER_URL": broker_url,
        "DEFAULT_FROM_EMAIL": f"Issue Tracker <noreply@{HOST}>",
        "SECURE_SSL_REDIRECT": "true",
        "SESSION_COOKIE_SECURE": "true",
        "CSRF_COOKIE_SECURE": "true",
        # Behind a TLS proxy, as a real deployment is.
        "BEHIND_TLS_PROXY": "true",
        # The test's Dovecot and SMTP server listen on 127.0.0.1, which production refuses (SSRF).
        "INBOX_ALLOW_PRIVATE_HOSTS": "true",
        "GUNICORN_BIND": f"127.0.0.1:{find_free_port()}",
        "GUNICORN_WORKERS": "2",
    }
    production = ProductionSite(root=tmp_path, app_env=app_env)
    missing = production.compose_app_variables() - set(app_env)
    assert not missing, f"docker-compose.yml gives the services variables this test does not: {missing}"
    try:
        yield production
    finally:
        production.stop_all()


def _wait_for_mail(
    smtp: SmtpServer,
    match: Callable[[ReceivedMail], bool],
    what: str,
    timeout: float = 60,
    logs: Callable[[], str] = str,
) -> str:
    """The plain-text body of the first mail ``match`` accepts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for received in smtp.received:
            if match(received):
                body = received.message.get_body(("plain",))
                assert body is not None, f"{what}: no text part"
                return str(body.get_content())
        time.sleep(0.2)
    subjects = [(m.rcpt_tos, m.message["Subject"]) for m in smtp.received]
    raise AssertionError(f"{what}: no such mail within {timeout:g} s; received {subjects}\n{logs()}")


def _to(address: str) -> Callable[[ReceivedMail], bool]:
    return lambda received: address in received.rcpt_tos


def _incoming_mail(*, sender: str, to: str, subject: str, body: str) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="example.org")
    message["Date"] = "Mon, 30 Nov 2026 10:00:00 +0000"
    message.set_content(body)
    return bytes(message)


def test_compose_services_serve_the_whole_product_with_requirements_txt_alone(
    site: ProductionSite, smtp_server: SmtpServer, dovecot: DovecotServer, imap_account: ImapAccount
) -> None:
    # --- the image and the one-shot migrate --------------------------------------------------
    site.build()
    site.run_once("migrate")

    # --- every long-running service comes up and passes its compose health check ------------
    for name in SERVICES:
        site.start(name)
    started_at = time.monotonic()
    for name in SERVICES:
        site.wait_healthy(name)

    local_url = f"http://{site.app_env['GUNICORN_BIND']}"
    browser = ProxiedBrowser(local_url=local_url, host=HOST)

    # Plain HTTP on an allowed host is sent to HTTPS; a host outside ALLOWED_HOSTS is refused.
    plain = browser.session.get(f"{local_url}/accounts/login/", headers={"Host": HOST}, allow_redirects=False)
    assert plain.status_code == 301
    assert plain.headers["Location"] == f"https://{HOST}/accounts/login/"
    assert browser.session.get(f"{local_url}/accounts/login/", allow_redirects=False).status_code == 400
    # ... but /health answers a probe on 127.0.0.1 in plain HTTP, with every dependency up.
    health = browser.session.get(f"{local_url}/health", allow_redirects=False)
    assert health.status_code == 200, health.text
    assert health.json()["details"]["database"]["status"] == "up"
    assert health.json()["details"]["broker"] == {"status": "up", "transport": "redis"}

    # --- sign-up, verification by mail, log-in -------------------------------------------------
    manager_email = f"maria-{uuid.uuid4().hex[:8]}@example.org"
    password = "correct horse battery"
    signup = browser.form("/accounts/signup/")
    response = browser.submit(
        signup, {"name": "Maria Manager", "email": manager_email, "password1": password, "timezone": "Europe/Warsaw"}
    )
    assert response.status_code == 302, response.text[:2000]
    assert browser.get(browser.local_path(response.headers["Location"])).status_code == 200

    verification = _wait_for_mail(smtp_server, _to(manager_email), "verification mail", logs=site.all_logs)
    link = re.search(r"https://[^/\s]+(/accounts/confirm-email/\S+)", verification)
    assert link, verification
    # allauth signs a fresh key into the form's action each second: not always the link's own.
    confirm = browser.form(link.group(1), action_contains="/accounts/confirm-email/")
    response = browser.submit(confirm, {}, follow=True)
    assert response.status_code == 200

    login = browser.form("/accounts/login/")
    response = browser.submit(login, {"login": manager_email, "password": password})
    assert response.status_code == 302, response.text[:2000]
    dashboard = browser.get("/")
    assert dashboard.status_code == 200
    assert "Maria Manager" in dashboard.text

    # --- a board ------------------------------------------------------------------------------
    unique_name = f"printers-{uuid.uuid4().hex[:6]}"
    board_form = browser.form("/boards/new/")
    response = browser.submit(board_form, {"name": "Printers", "unique_name": unique_name, "keywords": "printer"})
    assert response.status_code == 302, response.text[:2000]
    board_path = browser.local_path(response.headers["Location"])
    board_id = re.fullmatch(r"/boards/(\d+)/", board_path)
    assert board_id, board_path
    assert browser.get(board_path).status_code == 200

    # --- a public report, answered by mail with the secret link -------------------------------
    reporter = ProxiedBrowser(local_url=local_url, host=HOST)
    public_form = reporter.form(f"/board/{unique_name}")
    response = reporter.submit(
        public_form,
        {"email": "walter@example.org", "title": "Paper jam on floor 2", "description": "It eats every page."},
        follow=True,
    )
    assert response.status_code == 200
    secret_path = re.search(r"/ticket/[0-9a-f-]{36}", response.text)
    assert secret_path, response.text[:2000]
    confirmation = _wait_for_mail(
        smtp_server, _to("walter@example.org"), "public report confirmation", logs=site.all_logs
    )
    assert f"https://{HOST}{secret_path.group(0)}" in confirmation
    secret_page = reporter.get(secret_path.group(0))
    assert secret_page.status_code == 200
    assert "Paper jam on floor 2" in secret_page.text

    # --- an inbox, and a mail that the poller turns into a ticket ------------------------------
    inbox_address = f"{imap_account.username}@{HOST}"
    inbox_form = browser.form("/settings/inboxes/new/")
    response = browser.submit(
        inbox_form,
        {
            "name": "Support",
            "from_address": inbox_address,
            "imap_host": imap_account.host,
            "imap_port": str(imap_account.port),
            "imap_use_ssl": False,
            "imap_username": imap_account.username,
            "imap_password": imap_account.password,
            "smtp_host": smtp_server.host,
            "smtp_port": str(smtp_server.port),
            "smtp_use_starttls": False,
            "smtp_username": smtp_server.username or "",
            "smtp_password": smtp_server.password or "",
            "poll_interval_minutes": "1",
            "is_active": True,
            "exclusive_board": inbox_form.option("exclusive_board", "Printers"),
        },
        button=("action", "save"),
    )
    assert response.status_code == 302, response.text[:3000]

    dovecot.append(
        imap_account.username,
        _incoming_mail(
            sender="erin@example.org",
            to=inbox_address,
            subject="Printer on fire",
            body="Smoke is coming out of the printer.",
        ),
    )
    deadline = time.monotonic() + MAIL_TICKET_TIMEOUT
    while True:
        listing = browser.get(f"{board_path}tickets/?title=on+fire")
        assert listing.status_code == 200
        ticket_link = re.search(rf"{board_path}tickets/(\d+)/", listing.text)
        if ticket_link:
            break
        assert time.monotonic() < deadline, f"the mail never became a ticket\n{site.all_logs()}"
        time.sleep(2)
    confirmation = _wait_for_mail(smtp_server, _to("erin@example.org"), "mail ticket confirmation", logs=site.all_logs)
    assert f"https://{HOST}/ticket/" in confirmation

    # --- a state change, mailed to the reporter through the inbox -------------------------------
    ticket_path = ticket_link.group(0)
    state_form = browser.form(ticket_path, action_contains="/state/")
    response = browser.submit(
        state_form, {"comment": "A technician is on the way."}, button=("to_state", "in_progress"), follow=True
    )
    assert response.status_code == 200
    assert "In progress" in browser.get(ticket_path).text
    state_mail = _wait_for_mail(
        smtp_server,
        lambda m: "erin@example.org" in m.rcpt_tos and "technician" in m.raw.decode(errors="replace"),
        "state change mail",
        logs=site.all_logs,
    )
    assert "A technician is on the way." in state_mail

    # --- still healthy, still up, and a warm stop within each grace period ----------------------
    health = browser.session.get(f"{local_url}/health", allow_redirects=False)
    assert health.status_code == 200, health.text
    assert health.json()["status"] == "healthy"
    # Up for a while yet: a service that dies a few seconds after its start is caught here.
    time.sleep(max(0.0, 15 - (time.monotonic() - started_at)))
    for name in SERVICES:
        site.assert_running(name)
        assert site.healthcheck(name).returncode == 0, name
    for name in ["beat", "poller", "worker", "web"]:
        code, _seconds = site.stop(name)
        assert code == 0, f"{name} exited with {code}\n{site.log_tail(name)}"
        if name != "beat":  # its heartbeat stays fresh for a while, by design
            # The check is about this very service: the poller's fails while the worker still runs.
            assert site.healthcheck(name).returncode != 0, f"{name} stopped but its health check passes"
    for name in SERVICES:
        assert _tracebacks(site.log(name)) == [], name


def _tracebacks(log: str) -> list[str]:
    """Log records carrying a traceback, but the refused Host headers this test sent on purpose."""
    found = []
    for line in log.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            record = {"full_message": line}
        refused_host = record.get("_logger") == "django.security.DisallowedHost"
        if "Traceback" in str(record.get("full_message", "")) and not refused_host:
            found.append(line)
    return found
