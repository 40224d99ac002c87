"""``Bars``: one validated, immutable OHLCV series, the input of every backtest."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa

from engine._memory import immutable
from engine.errors import InvalidBarsError

PRICE_FIELDS = ("open", "high", "low", "close")
FIELDS = ("ts", *PRICE_FIELDS, "volume")
_NS_PER_YEAR = 365.25 * 24 * 3600 * 1e9
_TS_NAMES = ("ts", "timestamp", "time", "date", "datetime")


def _first(mask: np.ndarray) -> int:
    """Index of the first True in ``mask``, or -1."""
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else -1


def _as_ns(ts: Any) -> np.ndarray:
    """Timestamps of any common form as int64 nanoseconds since the epoch, UTC."""
    if isinstance(ts, (pa.Array, pa.ChunkedArray)):
        ts = ts.to_pandas()
    if isinstance(ts, np.ndarray) and ts.dtype.kind in "iu":
        return _owned(ts, np.int64)
    try:
        idx = pd.DatetimeIndex(ts)
    except (TypeError, ValueError) as exc:
        raise InvalidBarsError(f"bars.ts cannot be read as times ({exc}); give datetimes or int64 nanoseconds") from exc
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    if idx.hasnans:
        raise InvalidBarsError(f"bars.ts[{_first(np.asarray(idx.isna()))}] is missing (NaT)")
    return _owned(idx.as_unit("ns").asi8, np.int64)


def _owned(values: Any, dtype: type) -> np.ndarray:
    """``values`` as a C-contiguous array of ``dtype`` that nobody else can change:
    shared when its memory is already immutable (Arrow data), copied otherwise."""
    arr = np.asarray(values)
    if arr.dtype == dtype and arr.flags.c_contiguous and immutable(arr):
        return arr
    return np.array(arr, dtype=dtype, order="C", copy=True)


def _as_float(name: str, values: Any, n: int) -> np.ndarray:
    if np.iscomplexobj(values):
        raise InvalidBarsError(f"bars.{name} holds complex numbers; prices and volume are real")
    try:
        arr = _owned(values, np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidBarsError(f"bars.{name} is not numeric: {exc}") from exc
    if arr.ndim != 1:
        raise InvalidBarsError(f"bars.{name} must be one-dimensional, got shape {arr.shape}")
    if len(arr) != n:
        raise InvalidBarsError(
            f"bars.{name} has {len(arr)} values but bars.ts has {n}: every column needs one value per bar"
        )
    return arr


def _when(ts: np.ndarray, i: int) -> str:
    return str(pd.Timestamp(int(ts[i])))


Reason = Callable[[int], str]

MIN_PRICE = 1e-12
MAX_PRICE = 1e12
"""The range a price must lie in. The dearest instruments trade near 1e6 (an index
in points, a share of BRK.A, a rate against a hyperinflated currency) and the
cheapest tokens near 1e-8, so the bounds leave room on both sides; within them one
unit's value can change by at most a factor of 1e24, so equity, notional and fees
(``units * price``) stay finite and keep their precision for any capital below
1e280, where a price of 1e308 overflows the first time equity is marked."""


def broken_rules(cols: dict[str, np.ndarray]) -> Iterator[tuple[str, np.ndarray, Reason]]:
    """The price and volume rules, row by row: ``(column, mask of rows breaking the
    rule, reason for row i)`` in a fixed order. The one source of these rules:
    ``validate`` and the store's import report both read them.

    Args:
        cols: float64 arrays ``open``, ``high``, ``low``, ``close``, ``volume``.
    """
    for name in PRICE_FIELDS:
        a = cols[name]
        yield name, ~np.isfinite(a), lambda i, a=a, name=name: f"{name} is {a[i]}: prices must be finite"
        yield name, a <= 0, lambda i, a=a, name=name: f"{name} is {a[i]}: prices must be positive"
        yield (
            name,
            (a > MAX_PRICE) | ((a > 0) & (a < MIN_PRICE)),
            lambda i, a=a, name=name: (
                f"{name} is {a[i]:g}: prices must lie within [{MIN_PRICE:g}, {MAX_PRICE:g}], so that "
                "equity arithmetic cannot overflow; rescale the series (e.g. quote it in thousands)"
            ),
        )
    o, h, lo, c = (cols[k] for k in PRICE_FIELDS)
    yield "high", h < lo, lambda i: f"high ({h[i]}) is below low ({lo[i]})"
    for name, a in (("open", o), ("close", c)):
        yield (
            name,
            (a > h) | (a < lo),
            lambda i, a=a, name=name: f"{name} ({a[i]}) is outside [low, high] = [{lo[i]}, {h[i]}]",
        )
    v = cols["volume"]
    yield "volume", ~(v >= 0) | ~np.isfinite(v), lambda i: f"volume is {v[i]}: volume must be finite and not negative"


def _time_rules(ts: np.ndarray) -> Iterator[tuple[str, np.ndarray, Reason]]:
    step = np.diff(ts)
    repeats = np.zeros(len(ts), bool)
    repeats[1:] = step == 0
    yield (
        "ts",
        repeats,
        lambda i: f"ts repeats bars.ts[{i - 1}] ({_when(ts, i)}): each bar needs its own time; drop duplicates",
    )
    earlier = np.zeros(len(ts), bool)
    earlier[1:] = step < 0
    yield (
        "ts",
        earlier,
        lambda i: f"ts ({_when(ts, i)}) is earlier than bars.ts[{i - 1}] ({_when(ts, i - 1)}): sort the bars by time",
    )


def validate(ts: np.ndarray, cols: dict[str, np.ndarray]) -> None:
    """Raise InvalidBarsError naming the first bad bar, its field and why, if any.

    Every rule is checked on every bar first, so the bar reported is the earliest
    that breaks any rule (the bar the C core would name); at that bar, the first
    rule in ``broken_rules`` order (then the time rules) is reported.
    """
    if len(ts) == 0:
        raise InvalidBarsError("bars are empty: a backtest needs at least one bar")
    best: tuple[int, str, Reason] | None = None
    for column, mask, reason in (*broken_rules(cols), *_time_rules(ts)):
        i = _first(mask)
        if i >= 0 and (best is None or i < best[0]):
            best = (i, column, reason)
    if best is not None:
        i, column, reason = best
        raise InvalidBarsError(f"bars.{column}[{i}] at {_when(ts, i)}: {reason(i)}")


class Bars:
    """An immutable, validated series of OHLCV bars.

    Times are int64 nanoseconds since the epoch in UTC (timezone-aware input is
    converted; naive input is taken as UTC). Prices are finite and positive,
    ``low <= open, close <= high``, times strictly increasing. Build with
    ``from_pandas``, ``from_arrow`` or ``from_numpy``.
    """

    __slots__ = ("_ts", "_open", "_high", "_low", "_close", "_volume", "symbol")

    def __init__(
        self,
        ts: Any,
        open: Any,  # noqa: A002 - the trader's word
        high: Any,
        low: Any,
        close: Any,
        volume: Any = None,
        symbol: str | None = None,
    ) -> None:
        t = _as_ns(ts)
        n = len(t)
        cols = {
            "open": _as_float("open", open, n),
            "high": _as_float("high", high, n),
            "low": _as_float("low", low, n),
            "close": _as_float("close", close, n),
            "volume": np.zeros(n) if volume is None else _as_float("volume", volume, n),
        }
        validate(t, cols)
        for name, a in (("ts", t), *cols.items()):
            a.flags.writeable = False
            # Keep a view, not the owner: numpy lets an owner be resized in place
            # even when read-only, which a view refuses.
            if a.base is None:
                a = a.view()
            if name == "ts":
                t = a
            else:
                cols[name] = a
        self._ts = t
        self._open, self._high, self._low = cols["open"], cols["high"], cols["low"]
        self._close, self._volume = cols["close"], cols["volume"]
        self.symbol = symbol

    # -- constructors -------------------------------------------------------
    @classmethod
    def from_numpy(
        cls,
        ts: Any,
        open: Any,  # noqa: A002
        high: Any,
        low: Any,
        close: Any,
        volume: Any = None,
        symbol: str | None = None,
    ) -> Bars:
        """Bars from arrays: times (datetime64 or int64 ns) and float prices."""
        return cls(ts, open, high, low, close, volume, symbol)

    @classmethod
    def from_pandas(cls, df: pd.DataFrame, symbol: str | None = None) -> Bars:
        """Bars from a DataFrame with open, high, low, close (volume optional) and
        the time as a ``ts`` column or a DatetimeIndex. Column names are matched
        without regard to case; ``timestamp``, ``date``, ``datetime`` also name the time.
        """
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"Bars.from_pandas takes a pandas DataFrame, not {type(df).__name__}")
        by_lower = {str(c).lower(): c for c in df.columns}
        missing = [f for f in PRICE_FIELDS if f not in by_lower]
        if missing:
            raise InvalidBarsError(
                f"bars need columns {', '.join(missing)}; the frame has {', '.join(map(str, df.columns)) or 'none'}"
            )
        ts_col = next((by_lower[k] for k in _TS_NAMES if k in by_lower), None)
        if ts_col is not None:
            ts = df[ts_col]
        elif isinstance(df.index, pd.DatetimeIndex):
            ts = df.index
        else:
            raise InvalidBarsError(
                "bars need times: a 'ts' column or a DatetimeIndex "
                f"(the frame has columns {', '.join(map(str, df.columns))} and a {type(df.index).__name__})"
            )
        vol = df[by_lower["volume"]].to_numpy() if "volume" in by_lower else None
        if symbol is None and "symbol" in by_lower:
            syms = pd.unique(df[by_lower["symbol"]])
            if len(syms) > 1:
                raise InvalidBarsError(
                    f"the frame holds {len(syms)} symbols ({', '.join(map(str, syms[:5]))}...); "
                    "build one Bars per symbol"
                )
            symbol = str(syms[0]) if len(syms) else None
        return cls(ts, *(df[by_lower[f]].to_numpy() for f in PRICE_FIELDS), vol, symbol)

    @classmethod
    def from_arrow(cls, table: pa.Table, symbol: str | None = None) -> Bars:
        """Bars from an Arrow table with the columns of ``from_pandas``."""
        if not isinstance(table, pa.Table):
            raise TypeError(f"Bars.from_arrow takes a pyarrow Table, not {type(table).__name__}")
        by_lower = {name.lower(): name for name in table.column_names}
        missing = [f for f in ("ts", *PRICE_FIELDS) if f not in by_lower and f != "ts"]
        ts_name = next((by_lower[k] for k in _TS_NAMES if k in by_lower), None)
        if missing or ts_name is None:
            need = missing + ([] if ts_name else ["ts"])
            raise InvalidBarsError(
                f"bars need columns {', '.join(need)}; the table has {', '.join(table.column_names)}"
            )

        def col(name: str) -> np.ndarray:
            return table.column(by_lower[name]).to_numpy()

        ts_arr = table.column(ts_name)
        if pa.types.is_timestamp(ts_arr.type):
            tz = ts_arr.type.tz
            ts_arr = ts_arr.cast(pa.timestamp("ns", tz=tz))
            ts: Any = ts_arr.cast(pa.int64()).to_numpy()
        else:
            ts = ts_arr
        vol = col("volume") if "volume" in by_lower else None
        return cls(ts, col("open"), col("high"), col("low"), col("close"), vol, symbol)

    # -- access -------------------------------------------------------------
    @property
    def ts(self) -> np.ndarray:
        """Bar times, int64 nanoseconds since the epoch, UTC (read-only)."""
        return self._ts

    @property
    def open(self) -> np.ndarray:
        return self._open

    @property
    def high(self) -> np.ndarray:
        return self._high

    @property
    def low(self) -> np.ndarray:
        return self._low

    @property
    def close(self) -> np.ndarray:
        return self._close

    @property
    def volume(self) -> np.ndarray:
        return self._volume

    @property
    def index(self) -> pd.DatetimeIndex:
        """Bar times as a UTC DatetimeIndex named ``ts``."""
        return pd.DatetimeIndex(self._ts.view("datetime64[ns]"), name="ts").tz_localize("UTC")

    @property
    def prices(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(open, high, low, close), the arrays the core reads."""
        return self._open, self._high, self._low, self._close

    def __len__(self) -> int:
        return len(self._ts)

    def __getitem__(self, key: slice) -> Bars:
        """A contiguous slice of the bars (``bars[100:200]``), validated by construction."""
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("Bars can be sliced by position with a step of 1, e.g. bars[100:200]")
        return Bars(
            self._ts[key],
            self._open[key],
            self._high[key],
            self._low[key],
            self._close[key],
            self._volume[key],
            self.symbol,
        )

    def periods_per_year(self) -> float:
        """Bars the data holds per year of its span (about 252 for weekday daily bars).

        Falls back to 252 when the span is empty (a single bar).
        """
        n = len(self._ts)
        span = float(self._ts[-1] - self._ts[0]) if n > 1 else 0.0
        if span <= 0:
            return 252.0
        return (n - 1) / (span / _NS_PER_YEAR)

    def to_pandas(self) -> pd.DataFrame:
        """The bars as a DataFrame indexed by UTC time."""
        return pd.DataFrame(
            {
                "open": self._open,
                "high": self._high,
                "low": self._low,
                "close": self._close,
                "volume": self._volume,
            },
            index=self.index,
        )

    def __repr__(self) -> str:
        name = f" {self.symbol}" if self.symbol else ""
        n = len(self)
        span = f"{_when(self._ts, 0)} .. {_when(self._ts, n - 1)}"
        return f"<Bars{name}: {n} bars, {span}>"
