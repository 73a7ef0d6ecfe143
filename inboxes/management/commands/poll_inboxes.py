"""Poll inboxes without Celery: for operations, debugging and the real-process fault tests.

manage.py poll_inboxes --once              # every due inbox, once
manage.py poll_inboxes --once --all        # every active inbox, due or not
manage.py poll_inboxes --inbox 3 --inbox 4 # these inboxes, in a loop
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from inboxes.models import Inbox
from inboxes.polling import BATCH_SIZE, due_inbox_ids, inbox_poll


class Command(BaseCommand):
    help = "Poll email inboxes (the same code the Celery task runs)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Poll once and exit instead of looping.")
        parser.add_argument("--all", action="store_true", help="Poll every active inbox, due or not.")
        parser.add_argument("--inbox", type=int, action="append", default=[], help="Poll only this inbox id.")
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="Messages fetched per IMAP FETCH.")
        parser.add_argument("--sleep", type=float, default=30.0, help="Seconds between rounds when looping.")

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            for inbox_id in self._inbox_ids(options):
                inbox = Inbox.objects.filter(pk=inbox_id, is_active=True).first()
                if inbox is None:
                    continue
                result = inbox_poll(inbox=inbox, batch_size=options["batch_size"])
                if result.claimed:
                    outcome = ", ".join(f"{name}={count}" for name, count in sorted(result.outcomes.items()))
                    line = f"inbox {inbox_id}: fetched {result.fetched} ({outcome or 'nothing new'})"
                    if result.error:
                        line += f"; error: {result.error}"
                    self.stdout.write(line)
                else:
                    self.stdout.write(f"inbox {inbox_id}: being polled elsewhere, skipped")
            if options["once"]:
                return
            time.sleep(options["sleep"])

    def _inbox_ids(self, options: dict[str, Any]) -> list[int]:
        if options["inbox"]:
            return list(options["inbox"])
        if options["all"]:
            return list(Inbox.objects.active().order_by("id").values_list("pk", flat=True))
        return due_inbox_ids()
