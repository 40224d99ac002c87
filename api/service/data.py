"""Market data through the service: the store's catalog, uploads imported into it, and
the bars jobs read, kept in memory between uploads."""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from pathlib import PurePosixPath
from typing import Any

from api.specs import DataSpec, SpecError, UniverseSpec
from engine import Bars
from engine.store import ImportReport, SourceError, Store, TimeframeError, parse_columns

CACHED_SERIES = 32  # bar series kept in memory (the most recently used)


class DataRejected(ValueError):
    """An upload the store refuses (wrong format, missing columns, bad rows ...)."""

    def __init__(self, message: str, report: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.report = report


def service_url(host: str, port: int) -> str:
    """The address a client on this machine reaches the service at."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://{host if ':' not in host else f'[{host}]'}:{port}"


class DataService:
    """Reads the store's catalog; imports uploaded CSV or Parquet files into it.

    The service owns the store file while it runs (job records are written to it all
    the time): other processes are told so, and where to go instead (``url``).
    """

    def __init__(self, store: Store, url: str | None = None) -> None:
        self.store = store
        store.hold("the anvil service", url)
        self._bars: OrderedDict[tuple[Any, ...], Bars] = OrderedDict()
        self._lock = threading.Lock()

    def bars(self, data: DataSpec | UniverseSpec) -> Any:
        """The bars ``data`` asks for, read once and then kept until the next upload.

        The service is the store file's only writer (DuckDB locks it), and every
        change to its bars comes through ``upload``, which forgets them all.
        """
        if isinstance(data, UniverseSpec):  # a universe's panel is read per job
            return data.load(self.store)
        key = (data.symbol, data.timeframe, data.start, data.end)
        with self._lock:
            found = self._bars.get(key)
            if found is not None:
                self._bars.move_to_end(key)
                return found
        bars = data.load(self.store)
        with self._lock:
            self._bars[key] = bars
            while len(self._bars) > CACHED_SERIES:
                self._bars.popitem(last=False)
        return bars

    def catalog(self) -> list[dict[str, Any]]:
        """Every stored series: symbol, timeframe, first and last bar (UTC), bar count."""
        return [s.as_dict() for s in self.store.catalog()]

    def upload(
        self,
        content: bytes,
        *,
        name: str | None = None,
        symbol: str | None = None,
        timeframe: str | None = None,
        format: str | None = None,  # noqa: A002
        tz: str | None = None,
        skip_bad: bool = False,
        date_format: str | None = None,
        dayfirst: bool | None = None,
        columns: str | dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Import an uploaded file with the same checks as ``Store.import_bars``.

        The file name only picks the format and labels the report; it is never
        used as a path.

        Returns:
            The import report as plain data.

        Raises:
            DataRejected: the store refused the file; ``report`` holds the bad rows.
        """
        if not content:
            raise DataRejected("the upload is empty; send the file's bytes as the request body")
        label = safe_name(name)
        try:
            mapping = parse_columns(columns) if isinstance(columns, str) else columns
            report = self.store.import_bars(
                content,
                symbol=symbol,
                timeframe=timeframe,
                name=label,
                format=format,
                tz=tz,
                skip_bad=skip_bad,
                date_format=date_format,
                dayfirst=dayfirst,
                columns=mapping,
            )
        except SourceError as exc:
            bad = getattr(exc, "report", None)
            raise DataRejected(str(exc), report_dict(bad) if bad is not None else None) from None
        except (TimeframeError, ValueError) as exc:
            raise DataRejected(str(exc)) from None
        finally:
            with self._lock:
                self._bars.clear()
        return report_dict(report)

    def delete(self, symbol: str, timeframe: str | None = None) -> list[dict[str, Any]]:
        """Delete a symbol's bars (one timeframe, or all); returns what was deleted.

        Raises:
            NoDataError: nothing stored for it (the message lists what is).
            TimeframeError: a timeframe that cannot be read.
        """
        try:
            return [s.as_dict() for s in self.store.delete_series(symbol, timeframe)]
        finally:
            with self._lock:
                self._bars.clear()

    # -- named universes ---------------------------------------------------------------
    def universes(self) -> list[dict[str, Any]]:
        """Every saved universe: name, symbols, note, save time (UTC)."""
        return [u.as_dict() for u in self.store.universes()]

    def universe(self, name: str) -> dict[str, Any]:
        """The universe saved under ``name``.

        Raises:
            UnknownUniverseError: none is (the message lists the saved ones, with a did-you-mean).
        """
        return self.store.universe(name).as_dict()

    def save_universe(self, name: str, symbols: list[str], note: str | None, replace: bool) -> dict[str, Any]:
        """Save ``symbols`` under ``name`` (``Store.save_universe``).

        Raises:
            UniverseError: a bad name, no symbols, a symbol twice or not stored, a taken name.
        """
        return self.store.save_universe(name, symbols, note, replace=replace).as_dict()

    def delete_universe(self, name: str) -> dict[str, Any]:
        """Delete the universe saved under ``name``; returns it.

        Raises:
            UnknownUniverseError: none is saved under ``name``.
        """
        return self.store.delete_universe(name).as_dict()


def check_universe_names(spec: Any, store: Store) -> None:
    """Refuse a universe entry that gives both a saved universe's name and symbols
    that are not its symbols (a stored job's spec holds both, and they agree).

    Raises:
        SpecError: at ``data.symbols`` (or ``data.universe`` for an unknown name).
    """
    from engine.store import UnknownUniverseError

    d = spec.data
    if not isinstance(d, UniverseSpec) or d.universe is None or d.symbols is None:
        return
    try:
        saved = list(store.universe(d.universe).symbols)
    except UnknownUniverseError as exc:
        raise SpecError(("data", "universe"), str(exc)) from None
    if saved != list(d.symbols):
        raise SpecError(
            ("data", "symbols"),
            f"the universe {d.universe!r} holds {', '.join(saved)}, not the symbols given; "
            "give the universe's name or the symbols, not both",
        )


def safe_name(name: str | None) -> str:
    """The last part of an uploaded file name, without any folders (a label only)."""
    if not name:
        return "upload"
    last = PurePosixPath(name.replace("\\", "/")).name.strip()
    cleaned = "".join(ch for ch in last if ch.isprintable())[:200]
    return cleaned if cleaned not in ("", ".", "..") else "upload"


def report_dict(report: ImportReport) -> dict[str, Any]:
    """An ImportReport as plain data, with its added / changed / unchanged totals."""
    out = dataclasses.asdict(report)
    out.update(added=report.added, changed=report.changed, unchanged=report.unchanged)
    return out
