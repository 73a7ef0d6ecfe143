"""Profile one page of the last bench run's database with pyinstrument (wall clock, so SQL waits show).

Run after `make bench` (which leaves the ``issuetracker_bench`` database in place):

    .venv/bin/python -m bench.profile /boards/1/ [--repeat 50] [--anonymous] [--sql]

The request goes through the full production middleware stack in this process (Django's test
client, DEBUG off, the same settings the bench serves with). ``--sql`` also prints the queries of
one request with their time, the first thing to look at when a page grows with the data.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from . import server


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("path")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--anonymous", action="store_true", help="do not log in (public pages)")
    parser.add_argument("--sql", action="store_true", help="print the SQL of one request")
    parser.add_argument("--post", default="", help="urlencoded body: POST instead of GET")
    args = parser.parse_args(argv)

    static_root = Path(tempfile.mkdtemp(prefix="bench-profile-static-"))
    env = server.product_environment(
        database_url=f"{server.postgres_base_url()}/{server.DB_NAME}", static_root=static_root, port=8000
    )
    try:
        server.manage(env, "collectstatic", "--noinput")
        os.environ.update(env)
        return _profile(args)
    finally:
        shutil.rmtree(static_root, ignore_errors=True)


def _profile(args: argparse.Namespace) -> int:
    import django

    django.setup()
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from pyinstrument import Profiler

    from . import seeding

    client = Client(HTTP_HOST="127.0.0.1", enforce_csrf_checks=False)
    if not args.anonymous:
        response = client.post(
            "/accounts/login/", {"login": seeding.MANAGER_EMAIL, "password": seeding.MANAGER_PASSWORD}
        )
        if response.status_code != 302:
            print(f"log-in failed: {response.status_code}", file=sys.stderr)
            return 1

    def hit() -> int:
        if args.post:
            return client.post(args.path, args.post, content_type="application/x-www-form-urlencoded").status_code
        return client.get(args.path).status_code

    status = hit()  # warm: templates compiled, connections open
    print(f"{args.path}: HTTP {status}", file=sys.stderr)
    if args.sql:
        reset_queries()
        with CaptureQueriesContext(connection) as queries:
            hit()
        for query in queries.captured_queries:
            print(f"{float(query['time']) * 1000:7.2f} ms  {query['sql'][:400]}")
        print(f"{len(queries.captured_queries)} queries")

    profiler = Profiler(interval=0.0005)
    started = time.perf_counter()
    with profiler:
        for _ in range(args.repeat):
            hit()
    elapsed = time.perf_counter() - started
    print(f"{args.repeat} requests, {elapsed / args.repeat * 1000:.2f} ms each (in-process, one at a time)")
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
