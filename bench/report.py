"""The one table, the machine facts, and where they are saved (bench/results/)."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .util import BASE_DIR, RESULTS_DIR


@dataclass(frozen=True)
class Row:
    figure: str
    value: str
    ceiling: str = "—"
    ratio: str = "—"
    target: str = "—"
    met: bool | None = None

    def cells(self) -> list[str]:
        met = "—" if self.met is None else ("**yes**" if self.met else "**NO**")
        return [self.figure, self.value, self.ceiling, self.ratio, self.target, met]


def table(rows: list[Row]) -> str:
    lines = [
        "| figure | value | ceiling | ratio | target | met? |",
        "|---|---:|---:|---:|---|---|",
    ]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def _run(*args: str) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=10, cwd=BASE_DIR).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def machine_facts(*, versions: dict[str, str], commit: str = "") -> list[tuple[str, str]]:
    import django

    commit = commit or os.environ.get("BENCH_GIT_COMMIT", "")
    if not commit:
        commit = _run("git", "rev-parse", "--short=12", "HEAD") or "unknown"
        if _run("git", "status", "--porcelain", "--untracked-files=no"):
            commit += " (working tree has uncommitted changes)"
    facts = [
        ("cores (nproc)", str(os.cpu_count())),
        ("CPU", _cpu_model()),
        ("memory", _memory()),
        ("kernel", platform.release()),
        ("Python", platform.python_version()),
        ("Django", django.get_version()),
    ]
    facts += list(versions.items())
    facts.append(("git commit", commit))
    return facts


def document(
    *, title: str, started: datetime, command: str, table: str, facts: list[tuple[str, str]], notes: list[str]
) -> str:
    parts = [
        f"# {title}",
        "",
        f"Run started {started:%Y-%m-%d %H:%M} UTC with `{command}`.",
        "",
        table,
        "",
        "## Machine",
        "",
        "| fact | value |",
        "|---|---|",
        *[f"| {name} | {value} |" for name, value in facts],
        "",
        "## How it was measured",
        "",
        *[f"- {note}" for note in notes],
        "",
    ]
    return "\n".join(parts)


def save(text: str, *, started: datetime, folder: Path | None = None, prefix: str = "") -> Path:
    """``<prefix><date>.md`` and a copy as ``<prefix>latest.md`` (comparisons: ``compare-``)."""
    folder = folder or RESULTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{prefix}{started:%Y-%m-%d-%H%M}.md"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(path)
    shutil.copyfile(path, folder / f"{prefix}latest.md")
    return path


def fmt_rate(value: float, unit: str) -> str:
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:,.1f} {unit}"


def fmt_mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MiB"
