"""What the production image holds, reproduced without Docker: the build context as .dockerignore
filters it, and a virtualenv with requirements.txt and nothing else.

Docker cannot run everywhere the tests run (CI has no daemon and pulls no images), so the tests
build the same two things the Dockerfile builds and run the compose services' commands on them.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
VENV_CACHE_DIR = Path(os.environ.get("PRODUCTION_VENV_CACHE", "/tmp"))


# --------------------------------------------------------------------------------------------
# .dockerignore
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IgnoreRule:
    pattern: str
    regex: re.Pattern[str]


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's matching (moby/patternmatcher): ``**`` spans directories, ``*`` and ``?`` stay in one."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("^" + "".join(out) + "$")


def read_dockerignore(path: Path = REPO_ROOT / ".dockerignore") -> list[IgnoreRule]:
    rules: list[IgnoreRule] = []
    for line in path.read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        # Exceptions and character classes are Docker features this reader does not copy: refuse
        # them rather than disagree with Docker about what goes into the image.
        if pattern.startswith("!") or "[" in pattern or "\\" in pattern:
            raise ValueError(f".dockerignore pattern not supported by testsupport.image: {pattern!r}")
        pattern = os.path.normpath(pattern.lstrip("/"))
        rules.append(IgnoreRule(pattern=pattern, regex=_pattern_regex(pattern)))
    return rules


def is_ignored(relative_path: str, rules: list[IgnoreRule]) -> bool:
    """Whether Docker leaves this path (relative to the context, with /) out of the build context.

    A pattern that matches a directory leaves out everything below it.
    """
    parts = relative_path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    return any(rule.regex.match(prefix) for rule in rules for prefix in prefixes)


def context_files(root: Path = REPO_ROOT, rules: list[IgnoreRule] | None = None) -> Iterator[str]:
    """Every file of the build context, as Docker would send it (untracked files included)."""
    rules = read_dockerignore(root / ".dockerignore") if rules is None else rules
    for directory, subdirectories, files in os.walk(root):
        relative_dir = os.path.relpath(directory, root)
        prefix = "" if relative_dir == "." else relative_dir + "/"
        subdirectories[:] = sorted(d for d in subdirectories if not is_ignored(prefix + d, rules))
        for name in sorted(files):
            if not is_ignored(prefix + name, rules):
                yield prefix + name


def copy_build_context(destination: Path, root: Path = REPO_ROOT) -> Path:
    """Copy the build context into ``destination`` (Dockerfile: ``COPY . .``)."""
    for relative in context_files(root):
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / relative, target)
    return destination


# --------------------------------------------------------------------------------------------
# A virtualenv with requirements.txt only
# --------------------------------------------------------------------------------------------


def requirements_venv(requirements: Path = REPO_ROOT / "requirements.txt") -> Path:
    """A virtualenv holding requirements.txt and nothing else, built once per requirements file.

    Cached under /tmp (PRODUCTION_VENV_CACHE), keyed on the file's content and the Python
    version, so reruns cost nothing; a lock keeps two test runs from building it at once.
    """
    key = hashlib.sha256(requirements.read_bytes() + sys.version.encode()).hexdigest()[:16]
    venv = VENV_CACHE_DIR / f"issuetracker-requirements-venv-{key}"
    complete = venv / ".complete"
    VENV_CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with (VENV_CACHE_DIR / f"issuetracker-requirements-venv-{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if complete.exists():
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        # The base interpreter, never the test virtualenv's packages.
        base_python = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base_python, "-m", "venv", str(venv)], check=True, timeout=120)
        env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONNOUSERSITE": "1"}
        result = subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "-r", str(requirements)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            raise RuntimeError(f"pip install -r {requirements} failed:\n{result.stdout}\n{result.stderr}")
        complete.write_text(key)
    return venv
