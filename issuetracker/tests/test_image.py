"""OPS-1: what goes into the production image, and the shape of docker-compose.yml.

The image is not built here (no Docker daemon in CI); test_production.py runs the compose
services' commands on the same build context with requirements.txt alone.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from testsupport.compose import duration_seconds, read_compose, service
from testsupport.image import REPO_ROOT, context_files, is_ignored, read_dockerignore

LONG_RUNNING = ["db", "redis", "web", "worker", "poller", "beat"]


@pytest.fixture(scope="module")
def context() -> set[str]:
    return set(context_files())


@pytest.mark.parametrize(
    ("path", "ignored"),
    [
        ("tests", True),
        ("inboxes/tests/eml/plain.eml", True),
        ("testsupport/mailservers.py", True),
        ("issuetracker/tests/test_health.py", True),
        ("issuetracker/testsuite.py", False),
        ("bin/dev", True),
        ("bin/healthcheck", False),
        ("locale/pl/LC_MESSAGES/django.mo", True),
        ("locale/pl/LC_MESSAGES/django.po", False),
        ("accounts/__pycache__/models.cpython-313.pyc", True),
    ],
)
def test_dockerignore_matching_follows_docker(path, ignored):
    assert is_ignored(path, read_dockerignore()) is ignored


def test_the_image_holds_no_tests_test_support_or_tooling(context):
    leaked = sorted(
        path
        for path in context
        if "/tests/" in f"/{path}"
        or path.startswith(("testsupport/", "bench/", ".ci/", ".venv/", "var/", ".git/"))
        or path in {"conftest.py", "pytest.ini", "requirements-dev.txt", ".env", "bin/dev"}
    )
    assert leaked == []


def test_the_image_holds_what_the_services_run(context):
    needed = {
        "manage.py",
        "gunicorn.conf.py",
        "requirements.txt",
        "issuetracker/settings.py",
        "issuetracker/wsgi.py",
        "issuetracker/celery.py",
        "issuetracker/beat.py",
        "bin/healthcheck",
        "bin/compile-messages",
        "templates/base.html",
        "locale/pl/LC_MESSAGES/django.po",
    }
    assert needed <= context
    assert any(path.startswith("static/vendor/") for path in context)
    for app in ("accounts", "boards", "tickets", "inboxes"):
        assert f"{app}/migrations/0001_initial.py" in context


def test_no_product_module_imports_test_code(context):
    offenders = []
    for path in sorted(p for p in context if p.endswith(".py")):
        tree = ast.parse((REPO_ROOT / path).read_text(), filename=path)
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path}: {name}"
                for name in names
                if name.split(".")[0] in {"testsupport", "pytest", "conftest"} or ".tests" in f".{name}"
            ]
    assert offenders == []


def test_dockerfile_builds_in_stages_and_runs_as_a_user():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text().splitlines()
    stages = [line for line in dockerfile if line.startswith("FROM ")]
    assert len(stages) == 2
    final_stage = dockerfile[dockerfile.index(stages[-1]) :]
    assert "USER app" in final_stage
    assert not any("requirements-dev" in line for line in dockerfile)


def test_every_long_running_service_restarts_and_has_a_health_check():
    services = read_compose()["services"]
    for name in LONG_RUNNING:
        assert services[name].get("restart") == "unless-stopped", name
        assert services[name].get("healthcheck", {}).get("test"), name
    assert services["migrate"]["restart"] == "no"


def test_the_broker_keeps_its_data():
    redis = read_compose()["services"]["redis"]
    assert "--appendonly" in redis["command"]
    assert any(volume.endswith(":/data") for volume in redis["volumes"])


def test_secrets_and_the_mailer_come_from_env_without_defaults():
    compose = read_compose()
    app_env = compose["x-app"]["environment"]
    for variable in ("SECRET_KEY", "ENCRYPTION_KEY", "EMAIL_URL"):
        assert app_env[variable].startswith(f"${{{variable}:?"), variable
    assert "${POSTGRES_PASSWORD:?" in app_env["DATABASE_URL"]
    assert compose["services"]["db"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")


def test_mailpit_only_in_the_dev_profile_and_on_loopback():
    mailpit = read_compose()["services"]["mailpit"]
    assert mailpit["profiles"] == ["dev"]
    assert all(port.startswith("127.0.0.1:") for port in mailpit["ports"])


@pytest.mark.parametrize("name", ["worker", "poller", "beat"])
def test_celery_services_stop_warm_within_a_grace_period(name):
    celery = service(name)
    assert celery.stop_signal == "SIGTERM"  # Celery's warm shutdown
    assert celery.stop_grace_seconds >= 20
    assert celery.command[:3] == ["celery", "-A", "issuetracker"]


def test_the_poller_waits_longest():
    assert service("poller").stop_grace_seconds >= service("worker").stop_grace_seconds >= 60


@pytest.mark.parametrize(("value", "seconds"), [("40s", 40), ("2m", 120), ("1m30s", 90), ("500ms", 0.5)])
def test_compose_durations(value, seconds):
    assert duration_seconds(value) == seconds


def test_gitignore_and_dockerignore_agree_on_local_state():
    gitignored = set(Path(REPO_ROOT / ".gitignore").read_text().split())
    for local in (".venv/", "var/", ".env", "staticfiles/", "test-artifacts/"):
        assert local in gitignored
        assert is_ignored(local.rstrip("/"), read_dockerignore())
