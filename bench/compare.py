"""`python -m bench --compare REV`: two commits measured in one run, each page side by side.

Side A is REV, exported with git archive; side B is the working tree (with ``--snapshot``: HEAD,
exported). Each side has its own folder, database, Redis databases, static files and gunicorn,
and migrates and seeds with its own code in processes of its own (``bench/side.py`` run in the
side's folder), so the two commits may differ in models, migrations and module paths. Both use
this run's virtualenv, with the same fixed PYTHONHASHSEED.

Pages are measured by a paired client (``bench/paired.py``) that sends A's page, B's page and
each side's ceiling in one shuffled pass after another, so that load from elsewhere on the
machine weighs on both sides alike; per board size there are several rounds, each page a few
seconds per round. B ÷ A is the median over the rounds of B's speed ÷ A's speed (each round's
geometric mean over its passes). Intake runs A's and B's ``inbox_poll`` at the same time, each on
its own copy of the same mailbox, after both sides' bare fetch+parse, also at the same time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from . import intake, load, mailbox, paired, report, server
from .pages import PAGES, ceiling_target, page_targets
from .util import BASE_DIR, BenchError, log

# Many short runs rather than a few long ones: A and B of one pair are then seconds apart, and
# a burst of load from elsewhere spoils one pair of the median, not the figure.
DEFAULT_ROUNDS = 6
PAGE_SECONDS = 4
WARM_UP_SECONDS = 1
# Per intake pass, the first messages of bench/mailbox.py's 2,000: more, shorter passes.
INTAKE_MAILS = 1_000
INTAKE_ROUNDS = 6
# Hash randomisation off, the same on both sides: otherwise each gunicorn arbiter draws its own
# seed, and dict and set layouts differ between two servers of the same code.
HASH_SEED = "0"
# Below this share of A's speed a figure is flagged (issue 9: "no page below 0.9× of before").
SLOWER_LIMIT = 0.9
SIDE_STEP_TIMEOUT = 900


@dataclass
class Side:
    """One commit under measurement: its folder, database and server."""

    letter: str
    description: str
    tree: Path
    database: str
    redis_dbs: tuple[int, int]
    port: int = 0
    env: dict[str, str] = field(default_factory=dict)
    base: dict[str, Any] = field(default_factory=dict)
    detail_id: int = 0
    # A commit from before the conversation (issue 10) has no thread: its detail page stands in.
    thread_id: int = 0
    cookies: tuple[str, ...] = ()
    gunicorn: server.Gunicorn | None = None

    @property
    def url(self) -> str:
        assert self.gunicorn is not None
        return self.gunicorn.url

    def step(self, *args: str) -> dict[str, Any]:
        """``python -m bench.side ARGS`` in this side's folder; its JSON answer."""
        result = subprocess.run(
            [sys.executable, "-m", "bench.side", *args],
            cwd=self.tree,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=SIDE_STEP_TIMEOUT,
        )
        match = re.search(r"^BENCH_JSON (\{.*\})$", result.stdout, re.MULTILINE)
        if result.returncode != 0 or match is None:
            raise BenchError(
                f"side {self.letter}: bench.side {args[0]} failed in {self.tree}:\n"
                f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
            )
        return json.loads(match.group(1))


@dataclass
class Figure:
    """One row of the table: B ÷ A per round, and each side's standing against its own ceiling."""

    label: str
    a_share: float
    b_share: float
    a_value: str
    b_value: str
    rounds: list[float]
    judged: bool = True

    def b_over_a(self) -> float:
        return statistics.median(self.rounds)


