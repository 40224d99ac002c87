"""The store tests' guard: no test may open the user's own store, even by mistake.

Import ``no_real_default_store`` into a test module; it is autouse there.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def no_real_default_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``ANVIL_DB`` points into the test's own temporary folder."""
    monkeypatch.setenv("ANVIL_DB", str(tmp_path / "default" / "anvil.duckdb"))
