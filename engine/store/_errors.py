"""The store's exceptions, under ``engine.errors.EngineError``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.errors import EngineError

if TYPE_CHECKING:
    from engine.store._report import ImportReport


class StoreError(EngineError):
    """Base class of the store's errors; raised itself when the database cannot be used."""


class StoreBusyError(StoreError):
    """The store file is owned by another process (the job service) for as long as it runs.

    Attributes:
        url: where that process can be reached instead (``--url``), or None.
    """

    def __init__(self, message: str, url: object = None) -> None:
        super().__init__(message)
        self.url = None if url is None else str(url)


class SourceError(StoreError, ValueError):
    """A file, frame or table that cannot be imported as a whole: wrong format, missing
    columns, unreadable. Names the source and the column."""


class SourceNotFoundError(StoreError, FileNotFoundError):
    """An import from a path that does not exist."""


class BadRowsError(SourceError):
    """Rows that break the rules of ``engine.Bars``; nothing was imported.

    Attributes:
        report: the ``ImportReport`` whose ``problems`` name the first bad rows
            (source, line or row, column, reason) and whose ``rows_bad`` counts them all.
    """

    def __init__(self, message: str, report: ImportReport) -> None:
        super().__init__(message)
        self.report = report


class NoDataError(StoreError, LookupError):
    """No bars for that symbol, timeframe or range; the message lists what the store holds."""


class TimeframeError(StoreError, ValueError):
    """A timeframe that cannot be read (``1m``, ``5m``, ``1h``, ``1d``, ``1w`` are)."""
