"""GET /health (NFR-1): is the database answering, is the broker reachable, is mail being polled.

200 with status "healthy" or "degraded" (some inbox's own mail server fails: the product
works, that manager's inbox page says why); 503 "unhealthy" when the database or the broker
is down, or when no active inbox has been polled for far longer than its interval (the
worker or the scheduler is not running). Never rate limited, never cached.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection

from inboxes.selectors import polling_health

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 2


def check_database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down", whatever its class
        logger.error("health: database unreachable", extra={"error": str(exc)})
        return {"status": "down", "error": exc.__class__.__name__}
    return {"status": "up", "vendor": connection.vendor}


def check_broker() -> dict[str, Any]:
    url = settings.CELERY_BROKER_URL
    if url.startswith("filesystem://"):
        folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        ok = folder.is_dir() or not folder.exists()
        return {"status": "up" if ok else "down", "transport": "filesystem"}
    try:
        # A fresh connection, not the app's pool: health must see the broker as it is now.
        with Connection(url, connect_timeout=BROKER_TIMEOUT_SECONDS) as conn:
            conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
    except Exception as exc:  # kombu raises transport-specific errors
        logger.error("health: broker unreachable", extra={"error": str(exc)})
        return {"status": "down", "transport": url.split("://", 1)[0], "error": exc.__class__.__name__}
    return {"status": "up", "transport": url.split("://", 1)[0]}


def check_email_polling() -> dict[str, Any]:
    return polling_health(now=timezone.now())


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    database = check_database()
    broker = check_broker()
    if database["status"] == "up":
        try:
            email_polling = check_email_polling()
        except Exception as exc:  # a health page must answer even when a check itself breaks
            logger.exception("health: email polling check failed")
            email_polling = {"status": "unknown", "error": exc.__class__.__name__}
    else:
        email_polling = {"status": "unknown"}

    if database["status"] != "up" or broker["status"] != "up" or email_polling["status"] == "stalled":
        status, code = "unhealthy", 503
    elif email_polling["status"] == "failing":
        status, code = "degraded", 200
    else:
        status, code = "healthy", 200
    payload = {
        "status": status,
        "timestamp": timezone.now().isoformat(),
        "details": {"database": database, "email_polling": email_polling, "broker": broker},
    }
    return JsonResponse(payload, status=code)
