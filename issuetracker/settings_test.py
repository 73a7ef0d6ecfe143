"""Settings for the test suite: the production settings, with what tests need set here by name.

The product settings have no test mode. Tests run them with DEBUG off, so the production checks
(real secrets, a real mailer) hold here too; the values below satisfy them for the test run only.
DATABASE_URL, CACHE_URL and CELERY_BROKER_URL still come from the environment, so CI runs the
suite against the real PostgreSQL and Redis.
"""

from __future__ import annotations

import os

# Set before the settings read the environment (and a developer's .env, which must not decide
# what the suite runs with).
os.environ.setdefault("SECRET_KEY", "test-suite-only-secret-key-never-used-by-a-running-site")
os.environ.setdefault("ENCRYPTION_KEY", "dGVzdC1zdWl0ZS1vbmx5LWtleS1uZXZlci1kZXBsb3k=")  # 32 bytes
# Django's test environment swaps every mailer for locmem anyway; assertions read mail.outbox.
os.environ.setdefault("EMAIL_URL", "memorymail://")
# Parallel test workers share one Redis: keep their cache keys apart.
os.environ.setdefault("CACHE_KEY_PREFIX", f"test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}")

from .settings import *  # noqa: F403

# The test client speaks plain HTTP to "testserver": HTTPS hardening is off for the suite only.
# test_deploy checks that production keeps it on, and test_healthprobe runs /health with it on.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
SECURE_HSTS_PRELOAD = False
# Serve static files from the finders, as in development; nothing is collected for tests.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True

# Tasks run inline so a test sees their effect; tests that need a real worker start one, and
# give it (and whatever publishes to it) CELERY_TASK_ALWAYS_EAGER=false.
CELERY_TASK_ALWAYS_EAGER = os.environ.get("CELERY_TASK_ALWAYS_EAGER", "true").lower() == "true"
# Inline, a task's self.retry() runs the retry at once through Celery's own retry path only when
# the eager run does not re-raise; a task that fails unexpectedly still fails its test (conftest).
CELERY_TASK_EAGER_PROPAGATES = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SITE_URL = "http://testserver"
INBOX_ALLOW_PRIVATE_HOSTS = True  # the test mail servers listen on 127.0.0.1
ALLOWED_HOSTS = ["*"]
