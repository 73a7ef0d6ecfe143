"""`make bench`: set up, seed, serve, load, take in mail, print the table. See bench/__init__.py.

Options (for working on the bench itself; `make bench` uses none):
  --sizes 1000,100000   board sizes to measure, in growing order
  --skip-pages          only the intake part
  --skip-intake         only the page part
  --no-save             print the table without writing bench/results/
  --snapshot            measure the last commit (git archive HEAD into a temporary folder), not the
                        working tree: other people's unsaved edits cannot change or break the run
  --compare REV         measure REV (exported) and the working tree (HEAD with --snapshot) in one
                        run, interleaved, and print each page's ratio to the ceiling side by side
                        (bench/compare.py)
  --rounds N            with --compare: measuring rounds per page (default 4)
  --quick               1,000 tickets only (same as --sizes 1000)
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from . import load, report, server
from .pages import PAGES, ceiling_target, page_targets
from .util import BenchError, log

# The whole run stops (cleanly) after this, whatever hangs.
TOTAL_TIMEOUT_SECONDS = 20 * 60
COMPARE_TIMEOUT_SECONDS = 30 * 60
GROWTH_TARGET = 1.5
INTAKE_TARGET = 0.33
MEMORY_FLAT_TOLERANCE = 1.10


def _timeout(signum: int, frame: FrameType | None) -> None:
    minutes = f"{TOTAL_TIMEOUT_SECONDS // 60} minutes, {COMPARE_TIMEOUT_SECONDS // 60} with --compare"
    raise BenchError(f"the bench ran longer than its time limit ({minutes}) and was stopped")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip-pages", action="store_true")
    parser.add_argument("--skip-intake", action="store_true")
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--snapshot", action="store_true")
    parser.add_argument("--compare", default="", metavar="REV")
    parser.add_argument("--rounds", type=int, default=0)
    parser.add_argument("--results-dir", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = [1000] if args.quick else [int(size) for size in args.sizes.split(",")]
    if sizes != sorted(sizes):
        parser.error("--sizes must grow: the board is extended in place")
    if args.rounds and not args.compare:
        parser.error("--rounds goes with --compare")

    if args.snapshot and not args.compare:
        return _run_snapshot(argv)
    signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(COMPARE_TIMEOUT_SECONDS if args.compare else TOTAL_TIMEOUT_SECONDS)
    scratch = load.scratch_dir()
    ok = False
    try:
        _take_machine_lock()
        if args.compare:
            from . import compare

            text = compare.run_compare(
                args=args,
                sizes=sizes,
                rounds=args.rounds or compare.DEFAULT_ROUNDS,
                command=" ".join(["make bench", f'BENCH_ARGS="{" ".join(argv)}"']),
                scratch=scratch,
            )
        else:
            text = run(args=args, sizes=sizes, scratch=scratch)
        print(text)
        ok = True
        return 0
    except BenchError as exc:
        log(f"FAILED: {exc}")
        return 1
    finally:
        signal.alarm(0)
        _cleanup(scratch, keep=not ok)


_LOCK_PATH = Path("/tmp/issuetracker-bench.lock")
_LOCK_WAIT_SECONDS = 10 * 60
_lock_file = None


def _take_machine_lock() -> None:
    """One bench at a time on this machine, whichever work tree it runs from.

    Two runs would drop each other's database (the name is fixed) and share the two cores, so
    the second one waits for the first instead. The lock goes with the process.
    """
    import fcntl
    import time

    global _lock_file
    _lock_file = _LOCK_PATH.open("a")
    deadline = time.monotonic() + _LOCK_WAIT_SECONDS
    announced = False
    while True:
        try:
            fcntl.flock(_lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                minutes = _LOCK_WAIT_SECONDS // 60
                raise BenchError(f"another bench has held {_LOCK_PATH} for {minutes} minutes") from None
            if not announced:
                log(f"another bench is running on this machine; waiting for it ({_LOCK_PATH})")
                announced = True
            time.sleep(2)


def _run_snapshot(argv: list[str]) -> int:
    """Export HEAD with git archive and run the bench from there, saving results here."""
    import subprocess

    from .compare import export_commit
    from .util import RESULTS_DIR

    scratch = Path(load.scratch_dir())
    try:
        source, commit = export_commit("HEAD", scratch / "head")
        log(f"measuring commit {commit} exported to {source}")
        child_args = [arg for arg in argv if arg != "--snapshot"] + ["--results-dir", str(RESULTS_DIR)]
        env = {**os.environ, "BENCH_GIT_COMMIT": f"{commit} (snapshot of HEAD)"}
        return subprocess.run(
            [sys.executable, "-m", "bench", *child_args], cwd=source, env=env, timeout=TOTAL_TIMEOUT_SECONDS + 60
        ).returncode
    except BenchError as exc:
        log(f"FAILED: {exc}")
        return 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _cleanup(scratch: Path, *, keep: bool) -> None:
    try:
        from django.db import connections

        connections.close_all()
    except Exception:  # Django may not even be set up yet
        pass
    try:
        server.flush_redis_databases()
    except BenchError:
        pass
    if keep:
        log(f"logs kept in {scratch}")
    else:
        shutil.rmtree(scratch, ignore_errors=True)


def run(*, args: argparse.Namespace, sizes: list[int], scratch: Path) -> str:
    started = datetime.now(UTC)
    wrk = load.ensure_wrk() if not args.skip_pages else ""
    database_url = server.recreate_database()
    port = server.free_port()
    static_root = scratch / "static"
    env = server.product_environment(database_url=database_url, static_root=static_root, port=port)
    server.flush_redis_databases()
    log(f"database {server.DB_NAME} created; migrating and collecting static files")
    server.manage(env, "migrate", "--noinput")
    server.manage(env, "collectstatic", "--noinput")
    # This process seeds and reads through the same settings as the served product.
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connections

    from . import seeding

    base = seeding.seed_base()
    now = datetime.now(UTC)
    rows: list[report.Row] = []
    versions: dict[str, str] = {}
    page_results: dict[tuple[str, int], load.LoadResult] = {}
    ceilings: dict[tuple[str, int], load.LoadResult] = {}

    if not args.skip_pages:
        versions["wrk"] = load.wrk_version(wrk)
        seeded = 0
        with server.Gunicorn(env=env, port=port, log_path=scratch / "gunicorn.log") as gunicorn:
            cookies: tuple[str, ...] = ()
            for size in sizes:
                log(f"seeding the board up to {size:,} tickets")
                seeding.seed_board_tickets(
                    board_id=base.measured_board_id, manager_id=base.manager_id, start=seeded, stop=size, now=now
                )
                seeded = size
                seeding.vacuum_analyze()
                detail_id = seeding.detail_ticket_id(board_id=base.measured_board_id)
                thread_id = seeding.thread_ticket_id(board_id=base.measured_board_id, manager_id=base.manager_id)
                connections.close_all()
                if not cookies:
                    cookies = tuple(
                        load.log_in(gunicorn.url, email=seeding.MANAGER_EMAIL, password=seeding.MANAGER_PASSWORD)
                        for _thread in range(load.THREADS)
                    )
                targets = page_targets(
                    gunicorn.url,
                    board_id=base.measured_board_id,
                    detail_id=detail_id,
                    thread_id=thread_id,
                    cookies=cookies,
                    measured_board=seeding.MEASURED_BOARD,
                    web_form_board=seeding.WEB_FORM_BOARD,
                )
                load.measure(wrk, gunicorn.url, ceiling_target())  # warm-up of the ceiling URL
                for spec in PAGES:
                    ceilings[spec.key, size] = load.measure(
                        wrk, gunicorn.url, ceiling_target(), seconds=load.CEILING_SECONDS, warm_up=False
                    )
                    page_results[spec.key, size] = load.measure(wrk, gunicorn.url, targets[spec.key])
                removed = seeding.delete_web_form_tickets(board_id=base.web_form_board_id)
                log(f"{removed} rows filed by the POST run removed again")
        rows += _page_rows(sizes, page_results, ceilings)

    intake_results = None
    if not args.skip_intake:
        from . import intake

        intake_results = intake.run_intake(env=env, scratch=scratch)
        rows += _intake_rows(intake_results)
        versions["Dovecot"] = intake_results.dovecot_version

    versions = {"PostgreSQL": server.postgres_version(), "Redis": server.redis_version(), **versions}
    versions["gunicorn"] = report.package_version("gunicorn")
    facts = report.machine_facts(versions=versions)
    text = report.document(
        title="Benchmark results",
        started=started,
        command="make bench",
        table=report.table(rows),
        facts=facts,
        notes=_notes(sizes, intake_results is not None),
    )
    if not args.no_save:
        path = report.save(text, started=started, folder=Path(args.results_dir) if args.results_dir else None)
        log(f"saved to {path} and latest.md beside it")
    return report.table(rows)


def _fmt_load(result: load.LoadResult) -> str:
    return f"{report.fmt_rate(result.rps, 'req/s')} · p50 {result.p50_ms:.1f} ms · p99 {result.p99_ms:.1f} ms"


def _page_rows(
    sizes: list[int], results: dict[tuple[str, int], load.LoadResult], ceilings: dict[tuple[str, int], load.LoadResult]
) -> list[report.Row]:
    rows = []
    for size in sizes:
        runs = [ceilings[spec.key, size] for spec in PAGES]
        rates = sorted(run.rps for run in runs)
        rows.append(
            report.Row(
                f"ceiling: minimal Django view, {size:,}-ticket run ({len(runs)} runs, each before a page)",
                f"{_fmt_load(load.pooled(*runs))} (min {rates[0]:,.0f}, max {rates[-1]:,.0f})",
            )
        )
    for spec in PAGES:
        for size in sizes:
            result, ceiling = results[spec.key, size], ceilings[spec.key, size]
            ratio = result.rps / ceiling.rps
            rows.append(
                report.Row(
                    f"{spec.label}, {size:,} tickets",
                    _fmt_load(result),
                    report.fmt_rate(ceiling.rps, "req/s"),
                    f"{ratio:.1%}",
                    f"≥ {spec.target:.0%}" if spec.target is not None else "—",
                    ratio >= spec.target if spec.target is not None else None,
                )
            )
        if len(sizes) >= 2:
            # Each size's time per request in units of its own ceiling run, so that a machine
            # busier during one size than the other does not pass for growth.
            small, large = sizes[0], sizes[-1]
            growth = (results[spec.key, small].rps / ceilings[spec.key, small].rps) / (
                results[spec.key, large].rps / ceilings[spec.key, large].rps
            )
            rows.append(
                report.Row(
                    f"{spec.label}: time per request {large // 1000:,}k ÷ {small // 1000:,}k",
                    f"{growth:.2f}×",
                    target=f"≤ {GROWTH_TARGET}×",
                    met=growth <= GROWTH_TARGET,
                )
            )
    return rows


def _intake_rows(results: object) -> list[report.Row]:
    from .intake import FULL, SMALL, IntakeResults

    assert isinstance(results, IntakeResults)
    bare, product = results.bare, results.product_full
    ratio = product.rate / bare.rate
    growth = results.product_full.hwm_kb / results.product_small.hwm_kb
    mb = results.mailbox_bytes / 1e6
    return [
        report.Row(
            f"intake ceiling: bare UID FETCH + parse, {FULL:,} mails ({mb:.0f} MB)",
            report.fmt_rate(bare.rate, "msg/s"),
        ),
        report.Row(
            f"intake: `inbox_poll` until empty, {FULL:,} mails",
            report.fmt_rate(product.rate, "msg/s"),
            report.fmt_rate(bare.rate, "msg/s"),
            f"{ratio:.1%}",
            f"≥ {INTAKE_TARGET:.0%}",
            ratio >= INTAKE_TARGET,
        ),
        report.Row(f"intake worker peak RSS (VmHWM), {SMALL:,} mails", report.fmt_mib(results.product_small.hwm_kb)),
        report.Row(
            f"intake worker peak RSS (VmHWM), {FULL:,} mails",
            report.fmt_mib(results.product_full.hwm_kb),
            f"{report.fmt_mib(results.product_small.hwm_kb)} at {SMALL:,}",
            f"{growth:.2f}×",
            f"flat (≤ {MEMORY_FLAT_TOLERANCE:.2f}×)",
            growth <= MEMORY_FLAT_TOLERANCE,
        ),
    ]


def _notes(sizes: list[int], with_intake: bool) -> list[str]:
    notes = [
        f"Product served by gunicorn {server.GUNICORN_WORKERS} sync workers on 127.0.0.1 with DEBUG=false, "
        "PostgreSQL, Redis cache (db 5) and broker (db 6), rate limits off (RATE_LIMIT_ENABLED=false), "
        "static files collected and served by WhiteNoise; secrets generated for the run.",
        "Ceiling: `/bench/ceiling`, a view returning a fixed 2-byte body through the same middleware and "
        "server settings (bench/urls.py), requested without a session, measured for "
        f"{load.CEILING_SECONDS} s right before each page; each page's ratio is to its own ceiling run, so "
        "load from other processes on the machine weighs on both sides alike.",
        f"Load: wrk, {load.THREADS} threads, {load.CONNECTIONS} connections, {load.WARMUP_SECONDS} s warm-up "
        f"then {load.DURATION_SECONDS} s per URL; manager pages with one logged-in session per wrk thread; "
        "every answer's status checked (a run with one wrong status is refused). Latency includes queueing "
        f"of {load.CONNECTIONS} connections on {server.GUNICORN_WORKERS} workers.",
        f"Data: one manager, five boards (one archived); the measured board grows in place from "
        f"{sizes[0]:,} to {sizes[-1]:,} tickets (18 % new, 12 % in progress, 55 % closed, 15 % rejected, "
        "with their state changes), one ticket per 10 minutes back in time, fixed seed (bench/seeding.py); "
        "VACUUM ANALYZE and CHECKPOINT after seeding, as on a live database long before a board reached "
        "that size. The POST run files reports on another "
        "board, removed after each size.",
        "Time per request 100k ÷ 1k: the page's time per request at each size in units of the ceiling run "
        "next to it (ratio at 1k ÷ ratio at 100k), so a machine busier during one size does not pass for growth.",
    ]
    if with_intake:
        notes.append(
            "Intake: private Dovecot (test-suite config) with 2,000 generated support mails (bench/mailbox.py: "
            "plain, HTML, alternative, attachments, replies, auto-replies, real-world corpus copies; utf-8, "
            "iso-8859-2, windows-1250, koi8-r, iso-2022-jp). Ceiling: imaplib UID FETCH in batches of 50 + "
            "`parse_message`, no database, after one discarded warm-up pass. Product: `inbox_poll` in a fresh "
            "process until nothing is left (tickets, standby items, outbox rows committed); its VmHWM at 500 "
            "and at 2,000 mails shows whether memory grows with the mailbox."
        )
    return notes


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
