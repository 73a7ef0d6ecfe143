"""One measured intake in a process of its own, like a Celery worker; prints one JSON line.

``bare``: imaplib UID FETCH of the whole mailbox in batches + ``inboxes.parsing.parse_message``,
no database, no Django setup: the ceiling of what intake can do with this server and parser.

``product``: ``inboxes.polling.inbox_poll`` on an Inbox row, called until nothing is left, as the
Celery task would call it. Besides the rate it reports VmHWM, the process's peak resident memory.

Usage: python -m bench.intake_worker bare HOST PORT USER PASSWORD
       python -m bench.intake_worker product INBOX_ID
"""

from __future__ import annotations

import json
import sys
import time

from bench.util import vm_status_kb

FETCH_BATCH = 50  # the same batch size as inboxes.polling.BATCH_SIZE
MAX_POLLS = 20
MAX_SECONDS = 300.0


def bare(host: str, port: int, user: str, password: str) -> dict[str, object]:
    import imaplib

    from inboxes.parsing import MessageParseError, parse_message

    rss_before = vm_status_kb("VmRSS")
    started = time.perf_counter()
    client = imaplib.IMAP4(host, port, timeout=30)
    client.login(user, password)
    client.select("INBOX", readonly=True)
    status, data = client.uid("SEARCH", None, "ALL")
    uids = [int(token) for token in data[0].split()] if status == "OK" and data[0] else []
    parsed = failed = fetched_bytes = 0
    for start in range(0, len(uids), FETCH_BATCH):
        batch = uids[start : start + FETCH_BATCH]
        status, data = client.uid("FETCH", f"{batch[0]}:{batch[-1]}", "(UID BODY.PEEK[])")
        if status != "OK":
            raise RuntimeError(f"FETCH failed: {data!r}")
        for item in data:
            if isinstance(item, tuple):
                fetched_bytes += len(item[1])
                try:
                    parse_message(item[1])
                    parsed += 1
                except MessageParseError:
                    failed += 1
        if time.perf_counter() - started > MAX_SECONDS:
            break
    client.logout()
    seconds = time.perf_counter() - started
    return {
        "messages": parsed + failed,
        "parse_failures": failed,
        "bytes": fetched_bytes,
        "seconds": seconds,
        "rss_before_kb": rss_before,
        "hwm_kb": vm_status_kb("VmHWM"),
    }


def product(inbox_id: int) -> dict[str, object]:
    import django

    django.setup()
    from collections import Counter

    from django.db import connection

    from inboxes.models import Inbox
    from inboxes.polling import inbox_poll

    inbox = Inbox.objects.get(pk=inbox_id)
    connection.ensure_connection()
    rss_before = vm_status_kb("VmRSS")
    outcomes: Counter[str] = Counter()
    fetched = polls = 0
    errors: list[str] = []
    started = time.perf_counter()
    while polls < MAX_POLLS and time.perf_counter() - started < MAX_SECONDS:
        result = inbox_poll(inbox=inbox)
        polls += 1
        if result.error:
            errors.append(result.error)
            break
        if not result.claimed:
            time.sleep(0.1)
            continue
        fetched += result.fetched
        outcomes.update(result.outcomes)
        if result.fetched == 0:
            break
    seconds = time.perf_counter() - started
    return {
        "messages": fetched,
        "seconds": seconds,
        "polls": polls,
        "outcomes": dict(outcomes),
        "errors": errors,
        "rss_before_kb": rss_before,
        "hwm_kb": vm_status_kb("VmHWM"),
    }


def main(argv: list[str]) -> int:
    mode = argv[1] if len(argv) > 1 else ""
    if mode == "bare" and len(argv) == 6:
        result = bare(argv[2], int(argv[3]), argv[4], argv[5])
    elif mode == "product" and len(argv) == 3:
        result = product(int(argv[2]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print("BENCH_JSON " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
