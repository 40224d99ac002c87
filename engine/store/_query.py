"""Reading bars: one series (or a range of it) from DuckDB through Arrow into numpy,
the catalog of what is stored, and errors that say what exists."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, TypeAlias

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from engine import _bindings
from engine._memory import immutable
from engine.bars import MAX_PRICE, MIN_PRICE, Bars
from engine.errors import did_you_mean
from engine.store._errors import NoDataError

TimeLike: TypeAlias = "str | dt.date | dt.datetime | pd.Timestamp | np.datetime64 | int"
_DATE_ONLY = re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s*$")
_DAY_NS = 86400 * 10**9
_LISTED = 20


@dataclass(frozen=True)
class SeriesInfo:
    """One stored series: symbol, timeframe, first and last bar time (UTC), bar count."""

    symbol: str
    timeframe: str
    first: dt.datetime
    last: dt.datetime
    bars: int

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (times as ISO 8601 strings in UTC)."""
        return {
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "first": self.first.isoformat(),
            "last": self.last.isoformat(),
            "bars": self.bars,
        }

    def __str__(self) -> str:
        return f"{self.symbol} {self.timeframe} ({_day(self.first)} .. {_day(self.last)}, {self.bars} bars)"


def _day(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%d") if (t.hour, t.minute, t.second) == (0, 0, 0) else t.strftime("%Y-%m-%d %H:%M")


def time_bound(value: TimeLike | None, *, end: bool) -> int | None:
    """A range bound as int64 ns UTC; both bounds are inclusive, and a date alone as
    ``end`` (``"2020-12-31"`` or a ``datetime.date``) includes that whole day.

    Raises:
        ValueError: a value that is not a time.
    """
    if value is None:
        return None
    whole_day = end and (
        (isinstance(value, dt.date) and not isinstance(value, dt.datetime))
        or (isinstance(value, str) and bool(_DATE_ONLY.match(value)))
    )
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{value!r} is not a time; give e.g. '2020-01-31' or a datetime") from exc
    if ts is pd.NaT:
        raise ValueError(f"{value!r} is not a time; give e.g. '2020-01-31' or a datetime")
    ts = ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")
    ns = int(ts.as_unit("ns").value)
    return ns + _DAY_NS - 1 if whole_day else ns


def series_of(cur: duckdb.DuckDBPyConnection, symbol: str) -> dict[str, int]:
    """timeframe -> series id, for every stored series of ``symbol``."""
    rows = cur.execute("SELECT timeframe, id FROM anvil_market.series WHERE symbol = $s", {"s": symbol}).fetchall()
    return {str(t): int(i) for t, i in rows}


def _range_sql(lo: int | None, hi: int | None) -> str:
    return (" AND ts >= make_timestamp_ns($lo)" if lo is not None else "") + (
        " AND ts <= make_timestamp_ns($hi)" if hi is not None else ""
    )


def read_table(
    cur: duckdb.DuckDBPyConnection,
    sid: int,
    lo: int | None,
    hi: int | None,
    *,
    adjusted: bool = False,
    adj_close: bool = False,
) -> pa.Table:
    """One series' bars in [lo, hi] as an Arrow table (``ts`` is ``timestamp[ns]``), in
    stored order, which the importer keeps in time order."""
    f = " * coalesce(adj_close / close, 1.0)" if adjusted else ""
    extra = ", adj_close" if adj_close else ""
    sql = (
        f"SELECT ts, open{f} AS open, high{f} AS high, low{f} AS low, close{f} AS close, volume{extra} "
        f"FROM anvil_market.bar_data WHERE series_id = $id{_range_sql(lo, hi)}"
    )
    params: dict[str, Any] = {"id": sid}
    if lo is not None:
        params["lo"] = lo
    if hi is not None:
        params["hi"] = hi
    return cur.sql(sql, params=params).to_arrow_table()


def column(table: pa.Table, name: str) -> np.ndarray:
    """A column as numpy, without a copy when it arrived in one chunk."""
    col = table.column(name)
    arr = col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
    out = arr.to_numpy(zero_copy_only=False)
    return out.view(np.int64) if out.dtype.kind == "M" else out


def to_bars(table: pa.Table, symbol: str) -> Bars:
    """Bars from a table of ``read_table``, sorted by time if it is not already."""
    ts = column(table, "ts")
    o, h, lo, c, v = (column(table, k) for k in ("open", "high", "low", "close", "volume"))
    if len(ts) > 1 and not bool(np.all(ts[1:] > ts[:-1])):  # only after a direct SQL write
        order = np.argsort(ts, kind="stable")
        ts, o, h, lo, c, v = (a[order] for a in (ts, o, h, lo, c, v))
    return stored_bars(ts, o, h, lo, c, v, symbol)


def stored_bars(
    ts: np.ndarray, o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, v: np.ndarray, symbol: str
) -> Bars:
    """``Bars`` over arrays read from the store, checked in a few passes instead of
    ``Bars``' rule-by-rule scan: every rule of ``engine.bars.validate`` holds when
    times strictly increase, the core's one-pass bar check passes
    (``0 < low <= open, close <= high < inf``), prices lie in ``[MIN_PRICE,
    MAX_PRICE]`` and volume is finite and not negative (a NaN anywhere fails a
    min/max test). The importer wrote valid bars, but a file can be written by
    plain SQL, or an adjusted close can scale prices out of range: then
    ``Bars(...)`` runs the full check and names the first bad bar."""
    if not _holds_rules(ts, o, h, lo, c, v):
        return Bars(ts, o, h, lo, c, v, symbol=symbol)  # raises, naming the bar
    bars = Bars.__new__(Bars)
    for name, a in (("_ts", ts), ("_open", o), ("_high", h), ("_low", lo), ("_close", c), ("_volume", v)):
        a = np.ascontiguousarray(a)
        if not immutable(a):
            a = a.copy()
        a.flags.writeable = False
        setattr(bars, name, a.view())  # a view: an owner could be resized in place
    bars.symbol = symbol
    return bars


def _holds_rules(ts: np.ndarray, o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, v: np.ndarray) -> bool:
    n = len(ts)
    if (
        n == 0
        or ts.dtype != np.int64
        or any(a.dtype != np.float64 or a.shape != (n,) or not a.flags.c_contiguous for a in (o, h, lo, c, v))
    ):
        return False
    if n > 1 and not bool(np.all(ts[1:] > ts[:-1])):
        return False
    if _bindings.check_bars(o, h, lo, c) >= 0:
        return False
    # NaN makes every comparison below False (np.min/np.max propagate it).
    return bool(lo.min() >= MIN_PRICE and h.max() <= MAX_PRICE and v.min() >= 0.0 and v.max() < np.inf)


def catalog(cur: duckdb.DuckDBPyConnection) -> list[SeriesInfo]:
    """Every stored series with its first and last bar time and its bar count."""
    rows = cur.execute(
        """
        SELECT s.symbol, s.timeframe, epoch_ns(min(b.ts)), epoch_ns(max(b.ts)), count(*)
        FROM anvil_market.series s JOIN anvil_market.bar_data b ON b.series_id = s.id
        GROUP BY s.symbol, s.timeframe ORDER BY s.symbol, s.timeframe
        """
    ).fetchall()
    return [SeriesInfo(sym, tf, _utc(first), _utc(last), int(n)) for sym, tf, first, last, n in rows]


def _utc(ns: int) -> dt.datetime:
    return pd.Timestamp(int(ns), tz="UTC").to_pydatetime(warn=False)


def no_data(
    infos: list[SeriesInfo], symbol: str, timeframe: str, lo: int | None, hi: int | None, where: object
) -> NoDataError:
    """The error for a query that found nothing, listing what the store holds."""
    if not infos:
        return NoDataError(
            f"the store {where} holds no bars; import some with "
            "store.import_bars('prices.csv', symbol='AAPL', timeframe='1d')"
        )
    mine = [i for i in infos if i.symbol == symbol]
    if not mine:
        symbols = sorted({i.symbol for i in infos})
        same_letters = [s for s in symbols if s.lower() == str(symbol).lower()]  # 'spx' for 'SPX'
        hint = did_you_mean(symbol, same_letters or symbols, cutoff=0.0 if same_letters else 0.6)
        listed = ", ".join(map(str, infos[:_LISTED]))
        if len(infos) > _LISTED:
            listed += f", and {len(infos) - _LISTED} more"
        return NoDataError(f"no bars for symbol {symbol!r}{hint}. The store holds: {listed}")
    same = [i for i in mine if i.timeframe == timeframe]
    if not same:
        have = ", ".join(str(i) for i in mine)
        return NoDataError(f"no {timeframe} bars for {symbol}, and none finer to resample from; {symbol} has: {have}")
    info = same[0]
    asked = " ".join(f"{word} {pd.Timestamp(v, tz='UTC')}" for word, v in (("from", lo), ("to", hi)) if v is not None)
    return NoDataError(
        f"{symbol} {timeframe} has no bars {asked}; it spans {_day(info.first)} .. {_day(info.last)} ({info.bars} bars)"
    )
