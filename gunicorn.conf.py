"""Gunicorn settings for the production image: its own log lines as JSON (GELF names) too (NFR-6)."""

from __future__ import annotations

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
# Threads, so a manager's "Test connection" (up to 10 s per server) does not hold a whole worker.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
accesslog = "-"
# No control socket: nobody runs gunicornc in the container, and the app user's home is read-only.
control_socket_disable = True
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"gelf": {"()": "issuetracker.logging.GelfJsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "gelf", "stream": "ext://sys.stderr"}},
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