def run_compare(*, args: argparse.Namespace, sizes: list[int], rounds: int, command: str, scratch: Path) -> str:
    """Set up both sides, measure pages and intake interleaved; the table (saved unless --no-save)."""
    started = datetime.now(UTC)
    sides = _prepare_sides(args.compare, snapshot=args.snapshot, scratch=scratch)
    notes_extra = []
    if (sides[0].tree / "requirements.txt").read_bytes() != (BASE_DIR / "requirements.txt").read_bytes():
        warning = "REV's requirements.txt differs from the working tree's; both sides ran with this virtualenv"
        log(f"WARNING: {warning}")
        notes_extra.append(warning + ".")

    figures: list[Figure] = []
    versions: dict[str, str] = {}
    if not args.skip_pages:
        with _serving(sides, scratch):
            seeded = 0
            now = datetime.now(UTC)
            for size in sizes:
                log(f"seeding both boards up to {size:,} tickets")
                _on_both(sides, partial(_seed_tickets, start=seeded, stop=size, now=now))
                seeded = size
                figures += _measure_pages(sides, size=size, rounds=rounds)
                removed = _on_both(
                    sides, lambda side: side.step("clean-web-form", str(side.base["web_form_board_id"]))["removed"]
                )
                log(f"{removed[0]} (A) and {removed[1]} (B) rows filed by the POST runs removed again")

    intake_figures: list[Figure] = []
    if not args.skip_intake:
        intake_figures, versions["Dovecot"] = _measure_intake(sides)

    versions = {"PostgreSQL": server.postgres_version(), "Redis": server.redis_version(), **versions}
    versions["gunicorn"] = report.package_version("gunicorn")
    commits = "; ".join(f"{side.letter}: {side.description}".replace("`", "") for side in sides)
    body = "\n\n".join([_sides_line(sides), _table(figures + intake_figures), _summary(figures, intake_figures)])
    if not args.no_save:
        text = report.document(
            title="Benchmark comparison",
            started=started,
            command=command,
            table=body,
            facts=report.machine_facts(versions=versions, commit=commits),
            notes=_notes(sizes, rounds=rounds, with_intake=bool(intake_figures)) + notes_extra,
        )
        folder = Path(args.results_dir) if args.results_dir else None
        path = report.save(text, started=started, folder=folder, prefix="compare-")
        log(f"saved to {path} and compare-latest.md beside it")
    return body


