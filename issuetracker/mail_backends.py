"""Development mailer for `make run`: every mail becomes two files under var/mail/.

`<time>-<n>.eml` is the exact message (open it in a mail client); `<time>-<n>.txt` has the
headers that matter and the plain body, decoded, so a link can be copied straight from it.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

_counter = itertools.count(1)
_lock = threading.Lock()


class ReadableFileBackend(BaseEmailBackend):
    def __init__(self, *, file_path: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.folder = Path(file_path)

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        self.folder.mkdir(parents=True, exist_ok=True)
        for message in email_messages:
            with _lock:
                stem = f"{timezone.now():%Y%m%d-%H%M%S}-{next(_counter):04d}"
            mime = message.message()
            (self.folder / f"{stem}.eml").write_bytes(mime.as_bytes())
            lines = [f"{name}: {mime[name]}" for name in ("From", "To", "Subject", "Date", "Message-ID") if mime[name]]
            (self.folder / f"{stem}.txt").write_text("\n".join(lines) + "\n\n" + str(message.body) + "\n", "utf-8")
        return len(email_messages)
