"""Fixtures every test package shares: the real market data kept in tests/data/market."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Iterator

import pandas as pd
import pytest
from hypothesis import settings

MARKET_DATA = Path(__file__).resolve().parent / "data" / "market"

# Hypothesis: thorough in CI, quicker locally unless asked; never a deadline on a
# shared, noisy machine.
settings.register_profile("ci", max_examples=300, deadline=None, print_blob=True)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(scope="session", autouse=True)
def private_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test sees its own market-data store, never the user's real one.

    ``ANVIL_DB`` points at a fresh file for the session (the shipped sample loads
    into it on first use); tests that need a store of their own set it again.
    """
    path = tmp_path_factory.mktemp("store") / "anvil.duckdb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ANVIL_DB", str(path))
        yield path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real daily, hourly and multi-stock series (tests/data/market, see its README)."""
    if not MARKET_DATA.is_dir():
        pytest.fail(f"{MARKET_DATA} is missing: the tests read real market data from it")
    return MARKET_DATA


@pytest.fixture(scope="session")
def sp500_df(shared_data: Path) -> pd.DataFrame:
    return pd.read_parquet(shared_data / "sp500_daily.parquet")


@pytest.fixture(scope="session")
def sp500_bars(sp500_df: pd.DataFrame):
    import engine

    return engine.Bars.from_pandas(sp500_df)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Say what is still running in this process as the suite ends, and stop a Ray a
    test left connected, so that interpreter exit tears down nothing of ours: if the
    process crashes after its summary, this line says where to look."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        print("\nconftest: a test left Ray connected; shutting it down", file=sys.stderr)
        from cluster import runtime

        runtime.shutdown()
    others = sorted(t.name for t in threading.enumerate() if t is not threading.main_thread())
    if others:
        print(f"\nconftest: threads alive at the end: {', '.join(others)}", file=sys.stderr)
