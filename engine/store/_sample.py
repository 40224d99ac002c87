"""The real sample shipped inside the package (S&P 500 and NASDAQ daily, 1999..2018)."""

from __future__ import annotations

from pathlib import Path

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample"
SAMPLE_FILES = ("sp500_daily.parquet", "nasdaq_daily.parquet")
SAMPLE_TIMEFRAME = "1d"


def sample_paths() -> list[Path]:
    """The sample files, in import order."""
    return [SAMPLE_DIR / name for name in SAMPLE_FILES]
