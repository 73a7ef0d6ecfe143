"""Settings for the test suite: the real settings with test-speed tweaks.

DATABASE_URL, CACHE_URL and CELERY_BROKER_URL still come from the environment, so CI runs the
suite against the real PostgreSQL and Redis.
"""

from __future__ import annotations

import os

os.environ.setdefault("TESTING", "true")
# Parallel test workers share one Redis: keep their cache keys apart.
os.environ.setdefault("CACHE_KEY_PREFIX", f"test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}")

from .settings import *  # noqa: F403

# Tasks run inline so a test sees their effect; tests that need a real worker start one.
CELERY_TASK_ALWAYS_EAGER = True
# Inline, a task's self.retry() runs the retry at once through Celery's own retry path only when
# the eager run does not re-raise; a task that fails unexpectedly still fails its test (conftest).
CELERY_TASK_EAGER_PROPAGATES = False
# MAILERS becomes locmem through Django's test environment; assertions read mail.outbox.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SITE_URL = "http://testserver"
INBOX_ALLOW_PRIVATE_HOSTS = True  # the test mail servers listen on 127.0.0.1
ALLOWED_HOSTS = ["*"]
# Serve static files from the finders, as in development; nothing is collected for tests.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
