"""JSON log lines with GELF field names (NFR-6), one object per line on stderr.

Graylog, Loki or `jq` read them as they are; extra fields passed with `extra={...}` become
GELF additional fields (prefixed with an underscore).
"""

from __future__ import annotations

import json
import logging
import socket
import traceback
from typing import Any

# GELF levels are syslog severities.
_SYSLOG_LEVELS = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
_HOST = socket.gethostname()


class GelfJsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        payload: dict[str, Any] = {
            "version": "1.1",
            "host": _HOST,
            "short_message": message.splitlines()[0] if message else "",
            "timestamp": round(record.created, 3),
            "level": _SYSLOG_LEVELS.get(record.levelno, 6),
            "_logger": record.name,
            "_level_name": record.levelname,
            "_module": record.module,
            "_line": record.lineno,
            "_process": record.process,
            "_thread_name": record.threadName,
        }
        full = message
        if record.exc_info:
            full = f"{message}\n{''.join(traceback.format_exception(*record.exc_info))}"
        if full != payload["short_message"]:
            payload["full_message"] = full
        for key, value in record.__dict__.items():
            if key in _RESERVED or key.startswith("_"):
                continue
            payload[f"_{key}"] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        return json.dumps(payload, ensure_ascii=False, default=str)
