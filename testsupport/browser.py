"""Headless Chromium for browser tests, through Playwright's sync API (loaded as a pytest plugin).

Fixtures:
- ``chromium``: one browser per test session, launched only when a browser test asks for it.
- ``browser_page``: a fresh context (cookies, storage) and page per test, English and Warsaw time,
  failing the test on any console error (a CSP violation shows up there).
- ``screenshot``: ``screenshot("step-name")`` saves test-artifacts/screenshots/<test>/NN-step-name.png.
- ``compiled_messages``: the .po files compiled to .mo, so translated pages can be asserted.

Chromium comes from the system (/usr/bin/chromium): it fails under CI=true when missing,
and skips elsewhere.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_PATH = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
REPO_ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT_DIR = REPO_ROOT / "test-artifacts" / "screenshots"


def _require(condition: bool, reason: str) -> None:
    from conftest import require  # the root conftest: fail under CI=true, skip on a laptop

    require(condition, reason)


@pytest.fixture(scope="session")
def compiled_messages() -> None:
    """Compile locale/*.po like `make` does (polib, no gettext needed); a no-op when up to date."""
    subprocess.run([sys.executable, str(REPO_ROOT / "bin" / "compile-messages")], check=True, cwd=REPO_ROOT)
    from django.utils.translation import trans_real

    # Catalogues loaded before the compilation (empty) must not be reused.
    trans_real._translations = {}
    trans_real._default = None


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    _require(CHROMIUM_PATH.exists(), f"Chromium not found at {CHROMIUM_PATH}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - part of requirements-dev.txt
        _require(False, "the playwright package is not installed")
        raise
    # Playwright's sync API marks its event loop as running between calls, which trips Django's
    # async-unsafe guard on every ORM call made by the test (and the live server's thread is a
    # plain thread anyway). Set for the rest of the session: the loop stays registered.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    manager = sync_playwright().start()
    try:
        browser = manager.chromium.launch(executable_path=str(CHROMIUM_PATH), headless=True, args=CHROMIUM_ARGS)
    except Exception as exc:
        manager.stop()
        _require(False, f"Chromium did not start: {exc}")
        raise
    try:
        yield browser
    finally:
        browser.close()
        manager.stop()


@pytest.fixture
def browser_page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(locale="en-US", timezone_id="Europe/Warsaw", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    console_errors: list[str] = []

    def on_console(message: Any) -> None:
        # Chromium asks every site for /favicon.ico; that 404 says nothing about our pages.
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            console_errors.append(f"{message.text} ({message.location.get('url', '')})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: console_errors.append(str(error)))
    page.console_errors = console_errors  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        context.close()
    assert not console_errors, f"browser console errors: {console_errors}"


@pytest.fixture
def screenshot(request: pytest.FixtureRequest, browser_page: Any) -> Callable[[str], Path]:
    folder = SCREENSHOT_DIR / re.sub(r"[^\w.-]+", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    taken: list[Path] = []

    def take(step: str) -> Path:
        path = folder / f"{len(taken) + 1:02d}-{re.sub(r'[^\w.-]+', '-', step)}.png"
        browser_page.screenshot(path=str(path), full_page=True)
        taken.append(path)
        return path

    return take
