"""Building test messages and asserting on what the test SMTP server received."""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from django.utils import timezone

from inboxes.intake import intake_context_load, processed_email_process_one
from inboxes.models import Inbox, ProcessedEmail

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


_next_uid = [1000]


def take_in(inbox: Inbox, raw: bytes, *, uid: int | None = None, uidvalidity: int = 1) -> ProcessedEmail:
    """Store ``raw`` as if a poll fetched it and process it, without any IMAP server."""

    if uid is None:
        _next_uid[0] += 1
        uid = _next_uid[0]
    row = ProcessedEmail.objects.create(
        inbox=inbox, imap_uidvalidity=uidvalidity, imap_uid=uid, raw=raw, raw_size=len(raw)
    )
    processed_email_process_one(processed_email_id=row.pk, raw=raw, context=intake_context_load(inbox=inbox))
    row.refresh_from_db()
    return row