def _prepare_sides(rev: str, *, snapshot: bool, scratch: Path) -> list[Side]:
    """Both folders exported or found, databases created, migrated and seeded (without tickets)."""
    rev_tree, commit_a = export_commit(rev, scratch / "rev")
    if snapshot:
        tree_b, commit_b = export_commit("HEAD", scratch / "head")
        description_b = f"HEAD `{commit_b}`, exported"
    else:
        tree_b, commit_b = BASE_DIR, _git("rev-parse", "--short=12", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
        description_b = f"working tree at `{commit_b}`" + (" with uncommitted changes" if dirty else "")
    description_a = f"`{commit_a}` (`--compare {rev}`), exported"
    sides = [
        Side("A", description_a, rev_tree, server.REV_DB_NAME, server.REV_REDIS_DBS),
        Side("B", description_b, tree_b, server.DB_NAME, server.REDIS_DBS),
    ]
    server.flush_redis_databases()
    for side in sides:
        log(f"side {side.letter}: {side.description.replace('`', '')} in {side.tree}")
        url = server.recreate_database(side.database)
        side.port = _free_port(taken={other.port for other in sides})
        side.env = server.product_environment(
            database_url=url, static_root=scratch / f"static-{side.letter}", port=side.port, redis_dbs=side.redis_dbs
        )
        side.env["PYTHONHASHSEED"] = HASH_SEED
    log(f"databases {sides[0].database} (A) and {sides[1].database} (B) created; each side migrates and seeds")
    _on_both(sides, _migrate_and_seed_base)
    return sides


# -- the two folders -----------------------------------------------------------------------------


def _git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=BASE_DIR, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise BenchError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def export_commit(rev: str, folder: Path) -> tuple[Path, str]:
    """``git archive REV`` into ``folder``, ready to run: messages compiled, this run's side driver.

    Returns the folder and the commit's short hash. ``bench/side.py`` is this run's copy, since
    the orchestration speaks its protocol; everything else, the seeding included, is REV's own.
    """
    try:
        commit = _git("rev-parse", "--verify", "--quiet", "--short=12", f"{rev}^{{commit}}")
    except BenchError:
        raise BenchError(f"{rev!r} does not name a commit of this repository") from None
    folder.mkdir(parents=True)
    archive = subprocess.Popen(["git", "archive", "--format=tar", commit], cwd=BASE_DIR, stdout=subprocess.PIPE)
    untar = subprocess.run(["tar", "-x", "-C", str(folder)], stdin=archive.stdout, capture_output=True)
    assert archive.stdout is not None
    archive.stdout.close()
    if archive.wait(timeout=120) != 0 or untar.returncode != 0:
        raise BenchError(f"exporting {commit} failed: {untar.stderr.decode(errors='replace')[-2000:]}")
    missing = [
        name
        for name in ("seeding.py", "settings.py", "urls.py", "intake_worker.py")
        if not (folder / "bench" / name).exists()
    ]
    if missing:
        raise BenchError(f"commit {commit} has no bench/{', bench/'.join(missing)}: it predates the benchmark")
    if (folder / "bin" / "compile-messages").exists():
        subprocess.run([sys.executable, "bin/compile-messages"], cwd=folder, capture_output=True, check=True)
    shutil.copyfile(Path(__file__).with_name("side.py"), folder / "bench" / "side.py")
    return folder, commit


def _free_port(*, taken: set[int]) -> int:
    while True:
        port = server.free_port()
        if port not in taken:
            return port


def _on_both[T](sides: list[Side], work: Callable[[Side], T]) -> list[T]:
    """``work`` for each side at the same time (set-up steps only, never a measurement)."""
    with ThreadPoolExecutor(max_workers=len(sides)) as pool:
        return list(pool.map(work, sides))


def _migrate_and_seed_base(side: Side) -> None:
    server.manage(side.env, "migrate", "--noinput", cwd=side.tree)
    server.manage(side.env, "collectstatic", "--noinput", cwd=side.tree)
    side.base = side.step("base")
    if Path(side.base["code_dir"]) != side.tree.resolve():
        raise BenchError(f"side {side.letter} imported the product from {side.base['code_dir']}, not {side.tree}")


def _seed_tickets(side: Side, *, start: int, stop: int, now: datetime) -> None:
    answer = side.step(
        "tickets",
        str(side.base["measured_board_id"]),
        str(side.base["manager_id"]),
        str(start),
        str(stop),
        now.isoformat(),
    )
    side.detail_id = int(answer["detail_ticket_id"])
    side.thread_id = int(answer.get("thread_ticket_id", side.detail_id))


@contextlib.contextmanager
def _serving(sides: list[Side], scratch: Path) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for side in sides:
            side.gunicorn = stack.enter_context(
                server.Gunicorn(
                    env=side.env, port=side.port, log_path=scratch / f"gunicorn-{side.letter}.log", cwd=side.tree
                )
            )
        yield


def _restart(sides_in_order: list[Side]) -> None:
    """Stop every side's gunicorn, then start them again in the given order (same ports)."""
    for side in sides_in_order:
        assert side.gunicorn is not None
        side.gunicorn.stop()
    for side in sides_in_order:
        assert side.gunicorn is not None
        side.gunicorn.start()


# -- pages -----------------------------------------------------------------------------------


def _measure_pages(sides: list[Side], *, size: int, rounds: int) -> list[Figure]:
    """Every page in ``rounds`` rounds of PAGE_SECONDS of paired load, each round on fresh servers."""
    side_a, side_b = sides
    endpoints: dict[str, dict[str, paired.Endpoint]] = {}
    for side in sides:
        if not side.cookies:
            side.cookies = tuple(
                load.log_in(side.url, email=side.base["manager_email"], password=side.base["manager_password"])
                for _thread in range(paired.THREADS)
            )
        targets = page_targets(
            side.url,
            board_id=side.base["measured_board_id"],
            detail_id=side.detail_id,
            thread_id=side.thread_id,
            cookies=side.cookies,
            measured_board=side.base["measured_board"],
            web_form_board=side.base["web_form_board"],
        )
        targets["ceiling"] = ceiling_target()
        for target in targets.values():
            load.check_target(side.url, target)
        endpoints[side.letter] = {
            key: paired.endpoint(f"{side.letter} {target.label}", side.port, target) for key, target in targets.items()
        }

    def measure(key: str, seconds: float, seed: int) -> paired.PairedRun:
        a, b = endpoints[side_a.letter], endpoints[side_b.letter]
        return paired.run(a[key], b[key], a["ceiling"], b["ceiling"], seconds=seconds, seed=seed)

    pooled = {spec.key: paired.PairedRun() for spec in PAGES}
    by_round: dict[str, list[float]] = {spec.key: [] for spec in PAGES}
    for round_no in range(rounds):
        # Fresh servers every round, started in turn A first and B first: of two servers of the
        # same code started one after the other, the second measured about 2 % faster all run
        # long; memory layout and CPU placement are drawn again too.
        _restart(sides[:: 1 if round_no % 2 == 0 else -1])
        for spec in PAGES:
            measure(spec.key, WARM_UP_SECONDS, seed=0)
        for spec in PAGES:
            run = measure(spec.key, PAGE_SECONDS, seed=round_no + 1)
            pooled[spec.key].extend(run)
            by_round[spec.key].append(run.b_over_a())
            log(
                f"{size // 1000:,}k round {round_no + 1}/{rounds} {spec.key:<14} B ÷ A {by_round[spec.key][-1]:.3f}"
                f"  A {statistics.fmean(run.a) * 1000:6.1f} ms  B {statistics.fmean(run.b) * 1000:6.1f} ms"
                f"  ({len(run.a)} passes)"
            )
    return [
        Figure(
            label=f"{spec.label}, {size:,} tickets",
            a_share=sum(pooled[spec.key].ceiling_a) / sum(pooled[spec.key].a),
            b_share=sum(pooled[spec.key].ceiling_b) / sum(pooled[spec.key].b),
            a_value=f"{statistics.fmean(pooled[spec.key].a) * 1000:.1f} ms",
            b_value=f"{statistics.fmean(pooled[spec.key].b) * 1000:.1f} ms",
            rounds=by_round[spec.key],
        )
        for spec in PAGES
    ]


# -- intake ----------------------------------------------------------------------------------


def _measure_intake(sides: list[Side]) -> tuple[list[Figure], str]:
    """Per round: both sides' bare fetch+parse at once, then both sides' ``inbox_poll`` at once.

    Each side reads a Dovecot user of its own holding the same messages. Before each product
    pass every message is made unseen again, and the pass polls a new Inbox row of a new intake
    manager, so every pass is a first poll of the same mailbox (no duplicate Message-IDs, no
    stored UID). Running A and B at the same time puts both under the same load from elsewhere.
    """
    from testsupport.mailservers import DovecotServer, DovecotUnavailable

    intake.ensure_dovecot()
    messages = mailbox.generate(INTAKE_MAILS)
    log(f"generated {len(messages)} support mails, {mailbox.total_bytes(messages) / 1e6:.1f} MB")
    try:
        dovecot = DovecotServer()
        dovecot.start()
    except DovecotUnavailable as exc:
        raise BenchError(f"Dovecot did not start: {exc}") from exc
    try:
        log(f"Dovecot on 127.0.0.1:{dovecot.port}; appending a mailbox for each side")
        users = {side.letter: f"side-{side.letter.lower()}" for side in sides}
        for user in users.values():
            dovecot.add_user(user, intake.PASSWORD)
            intake.append_all(dovecot, user, messages)
        labels = [f"r{round_no + 1}" for round_no in range(INTAKE_ROUNDS)]
        inbox_ids = {
            side.letter: side.step("intake-inboxes", str(dovecot.port), users[side.letter], intake.PASSWORD, *labels)[
                "inbox_ids"
            ]
            for side in sides
        }

        def bare(side: Side) -> intake.IntakeRun:
            bare_args = ("bare", "127.0.0.1", str(dovecot.port), users[side.letter], intake.PASSWORD)
            return intake.run_worker(side.env, *bare_args, cwd=side.tree)

        def product(side: Side, round_no: int) -> intake.IntakeRun:
            run = intake.run_worker(side.env, "product", str(inbox_ids[side.letter][round_no]), cwd=side.tree)
            if run.messages != INTAKE_MAILS:
                raise BenchError(f"side {side.letter} took in {run.messages} messages instead of {INTAKE_MAILS}")
            return run

        _on_both(sides, bare)  # warm-up: Dovecot's index and cache files, the page cache
        shares: dict[str, list[float]] = {side.letter: [] for side in sides}
        rates: dict[str, list[float]] = {side.letter: [] for side in sides}
        memory: dict[str, list[float]] = {side.letter: [] for side in sides}
        for round_no in range(INTAKE_ROUNDS):
            bare_runs = _on_both(sides, bare)
            for user in users.values():
                intake.mark_all_unseen(dovecot, user)
            product_runs = _on_both(sides, partial(product, round_no=round_no))
            for side, bare_run, run in zip(sides, bare_runs, product_runs, strict=True):
                shares[side.letter].append(run.rate / bare_run.rate)
                rates[side.letter].append(run.rate)
                memory[side.letter].append(run.hwm_kb / 1024)
            log(
                f"intake round {round_no + 1}/{INTAKE_ROUNDS}: "
                + ", ".join(
                    f"{side.letter} {run.rate:.0f} msg/s (bare {bare_run.rate:.0f})"
                    for side, bare_run, run in zip(sides, bare_runs, product_runs, strict=True)
                )
            )
        a, b = (side.letter for side in sides)
        rate_figure = Figure(
            label=f"intake: `inbox_poll` until empty, {INTAKE_MAILS:,} mails (ceiling: bare fetch+parse)",
            a_share=statistics.median(shares[a]),
            b_share=statistics.median(shares[b]),
            a_value=report.fmt_rate(statistics.median(rates[a]), "msg/s"),
            b_value=report.fmt_rate(statistics.median(rates[b]), "msg/s"),
            rounds=[rate_b / rate_a for rate_a, rate_b in zip(rates[a], rates[b], strict=True)],
        )
        # Memory has no ceiling, and less is better: shown, not judged.
        memory_figure = Figure(
            label=f"intake worker peak RSS (VmHWM), {INTAKE_MAILS:,} mails",
            a_share=0.0,
            b_share=0.0,
            a_value=f"{statistics.median(memory[a]):.1f} MiB",
            b_value=f"{statistics.median(memory[b]):.1f} MiB",
            rounds=[mem_b / mem_a for mem_a, mem_b in zip(memory[a], memory[b], strict=True)],
            judged=False,
        )
        return [rate_figure, memory_figure], intake.dovecot_version()
    finally:
        dovecot.close()


# -- the table -------------------------------------------------------------------------------


def _table(figures: list[Figure]) -> str:
    lines = [
        f"| figure | A ÷ ceiling | B ÷ ceiling | B ÷ A | B ÷ A by round | B ≥ {SLOWER_LIMIT}× A? |",
        "|---|---:|---:|---:|---|---|",
    ]
    for figure in figures:
        ratio = figure.b_over_a()
        if figure.judged:
            cells = [f"{figure.a_share:.1%} · {figure.a_value}", f"{figure.b_share:.1%} · {figure.b_value}"]
            verdict = "yes" if ratio >= SLOWER_LIMIT else "**NO**"
        else:
            cells, verdict = [figure.a_value, figure.b_value], "—"
        by_round = " ".join(f"{value:.2f}" for value in figure.rounds)
        lines.append("| " + " | ".join([figure.label, *cells, f"{ratio:.2f}×", by_round, verdict]) + " |")
    return "\n".join(lines)


def _sides_line(sides: list[Side]) -> str:
    return " · ".join(f"**{side.letter}**: {side.description}" for side in sides)


def _summary(figures: list[Figure], intake_figures: list[Figure]) -> str:
    judged = [figure for figure in figures + intake_figures if figure.judged]
    slower = [f"{figure.label} ({figure.b_over_a():.2f}×)" for figure in judged if figure.b_over_a() < SLOWER_LIMIT]
    lines = [f"- Below {SLOWER_LIMIT}× of A: " + ("; ".join(slower) if slower else "none") + "."]
    if figures:
        medians = sorted(figure.b_over_a() for figure in figures)
        single = sorted(value for figure in figures for value in figure.rounds)
        lines.append(
            f"- B ÷ A of the {len(figures)} page figures: {medians[0]:.2f}× to {medians[-1]:.2f}× "
            f"(median {statistics.median(medians):.2f}×); of their {len(single)} single rounds: "
            f"{single[0]:.2f}× to {single[-1]:.2f}×, middle 80 % {_quantile(single, 0.1):.2f}× to "
            f"{_quantile(single, 0.9):.2f}×. With A and B the same code, this spread is the noise."
        )
    return "\n".join(lines)


def _quantile(values: list[float], share: float) -> float:
    index = min(len(values) - 1, max(0, round(share * (len(values) - 1))))
    return values[index]


def _notes(sizes: list[int], *, rounds: int, with_intake: bool) -> list[str]:
    sizes_text = " and ".join(f"{size:,}" for size in sizes)
    notes = [
        "Side A: REV exported with git archive; side B: the working tree (or HEAD exported, with --snapshot). "
        f"Each side migrates and seeds its own database (A: `{server.REV_DB_NAME}`, B: `{server.DB_NAME}`) "
        "with its own code, in processes started in its own folder (bench/side.py calling that commit's "
        "bench/seeding.py), and is served by its own gunicorn "
        f"({server.GUNICORN_WORKERS} sync workers, DEBUG=false, Redis cache and broker databases of its own, "
        f"rate limits off, PYTHONHASHSEED={HASH_SEED}). Both sides run with this run's virtualenv.",
        f"Pages: boards of {sizes_text} tickets (fixed seed, the same data on both sides). A paired client "
        f"(bench/paired.py, {paired.THREADS} threads, one connection per request) sends in each pass, in a "
        "shuffled order, A's page, B's page, A's ceiling and B's ceiling (`/bench/ceiling`, a minimal view) "
        f"and times every answer; every status is checked. {rounds} rounds, each on freshly started servers "
        "(in turn A first and B first: the second of two servers started one after the other measured about "
        f"2 % faster), {WARM_UP_SECONDS} s of warm-up per page, then {PAGE_SECONDS} s per page.",
        "B ÷ A: for each round, the geometric mean over its passes of A's time ÷ B's time (above 1: B is "
        "faster); the figure is the median over the rounds, flagged when below "
        f"{SLOWER_LIMIT}×. A ÷ ceiling and B ÷ ceiling: the side's ceiling time ÷ its page time over all "
        "passes, next to the mean time per request. These shares come from one request at a time, connection "
        "set-up included, and are therefore higher than `make bench`'s wrk ratios at "
        f"{load.CONNECTIONS} connections; compare them with each other, not with that table.",
    ]
    if with_intake:
        notes.append(
            f"Intake: the first {INTAKE_MAILS:,} generated support mails of bench/mailbox.py, appended for each "
            f"side to a Dovecot user of its own. After a warm-up, {INTAKE_ROUNDS} rounds of: both sides' bare "
            "UID FETCH + parse (their own bench/intake_worker.py, no database) at the same time, then both "
            "sides' `inbox_poll` (a fresh process each, until nothing is left) at the same time, each after all "
            "its messages were made unseen again and on a new Inbox of a new intake manager. A ÷ ceiling: the "
            "side's rate ÷ its bare rate in the same round (median); B ÷ A: B's rate ÷ A's rate of the same "
            "round (median). Peak RSS is each worker's VmHWM."
        )
    return notes
