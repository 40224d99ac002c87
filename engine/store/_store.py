"""``Store``: anvil's market data — bars by symbol and timeframe in one DuckDB file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from engine.bars import Bars
from engine.store import _export, _importer, _query, _resample, _universes
from engine.store._clean import clean
from engine.store._db import Database, claim, open_database, release, unclaim
from engine.store._errors import StoreError, TimeframeError
from engine.store._paths import resolve_path
from engine.store._query import SeriesInfo, TimeLike
from engine.store._read import read_source
from engine.store._report import ImportReport
from engine.store._sample import SAMPLE_TIMEFRAME, sample_paths
from engine.store._schema import check_schema, create_schema, has_schema
from engine.store._timeframe import Timeframe, parse_timeframe
from engine.store._universes import UniverseInfo

DEFAULT_TIMEFRAME = "1d"
"""What a read without a timeframe uses, when stored (never made by resampling)."""


class Store:
    """Bars by (symbol, timeframe, time) in one DuckDB file, shared with other processes.

    A Store holds nothing open between calls: each read attaches the file read-only
    for as long as it runs, each import attaches it read-write, writes one
    transaction and lets go. So a notebook, several ``anvil`` commands and a running
    sweep can use one file at once (a process that finds it busy waits a little).
    ``database`` is for a process that owns the file for its whole life, such as the
    job service: it stays open until ``close``.

        with Store() as store:                       # ANVIL_DB, or the user's data folder
            store.import_bars("aapl.csv", symbol="AAPL", timeframe="1d")
            bars = store.bars("AAPL", "1d", start="2015-01-01")

    Args:
        path: the DuckDB file; default ``$ANVIL_DB``, else ``anvil.duckdb`` in the
            user's data folder (``$XDG_DATA_HOME/anvil`` or ``~/.local/share/anvil``).
        read_only: open without the right to change anything.
        sample: import the shipped S&P 500 and NASDAQ daily sample when the file is
            created (not when an existing store is opened).

    Raises:
        StoreBusyError: the job service owns the file; the message says how to use it.
        StoreError: the file is kept busy by another process, is not an anvil store,
            or was written by a newer anvil.
    """

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, read_only: bool = False, sample: bool = True
    ) -> None:
        self.path = resolve_path(path)
        self.read_only = read_only
        self._closed = False
        self._held: Database | None = None
        self._prepare(sample)

    def _prepare(self, sample: bool) -> None:
        if self.path.is_file() and self.path.stat().st_size > 0:
            with self._reading() as cur:
                if has_schema(cur):
                    check_schema(cur, self.path)
                    return
        if self.read_only and not self.path.exists():
            raise StoreError(f"the store {self.path} does not exist, so it cannot be opened read-only")
        if self.read_only:
            raise StoreError(f"{self.path} is not an anvil store (it has no market tables)")
        with self._writing() as cur:
            if not has_schema(cur):
                create_schema(cur)
                if sample:
                    self.import_sample()
            check_schema(cur, self.path)

    # -- lifecycle ----------------------------------------------------------
    @property
    def database(self) -> Database:
        """The file held open (read-write unless ``read_only``) until ``close``: for a
        process that owns the store, and for other tables in the same file (jobs).
        Other processes cannot open the file meanwhile."""
        if self._closed:
            raise StoreError(f"the store {self.path} is closed; open a new Store")
        if self._held is None:
            self._held = open_database(self.path, self.read_only)
            self._held._held += 1
        return self._held

    def hold(self, what: str, url: str | None = None) -> Database:
        """Hold the file open until ``close`` and tell other processes who holds it
        (``what``) and where to go instead (``url``), e.g. the job service."""
        db = self.database
        claim(self.path, what, url)
        return db

    def close(self) -> None:
        """Let go of a held database; a closed Store cannot be used. Idempotent."""
        self._closed = True
        db, self._held = self._held, None
        if db is not None:
            unclaim(self.path)
            db._held -= 1
            release(db)

    @contextmanager
    def _reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor for reads, on the held database or the file attached read-only for now."""
        if self._closed:
            raise StoreError(f"the store {self.path} is closed; open a new Store")
        if self._held is not None:
            yield self._held.cursor()
            return
        db = open_database(self.path, read_only=True)
        try:
            yield db.cursor()
        finally:
            release(db)

    @contextmanager
    def _writing(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write transaction, on the held database or the file attached for now."""
        if self._closed:
            raise StoreError(f"the store {self.path} is closed; open a new Store")
        self._writable()
        db = self._held if self._held is not None else open_database(self.path, read_only=False)
        try:
            with db.write() as cur:
                yield cur
        finally:
            if db is not self._held:
                release(db)

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("read-only" if self.read_only else "open")
        return f"<Store {self.path} ({state})>"

    # -- import ---------------------------------------------------------------
    def import_bars(
        self,
        source: Any,
        symbol: str | None = None,
        timeframe: str | Timeframe | None = None,
        *,
        name: str | None = None,
        format: str | None = None,  # noqa: A002
        tz: str | None = None,
        skip_bad: bool = False,
        date_format: str | None = None,
        dayfirst: bool | None = None,
        columns: dict[str, str] | None = None,
    ) -> ImportReport:
        """Import bars, replacing stored bars at the same (symbol, timeframe, time).

        Importing the same data twice changes nothing. Either every good row is stored
        or nothing is: a failed import leaves the store as it was.

        Args:
            source: a CSV or Parquet path; bytes or a binary file object (an upload)
                with ``name``; a pandas DataFrame; a pyarrow Table. Columns are matched
                without regard to case: a time (``ts``, ``date``, ``datetime``,
                ``timestamp``, or ``date`` + ``time``), ``open``, ``high``, ``low``,
                ``close``, optional ``volume``, ``adj close`` and ``symbol``.
            symbol: the symbol of every row; needed unless the source has a symbol column.
            timeframe: ``"1m"``, ``"1h"``, ``"1d"``, ...; by default the usual step
                between bars.
            name: the file name of bytes or a file object: picks the format and names
                the source in reports; never opened.
            format: ``"csv"`` or ``"parquet"`` when the name does not say.
            tz: the time zone of times written without an offset (default UTC).
                Times with an offset or zone are converted to UTC.
            skip_bad: import the good rows and report the bad ones, instead of
                rejecting the source.
            date_format: how text dates are written, as a strptime format
                (``"%d/%m/%Y"``, ``"%d.%m.%Y %H:%M"``); by default the whole column
                decides between day-first and month-first, and a column that reads
                both ways is refused.
            dayfirst: True for ``DD/MM/YYYY``, False for ``MM/DD/YYYY``, when the
                dates themselves cannot tell.
            columns: field -> source column, for names anvil does not know
                (``{"ts": "Time", "close": "Last"}``; ``{"ts": "Date+Time"}`` joins two).

        Returns:
            An ImportReport: rows read, bad and skipped rows, bars added / changed /
            unchanged per series.

        Raises:
            SourceNotFoundError: the path does not exist.
            SourceError: not the format its name says, missing columns, no symbol.
            BadRowsError: bad rows (file, line, reason in ``.report``) and not skip_bad.
        """
        self._writable()
        if tz is not None:
            _check_zone(tz)
        raw = read_source(source, name=name, format=format)
        batch = clean(raw, symbol, tz, skip_bad, date_format=date_format, dayfirst=dayfirst, columns=columns)
        tfs = _importer.timeframes(batch, timeframe)
        with self._writing() as cur:
            return _importer.write(cur, batch, tfs)

    def import_sample(self) -> list[ImportReport]:
        """Import the shipped S&P 500 (SPX) and NASDAQ (IXIC) daily sample."""
        return [self.import_bars(p, timeframe=SAMPLE_TIMEFRAME) for p in sample_paths()]

    def delete(self, symbol: str, timeframe: str | Timeframe | None = None) -> list[SeriesInfo]:
        """Remove a symbol's bars, of one timeframe or all of them.

        Returns:
            What was deleted: one ``SeriesInfo`` (timeframe, first, last, bars) per
            series; empty when nothing was stored.
        """
        self._writable()
        tf = None if timeframe is None else parse_timeframe(timeframe).name
        with self._writing() as cur:
            ids = {t: i for t, i in _query.series_of(cur, symbol).items() if tf in (None, t)}
            gone = [info for info in _query.catalog(cur) if info.symbol == symbol and info.timeframe in ids]
            if not ids:
                return []
            cur.execute(
                "DELETE FROM anvil_market.bar_data WHERE series_id IN (SELECT unnest($ids::INTEGER[]))",
                {"ids": list(ids.values())},
            )
            cur.execute(
                "DELETE FROM anvil_market.series WHERE id IN (SELECT unnest($ids::INTEGER[]))",
                {"ids": list(ids.values())},
            )
            return gone

    def delete_series(self, symbol: str, timeframe: str | Timeframe | None = None) -> list[SeriesInfo]:
        """``delete``, refusing a symbol (or timeframe) that is not stored.

        Raises:
            NoDataError: nothing to delete; the message lists what the store holds.
        """
        gone = self.delete(symbol, timeframe)
        if not gone:
            tf = DEFAULT_TIMEFRAME if timeframe is None else parse_timeframe(timeframe).name
            raise _query.no_data(self.catalog(), symbol, tf, None, None, self.path)
        return gone

    # -- query ----------------------------------------------------------------
    def pick_timeframe(self, symbol: str, timeframe: str | Timeframe | None = None) -> Timeframe:
        """The timeframe a read of ``symbol`` uses: the one given, else ``1d`` if stored.

        Never resamples implicitly: without a timeframe, a symbol stored only at other
        timeframes is refused with the ones it has and how to ask.

        Raises:
            TimeframeError: no timeframe given and no ``1d`` bars stored for ``symbol``.
            NoDataError: nothing stored for ``symbol``.
        """
        if timeframe is not None:
            return parse_timeframe(timeframe)
        with self._reading() as cur:
            stored = _query.series_of(cur, symbol)
            if DEFAULT_TIMEFRAME in stored:
                return parse_timeframe(DEFAULT_TIMEFRAME)
            infos = _query.catalog(cur)
        if not stored:
            raise _query.no_data(infos, symbol, DEFAULT_TIMEFRAME, None, None, self.path)
        mine = sorted((i for i in infos if i.symbol == symbol), key=lambda i: parse_timeframe(i.timeframe))
        have = ", ".join(str(i) for i in mine)
        tf = mine[0].timeframe
        raise TimeframeError(
            f"no timeframe given and {symbol} has no {DEFAULT_TIMEFRAME} bars, only {have}; say which: "
            f"timeframe={tf!r} for the stored bars (CLI --timeframe {tf}), or timeframe='1d' to build daily "
            f"bars from them (--timeframe 1d) — anvil does not resample unless asked"
        )

    def bars(
        self,
        symbol: str,
        timeframe: str | Timeframe | None = None,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        *,
        adjusted: bool = False,
        partial: str = "drop",
    ) -> Bars:
        """A symbol's bars in [start, end] as ``engine.Bars``.

        A timeframe that is not stored is resampled from the coarsest stored one that
        divides it (``1m`` → ``5m``, ``1h``, ``1d``), inside DuckDB. Without a
        timeframe, ``1d`` bars if stored; a symbol with only other timeframes is
        refused, never resampled unasked (see ``pick_timeframe``).

        Args:
            timeframe: ``"1h"``, ``"1d"`` ...; None for the stored ``1d`` bars.
            start, end: inclusive bounds (strings, datetimes, ``pd.Timestamp``, int ns);
                naive times are UTC; a date alone as ``end`` includes that whole day.
            adjusted: scale open, high, low, close by ``adj_close / close`` where the
                source gave an adjusted close.
            partial: for resampled bars, ``"drop"`` a last bucket the stored data does
                not fill yet, or ``"keep"`` it (``resample`` flags it instead).

        Raises:
            NoDataError: nothing stored for that symbol and timeframe, or nothing in
                the range; the message lists what the store holds.
            TimeframeError: no timeframe given and no ``1d`` bars stored.
        """
        if partial not in _resample.PARTIAL:
            raise ValueError(f"partial={partial!r}: use 'drop' or 'keep'")
        with self._reading():  # one attachment for every step below
            return self._bars(symbol, timeframe, start, end, adjusted, partial)

    def _bars(
        self,
        symbol: str,
        timeframe: str | Timeframe | None,
        start: TimeLike | None,
        end: TimeLike | None,
        adjusted: bool,
        partial: str,
    ) -> Bars:
        tf = self.pick_timeframe(symbol, timeframe)
        lo, hi = _bounds(start, end)
        with self._reading() as cur:
            sid = _query.series_of(cur, symbol).get(tf.name)
            table = None if sid is None else _query.read_table(cur, sid, lo, hi, adjusted=adjusted)
        if table is None:
            table = self.resample(symbol, tf, start, end, adjusted=adjusted)
            if partial == "drop" and table.num_rows and not table.column("complete")[-1].as_py():
                table = table.slice(0, table.num_rows - 1)
        if table.num_rows == 0:
            raise _query.no_data(self.catalog(), symbol, tf.name, lo, hi, self.path)
        return _query.to_bars(table, symbol)

    def resample(
        self,
        symbol: str,
        timeframe: str | Timeframe,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        *,
        source: str | Timeframe | None = None,
        adjusted: bool = False,
    ) -> pa.Table:
        """Coarser bars built inside DuckDB, with the last bucket flagged if incomplete.

        Buckets start at multiples of the timeframe from 1970-01-01 00:00 UTC (weeks
        on Mondays); those starting in [start, end] are returned, each built from all
        its stored bars.

        Args:
            source: the stored timeframe to build from; by default the coarsest one
                that divides ``timeframe``.

        Returns:
            An Arrow table: ts, open, high, low, close, volume, bars (source bars in
            the bucket), complete (False for a last bucket whose span the stored
            data does not reach yet).

        Raises:
            NoDataError: no stored timeframe of the symbol divides ``timeframe``.
            TimeframeError: ``source`` is not finer than ``timeframe`` or does not divide it.
        """
        tf = parse_timeframe(timeframe)
        lo, hi = _bounds(start, end)
        with self._reading() as cur:
            ids = _query.series_of(cur, symbol)
            stored = [parse_timeframe(t) for t in ids]
            if source is not None:
                given = parse_timeframe(source)
                if _resample.source_for(tf, [given]) is None:
                    raise TimeframeError(
                        f"cannot build {tf} bars from {given} bars: {tf} must be a multiple of {given}"
                    )
                if given not in stored:
                    raise _query.no_data(_query.catalog(cur), symbol, given.name, lo, hi, self.path)
                src = given
            else:
                found = _resample.source_for(tf, stored)
                if found is None:
                    raise _query.no_data(_query.catalog(cur), symbol, tf.name, lo, hi, self.path)
                src = found
            return _resample.resample(cur, ids[src.name], src, tf, lo, hi, adjusted=adjusted)

    def catalog(self) -> list[SeriesInfo]:
        """Every stored series: symbol, timeframe, first and last bar time (UTC), bar count.

        ``[s.as_dict() for s in store.catalog()]`` is plain JSON-ready data.
        """
        with self._reading() as cur:
            return _query.catalog(cur)

    # -- named universes --------------------------------------------------------
    def save_universe(
        self, name: str, symbols: list[str] | tuple[str, ...], note: str | None = None, *, replace: bool = False
    ) -> UniverseInfo:
        """Save ``symbols`` under ``name``: ``store.save_universe("tech", ["AAPL", "MSFT"])``.

        Every symbol must be stored (at some timeframe); the order is the panel's column
        order. Jobs name it as ``data: {"universe": "tech"}`` or ``--universe tech``.

        Args:
            name: a letter, then letters, digits, ``_``, ``.`` or ``-`` (64 at most).
            symbols: the symbols, each once.
            note: a line saying what the universe is, shown by ``universes()``.
            replace: overwrite a universe saved under ``name`` (refused otherwise).

        Raises:
            UniverseError: a bad name, no symbols, a symbol twice or not stored, or the
                name taken and not ``replace``.
        """
        self._writable()
        _universes.check_name(name)
        if note is not None and not isinstance(note, str):
            raise _universes.UniverseError(f"note must be text, not {type(note).__name__}", "note")
        with self._writing() as cur:
            stored = {info.symbol for info in _query.catalog(cur)}
            names = _universes.check_symbols(symbols, stored)
            _universes.write(cur, name, names, note, replace)
            found = _universes.find(cur, name)
        assert found is not None
        return found

    def universes(self) -> list[UniverseInfo]:
        """Every saved universe, by name (``[u.as_dict() for u in ...]`` is plain JSON data)."""
        with self._reading() as cur:
            return _universes.listed(cur)

    def universe(self, name: str) -> UniverseInfo:
        """The universe saved under ``name``.

        Raises:
            UnknownUniverseError: none is; the message lists the saved ones, with a did-you-mean.
        """
        with self._reading() as cur:
            found = _universes.find(cur, name) if isinstance(name, str) else None
            if found is None:
                raise _universes.unknown(name, _universes.listed(cur), self.path)
            return found

    def delete_universe(self, name: str) -> UniverseInfo:
        """Delete the universe saved under ``name`` (its symbols' bars stay); returns what went.

        Raises:
            UnknownUniverseError: none is saved under ``name``.
        """
        self._writable()
        with self._writing() as cur:
            gone = _universes.remove(cur, name) if isinstance(name, str) else None
            if gone is None:
                raise _universes.unknown(name, _universes.listed(cur), self.path)
            return gone

    # -- export ---------------------------------------------------------------
    def export(
        self,
        symbol: str,
        timeframe: str | Timeframe,
        path: str | os.PathLike[str],
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        *,
        format: str | None = None,  # noqa: A002
    ) -> Path:
        """Write a symbol's stored bars to Parquet or CSV (by extension, or ``format``).

        The file holds symbol, ts (UTC), open, high, low, close, volume, and adj_close
        when the source gave one; importing it again changes nothing.
        """
        tf = parse_timeframe(timeframe)
        lo, hi = _bounds(start, end)
        with self._reading() as cur:
            sid = _query.series_of(cur, symbol).get(tf.name)
            table = None if sid is None else _query.read_table(cur, sid, lo, hi, adj_close=True)
        if table is None or table.num_rows == 0:
            raise _query.no_data(self.catalog(), symbol, tf.name, lo, hi, self.path)
        table = table.sort_by("ts")
        if table.column("adj_close").null_count == table.num_rows:
            table = table.drop_columns(["adj_close"])
        table = table.set_column(0, "ts", table.column("ts").cast(pa.timestamp("ns", tz="UTC")))
        table = table.add_column(0, "symbol", pa.array([symbol] * table.num_rows, type=pa.string()))
        return _export.export(table, path, format=format)

    def _writable(self) -> None:
        if self.read_only or (self._held is not None and self._held.read_only):
            raise StoreError(f"the store {self.path} is open read-only; open it with read_only=False to change it")


def _bounds(start: TimeLike | None, end: TimeLike | None) -> tuple[int | None, int | None]:
    lo = _query.time_bound(start, end=False)
    hi = _query.time_bound(end, end=True)
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"start ({start}) is after end ({end})")
    return lo, hi


def _check_zone(tz: str) -> None:
    try:
        pd.Timestamp("2000-01-01").tz_localize(tz)
    except Exception as exc:  # noqa: BLE001 - pandas raises several kinds here
        raise ValueError(f"tz={tz!r} is not a time zone; use a name such as 'America/New_York' or 'UTC'") from exc
