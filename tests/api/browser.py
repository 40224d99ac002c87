"""Chromium for the browser tests, driven by Playwright (Debian's ``chromium`` package:
Playwright's own browser download is not available here).

Without a Chromium the browser tests skip with one loud line; under ``CI=true`` a
missing browser is a failure. Screenshots go to ``tmp/artefacts/screenshots`` (not
committed; ``ANVIL_ARTEFACTS`` moves them).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    for candidate in (
        os.environ.get("ANVIL_CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def require_chromium() -> str:
    """The Chromium to drive; skips the test (fails it under ``CI=true``) without one."""
    return require(chromium_path())


def require(path: str | None) -> str:
    """``path``, or a loud skip when it is None (a failure under ``CI=true``); the same
    for a missing playwright package."""
    if path is None:
        why = "no Chromium: `apt-get install chromium` (make test does it as root) to run the browser tests"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {why}")
        pytest.skip(f"BROWSER TESTS SKIPPED: {why}")
    try:
        import playwright  # noqa: F401
    except ImportError:
        msg = "the playwright package is missing: make install-test"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(f"BROWSER TESTS SKIPPED: {msg}")
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium for the test module (skips or fails as ``require_chromium`` says)."""
    path = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


def artefacts() -> Path:
    folder = Path(os.environ.get("ANVIL_ARTEFACTS", REPO / "tmp" / "artefacts")) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
