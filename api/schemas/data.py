"""What the data routes return."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class SeriesPublic(BaseModel):
    """One stored series."""

    symbol: str
    timeframe: str
    first: str = Field(description="first bar time, ISO 8601 UTC")
    last: str = Field(description="last bar time, ISO 8601 UTC")
    bars: int


class CatalogPublic(BaseModel):
    data: list[SeriesPublic]
    count: int


class SeriesChangePublic(BaseModel):
    symbol: str
    timeframe: str
    added: int
    changed: int
    unchanged: int


class ImportPublic(BaseModel):
    """What an upload did: rows read, bad rows and why, bars added / changed per series."""

    source: str
    rows_read: int
    rows_bad: int
    rows_skipped: int
    duplicates: int
    rows_empty: int = Field(default=0, description="rows with a time and no prices (null), left out")
    problems: list[dict[str, Any]]
    series: list[SeriesChangePublic]
    ignored_columns: list[str]
    added: int
    changed: int
    unchanged: int
