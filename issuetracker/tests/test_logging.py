"""NFR-6: one JSON object per log line with GELF field names."""

from __future__ import annotations

import json
import logging
import socket

import pytest

from issuetracker.logging import GelfJsonFormatter


@pytest.fixture
def capture_gelf():  # type: ignore[no-untyped-def]
    """A logger whose records are formatted by the production formatter into a list of lines."""
    lines: list[str] = []

    class ListHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = ListHandler()
    handler.setFormatter(GelfJsonFormatter())
    logger = logging.getLogger("issuetracker.tests.gelf")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, lines
    logger.removeHandler(handler)


def test_a_record_is_one_json_line_with_gelf_fields(capture_gelf):
    logger, lines = capture_gelf
    logger.warning("inbox %s failed", "support")
    assert len(lines) == 1
    assert "\n" not in lines[0]
    entry = json.loads(lines[0])
    assert entry["version"] == "1.1"
    assert entry["host"] == socket.gethostname()
    assert entry["short_message"] == "inbox support failed"
    assert isinstance(entry["timestamp"], float)
    assert entry["level"] == 4  # syslog "warning"
    assert entry["_logger"] == "issuetracker.tests.gelf"
    assert "full_message" not in entry
    # GELF: every additional field starts with an underscore.
    standard = {"version", "host", "short_message", "full_message", "timestamp", "level"}
    assert all(key in standard or key.startswith("_") for key in entry)


@pytest.mark.parametrize(
    ("level", "syslog"),
    [(logging.DEBUG, 7), (logging.INFO, 6), (logging.WARNING, 4), (logging.ERROR, 3), (logging.CRITICAL, 2)],
)
def test_levels_are_syslog_severities(capture_gelf, level, syslog):
    logger, lines = capture_gelf
    logger.log(level, "x")
    assert json.loads(lines[0])["level"] == syslog


def test_extra_fields_are_prefixed_and_made_json_safe(capture_gelf):
    logger, lines = capture_gelf

    class Inbox:
        def __str__(self) -> str:
            return "Inbox #7"

    logger.error(
        "IMAP login failed",
        extra={"inbox_id": 7, "host": "imap.example.com", "tls": True, "elapsed": 1.5, "inbox": Inbox(), "none": None},
    )
    entry = json.loads(lines[0])
    assert entry["_inbox_id"] == 7
    assert entry["_host"] == "imap.example.com"
    assert entry["host"] == socket.gethostname()  # an extra "host" does not replace GELF's host
    assert entry["_tls"] is True
    assert entry["_elapsed"] == 1.5
    assert entry["_inbox"] == "Inbox #7"
    assert entry["_none"] is None
    assert "inbox_id" not in entry


def test_multiline_message_keeps_the_first_line_short(capture_gelf):
    logger, lines = capture_gelf
    logger.info("first line\nsecond line")
    entry = json.loads(lines[0])
    assert entry["short_message"] == "first line"
    assert entry["full_message"] == "first line\nsecond line"


def test_exceptions_go_to_full_message(capture_gelf):
    logger, lines = capture_gelf
    try:
        raise ConnectionRefusedError("smtp.example.com:587 refused")
    except ConnectionRefusedError:
        logger.exception("SMTP send failed")
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["short_message"] == "SMTP send failed"
    assert entry["level"] == 3
    assert "Traceback (most recent call last)" in entry["full_message"]
    assert "ConnectionRefusedError: smtp.example.com:587 refused" in entry["full_message"]


def test_non_ascii_is_kept_readable(capture_gelf):
    logger, lines = capture_gelf
    logger.info("Zgłoszenie przyjęte")
    assert "Zgłoszenie przyjęte" in lines[0]
    assert json.loads(lines[0])["short_message"] == "Zgłoszenie przyjęte"


def test_settings_route_the_root_logger_through_the_formatter(settings):
    assert settings.LOGGING["formatters"]["gelf"]["()"] == "issuetracker.logging.GelfJsonFormatter"
    assert settings.LOGGING["root"]["handlers"] == ["console"]
    assert settings.LOGGING["handlers"]["console"]["formatter"] == "gelf"
