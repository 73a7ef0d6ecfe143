"""Building test messages and asserting on what the test SMTP server received."""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from django.utils import timezone

EML_DIR = Path(__file__).parent / "eml"


def make_mail(
    *,
    subject: str = "Printer on fire",
    sender: str = "Rita Reporter <rita@example.org>",
    to: str = "support@tracker.example",
    body: str = "The printer on the second floor is on fire.",
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(timezone.now())
    message["Message-ID"] = message_id or make_msgid(idstring=uuid.uuid4().hex[:8], domain="example.org")
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return bytes(message)


def eml(name: str) -> bytes:
    return (EML_DIR / name).read_bytes()
