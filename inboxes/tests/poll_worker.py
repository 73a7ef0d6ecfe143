"""A worker process for the fault tests: polls inboxes like a Celery worker would, and writes
down when it held each inbox so the test can prove no inbox was ever polled twice at once.

    python -m inboxes.tests.poll_worker --inbox 1 --inbox 2 --rounds 3 --audit /tmp/audit.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import time

import django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--inbox", type=int, action="append", required=True)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=5)
    parser.add_argument("--audit", required=True)
    parser.add_argument("--reverse", action="store_true")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "issuetracker.settings_test")
    django.setup()

    from inboxes import polling
    from inboxes.models import Inbox

    real_poll_claimed = polling._poll_claimed

    def audited(*, inbox, lease, batch_size, result):  # type: ignore[no-untyped-def]
        # Runs only while this process holds the inbox's lease.
        started = time.time()
        try:
            real_poll_claimed(inbox=inbox, lease=lease, batch_size=batch_size, result=result)
        finally:
            with open(args.audit, "a") as audit:
                line = {"pid": os.getpid(), "inbox": inbox.pk, "start": started, "end": time.time()}
                audit.write(json.dumps(line) + "\n")

    polling._poll_claimed = audited
    inbox_ids = list(reversed(args.inbox)) if args.reverse else list(args.inbox)
    for _round in range(args.rounds):
        for inbox_id in inbox_ids:
            result = polling.inbox_poll(inbox=Inbox.objects.get(pk=inbox_id), batch_size=args.batch_size)
            print(json.dumps({"inbox": inbox_id, "claimed": result.claimed, "error": result.error}), flush=True)


if __name__ == "__main__":
    main()
