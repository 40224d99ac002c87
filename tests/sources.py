"""Strategy sources the tests upload or load as files, kept once in tests/data/strategies/."""

from __future__ import annotations

from pathlib import Path

SOURCES = Path(__file__).resolve().parent / "data" / "strategies"

SLOW_TREND = (SOURCES / "slow_trend.py").read_text()
"""``SlowTrend``: long while the close is above its SMA, decided bar by bar (Python on
every bar: ~30 ms a run on the sample), for jobs that must last long enough to watch,
cancel or interrupt; its one parameter is ``window`` (2..400)."""
