"""The store tests' fixtures: a store of the test's own, never the user's.

Import them into a test module by name: ``no_real_default_store`` is autouse there,
``store`` is an empty store (no shipped sample) in the test's temporary folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.store import Store


@pytest.fixture(autouse=True)
def no_real_default_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``ANVIL_DB`` points into the test's own temporary folder, so no test here may open
    the user's own store, even by mistake."""
    monkeypatch.setenv("ANVIL_DB", str(tmp_path / "default" / "anvil.duckdb"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """An empty store, closed after the test."""
    with Store(tmp_path / "store.duckdb", sample=False) as s:
        yield s
