"""What the data routes return."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field


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


class UniversePublic(BaseModel):
    """A saved universe: a name for a list of stored symbols (jobs: ``data: {"universe": name}``)."""

    name: str
    symbols: list[str]
    note: str | None = None
    saved: str = Field(description="when it was saved, ISO 8601 UTC")


class UniversesPublic(BaseModel):
    data: list[UniversePublic]
    count: int


class UniverseSave(BaseModel):
    """The symbols to save under a name (each stored, each once), and an optional note."""

    model_config = ConfigDict(extra="forbid")

    symbols: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(min_length=1, max_length=5000)
    note: str | None = Field(default=None, max_length=500)
