"""``Panel``: many symbols on the union of their bar times, the input of a portfolio.

    panel = engine.Panel.from_long(df)                 # columns symbol, ts, open, high, low, close[, volume]
    panel = engine.Panel.from_frames({"AAPL": df_a, "MSFT": bars_m})
    panel = engine.load_panel(["AAPL", "MSFT"], "1d", adjusted=True)
    panel["2010":"2012"], panel.select(["AAPL", "MSFT"])  # views, no copies

Prices are ``[n_bars, n_symbols]`` float64, read-only. ``tradable[t, j]`` is False
where symbol j has no bar at time t (before its first bar, after its last, in a
gap), and its prices there are NaN: a price is never carried into a bar that did
not trade.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from engine.bars import PRICE_FIELDS, Bars, _as_ns, _time_rules, _when, broken_rules
from engine.errors import InvalidBarsError, did_you_mean

FIELDS = (*PRICE_FIELDS, "volume")


class InvalidPanelError(InvalidBarsError):
    """A panel that cannot be backtested; the message names the symbol, field and bar."""


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a if a.base is not None else a.view()


def _first_cell(mask: np.ndarray) -> tuple[int, int] | None:
    """(bar, symbol) of the first True in row-major order (earliest bar first)."""
    flat = np.flatnonzero(mask)
    if not flat.size:
        return None
    t, j = divmod(int(flat[0]), mask.shape[1])
    return t, j


class Panel:
    """N symbols aligned on the union of their bar times; immutable and validated.

    Attributes (read-only arrays, ``[n_bars, n_symbols]`` unless said):
        ts: bar times, int64 ns UTC, ``[n_bars]``, strictly increasing.
        symbols: the symbols, a tuple of str.
        open, high, low, close, volume: float64; NaN where not tradable.
        tradable: bool, True where the symbol has a bar.

    Rows are C order; a panel cut from another by ``select`` may view its parent's
    rows with a stride (no copy), which the core reads as is.
    """

    __slots__ = ("_ts", "_symbols", "_cols", "_tradable", "_bounds")

    def __init__(
        self,
        ts: Any,
        symbols: Iterable[str],
        open: Any,  # noqa: A002 - the trader's word
        high: Any,
        low: Any,
        close: Any,
        volume: Any = None,
        tradable: Any = None,
    ) -> None:
        t = _as_ns(ts)
        syms = tuple(str(s) for s in symbols)
        n, m = len(t), len(syms)
        if len(set(syms)) != m:
            dup = next(s for s in syms if syms.count(s) > 1)
            raise InvalidPanelError(f"panel.symbols lists {dup!r} twice; each symbol needs one column")
        cols = {
            name: self._matrix(name, v, n, m)
            for name, v in (("open", open), ("high", high), ("low", low), ("close", close))
        }
        if tradable is None:
            nan = np.isnan(cols["open"]) & np.isnan(cols["high"]) & np.isnan(cols["low"]) & np.isnan(cols["close"])
            trad = ~nan
        else:
            trad = np.asarray(tradable)
            if trad.dtype != np.bool_ or trad.shape != (n, m):
                raise InvalidPanelError(
                    f"panel.tradable must be a bool array of shape {(n, m)}, got {trad.dtype} {trad.shape}"
                )
            trad = np.array(trad, dtype=bool, order="C")
        vol = np.where(trad, 0.0, np.nan) if volume is None else self._matrix("volume", volume, n, m)
        cols["volume"] = vol
        _validate(t, syms, cols, trad)
        for a in cols.values():
            a[~trad] = np.nan
        self._ts = _frozen(t)
        self._symbols = syms
        self._cols = {k: _frozen(a) for k, a in cols.items()}
        self._tradable = _frozen(trad)
        self._bounds: tuple[np.ndarray, np.ndarray] | None = None

    @staticmethod
    def _matrix(name: str, values: Any, n: int, m: int) -> np.ndarray:
        if np.iscomplexobj(values):
            raise InvalidPanelError(f"panel.{name} holds complex numbers; prices and volume are real")
        try:
            a = np.array(values, dtype=np.float64, order="C", copy=True)
        except (TypeError, ValueError) as exc:
            raise InvalidPanelError(f"panel.{name} is not numeric: {exc}") from exc
        if a.shape != (n, m):
            raise InvalidPanelError(
                f"panel.{name} has shape {a.shape}; it needs one row per bar time and one column per symbol, {(n, m)}"
            )
        return a

    @classmethod
    def _view(
        cls, ts: np.ndarray, symbols: tuple[str, ...], cols: dict[str, np.ndarray], tradable: np.ndarray
    ) -> Panel:
        """A panel over arrays already validated (slices of another panel)."""
        p = object.__new__(cls)
        p._ts, p._symbols, p._cols, p._tradable, p._bounds = ts, symbols, cols, tradable, None
        return p

    # -- constructors -------------------------------------------------------
    @classmethod
    def from_long(cls, df: pd.DataFrame) -> Panel:
        """A panel from a long frame: one row per (symbol, ts) with open, high, low,
        close (volume optional); ``ts`` a column or a DatetimeIndex."""
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"Panel.from_long takes a pandas DataFrame, not {type(df).__name__}")
        by_lower = {str(c).lower(): c for c in df.columns}
        if "ts" not in by_lower and isinstance(df.index, pd.DatetimeIndex):
            df = df.reset_index(names="ts")
            by_lower["ts"] = "ts"
        missing = [f for f in ("symbol", "ts", *PRICE_FIELDS) if f not in by_lower]
        if missing:
            raise InvalidPanelError(
                f"a long frame needs columns {', '.join(missing)}; it has {', '.join(map(str, df.columns))}"
            )
        ts = _as_ns(df[by_lower["ts"]])
        codes, symbols = pd.factorize(df[by_lower["symbol"]].astype(str), sort=True)
        times, rows = np.unique(ts, return_inverse=True)
        key = rows.astype(np.int64) * len(symbols) + codes
        if len(np.unique(key)) != len(key):
            order = np.argsort(key, kind="stable")
            k = key[order]
            i = int(order[np.flatnonzero(k[1:] == k[:-1])[0] + 1])
            raise InvalidPanelError(
                f"the long frame has two rows for {symbols[codes[i]]} at {_when(ts, i)} (row {i}); "
                "keep one row per symbol and time"
            )
        shape = (len(times), len(symbols))
        cols = {}
        for f in FIELDS:
            a = np.full(shape, np.nan)
            if f in by_lower:
                a[rows, codes] = pd.to_numeric(df[by_lower[f]], errors="coerce").to_numpy(np.float64)
            elif f == "volume":
                a[rows, codes] = 0.0
            cols[f] = a
        trad = np.zeros(shape, bool)
        trad[rows, codes] = True
        return cls(times, list(symbols), cols["open"], cols["high"], cols["low"], cols["close"], cols["volume"], trad)

    @classmethod
    def from_frames(cls, frames: Mapping[str, pd.DataFrame | Bars]) -> Panel:
        """A panel from ``{symbol: DataFrame or Bars}``; each is validated as Bars first."""
        if not isinstance(frames, Mapping) or not frames:
            raise InvalidPanelError("Panel.from_frames takes a non-empty {symbol: DataFrame or Bars} mapping")
        series: dict[str, Bars] = {}
        for sym, v in frames.items():
            try:
                series[str(sym)] = v if isinstance(v, Bars) else Bars.from_pandas(v, symbol=str(sym))
            except InvalidBarsError as exc:
                raise InvalidPanelError(f"symbol {sym!r}: {exc}") from None
        times = np.unique(np.concatenate([b.ts for b in series.values()]))
        shape = (len(times), len(series))
        cols = {f: np.full(shape, np.nan) for f in FIELDS}
        trad = np.zeros(shape, bool)
        for j, b in enumerate(series.values()):
            rows = np.searchsorted(times, b.ts)
            for f in FIELDS:
                cols[f][rows, j] = getattr(b, f)
            trad[rows, j] = True
        return cls(times, list(series), cols["open"], cols["high"], cols["low"], cols["close"], cols["volume"], trad)

    # -- access -------------------------------------------------------------
    @property
    def ts(self) -> np.ndarray:
        return self._ts

    @property
    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    @property
    def open(self) -> np.ndarray:
        return self._cols["open"]

    @property
    def high(self) -> np.ndarray:
        return self._cols["high"]

    @property
    def low(self) -> np.ndarray:
        return self._cols["low"]

    @property
    def close(self) -> np.ndarray:
        return self._cols["close"]

    @property
    def volume(self) -> np.ndarray:
        return self._cols["volume"]

    @property
    def tradable(self) -> np.ndarray:
        return self._tradable

    @property
    def shape(self) -> tuple[int, int]:
        """(n_bars, n_symbols)."""
        return len(self._ts), len(self._symbols)

    @property
    def index(self) -> pd.DatetimeIndex:
        """Bar times as a UTC DatetimeIndex named ``ts``."""
        return pd.DatetimeIndex(self._ts.view("datetime64[ns]"), name="ts").tz_localize("UTC")

    def __len__(self) -> int:
        return len(self._ts)

    def first_bars(self) -> np.ndarray:
        """Per symbol, the first bar it trades (n_bars when it never does)."""
        return self._first_last()[0]

    def last_bars(self) -> np.ndarray:
        """Per symbol, the last bar it trades (-1 when it never does)."""
        return self._first_last()[1]

    def _first_last(self) -> tuple[np.ndarray, np.ndarray]:
        if self._bounds is None:
            tr = self._tradable
            n = len(tr)
            any_ = tr.any(axis=0)
            first = np.where(any_, tr.argmax(axis=0), n).astype(np.int64)
            last = np.where(any_, n - 1 - tr[::-1].argmax(axis=0), -1).astype(np.int64)
            self._bounds = (first, last)
        return self._bounds

    def column(self, symbol: str) -> int:
        """The column of ``symbol``; an unknown one raises with a "did you mean"."""
        try:
            return self._symbols.index(symbol)
        except ValueError:
            hint = did_you_mean(symbol, self._symbols, cutoff=0.5)
            raise InvalidPanelError(
                f"the panel has no symbol {symbol!r}{hint}; "
                f"it holds {', '.join(self._symbols[:10])}"
                f"{' ...' if len(self._symbols) > 10 else ''}"
            ) from None

    # -- slicing (views) ----------------------------------------------------
    def __getitem__(self, key: slice) -> Panel:
        """Bars in a time range, as a view: by position (``panel[10:200]``) or by
        time (``panel["2010":"2012-06-30"]``, both ends inclusive)."""
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("a Panel is sliced by a range of bars, panel[10:200] or panel['2010':'2012']")
        if isinstance(key.start, (int, np.integer, type(None))) and isinstance(key.stop, (int, np.integer, type(None))):
            rows = key
        else:
            lo = 0 if key.start is None else int(np.searchsorted(self._ts, _bound(key.start, end=False), "left"))
            hi = (
                len(self._ts)
                if key.stop is None
                else int(np.searchsorted(self._ts, _bound(key.stop, end=True), "right"))
            )
            rows = slice(lo, hi)
        ts = self._ts[rows]
        if len(ts) == 0:
            raise InvalidPanelError(f"panel[{key.start}:{key.stop}] holds no bars")
        return Panel._view(ts, self._symbols, {k: a[rows] for k, a in self._cols.items()}, self._tradable[rows])

    def select(self, symbols: Iterable[str] | slice) -> Panel:
        """A panel of some symbols. A run of neighbouring columns (``select(slice(0, 50))``
        or symbols in column order without holes) is a view; any other choice copies."""
        if isinstance(symbols, slice):
            cols = slice(*symbols.indices(len(self._symbols)))
            idx: Any = cols
            names = self._symbols[cols]
        else:
            names = tuple(str(s) for s in symbols)
            pos = [self.column(s) for s in names]
            if not pos:
                raise InvalidPanelError("select needs at least one symbol")
            if pos == list(range(pos[0], pos[0] + len(pos))):
                idx = slice(pos[0], pos[0] + len(pos))
            else:
                idx = np.array(pos)
        if not names:
            raise InvalidPanelError("select needs at least one symbol")
        cols = {k: (a[:, idx] if isinstance(idx, slice) else _frozen(a[:, idx])) for k, a in self._cols.items()}
        trad = self._tradable[:, idx] if isinstance(idx, slice) else _frozen(self._tradable[:, idx])
        return Panel._view(self._ts, tuple(names), cols, trad)

    # -- conversions ----------------------------------------------------------
    def to_long(self) -> pd.DataFrame:
        """One row per traded (symbol, ts), the input form of ``from_long``."""
        t, j = np.nonzero(self._tradable)
        out = {"symbol": np.array(self._symbols, dtype=object)[j], "ts": self.index[t]}
        out.update({f: self._cols[f][t, j] for f in FIELDS})
        return pd.DataFrame(out).sort_values(["symbol", "ts"], kind="stable").reset_index(drop=True)

    def bars(self, symbol: str) -> Bars:
        """One symbol's bars (its traded rows only)."""
        j = self.column(symbol)
        rows = self._tradable[:, j]
        return Bars(self._ts[rows], *(self._cols[f][rows, j] for f in FIELDS), symbol=symbol)

    def periods_per_year(self) -> float:
        """Bar times per year of the panel's span (252 for a single bar)."""
        n = len(self._ts)
        span = float(self._ts[-1] - self._ts[0]) if n > 1 else 0.0
        if span <= 0:
            return 252.0
        return (n - 1) / (span / (365.25 * 24 * 3600 * 1e9))

    def __repr__(self) -> str:
        n, m = self.shape
        syms = ", ".join(self._symbols[:5]) + (" ..." if m > 5 else "")
        return f"<Panel: {m} symbols ({syms}) x {n} bars, {_when(self._ts, 0)} .. {_when(self._ts, n - 1)}>"


def _bound(value: Any, *, end: bool) -> int:
    from engine.store._query import time_bound

    b = time_bound(value, end=end)
    assert b is not None
    return b


def _validate(ts: np.ndarray, symbols: tuple[str, ...], cols: dict[str, np.ndarray], tradable: np.ndarray) -> None:
    """Raise naming the first bad cell (earliest bar, then column order) and why."""
    if len(ts) == 0 or len(symbols) == 0:
        raise InvalidPanelError(
            f"the panel is empty ({len(ts)} bars, {len(symbols)} symbols): a portfolio needs at least one of each"
        )
    for column, mask, reason in _time_rules(ts):
        hit = np.flatnonzero(mask)
        if hit.size:
            i = int(hit[0])
            raise InvalidPanelError(f"panel.{column}[{i}] at {_when(ts, i)}: {reason(i)}")
    # Every rule of Bars, on the cells that trade (the others hold a valid stand-in).
    filled = {k: np.where(tradable, a, 1.0) for k, a in cols.items()}
    best: tuple[tuple[int, int], str, Any] | None = None
    for column, mask, reason in broken_rules(filled):
        cell = _first_cell(mask)
        if cell is not None and (best is None or cell < best[0]):
            best = (cell, column, reason)
    if best is not None:
        (t, j), column, reason = best
        raise InvalidPanelError(f"panel {symbols[j]}.{column}[{t}] at {_when(ts, t)}: {reason((t, j))}")
    if not tradable.any(axis=0).all():
        j = int(np.flatnonzero(~tradable.any(axis=0))[0])
        raise InvalidPanelError(f"panel symbol {symbols[j]!r} has no bar at all; drop it")


def load_panel(
    symbols: Iterable[str],
    timeframe: str = "1d",
    start: Any = None,
    end: Any = None,
    *,
    adjusted: bool = False,
    store: Any = None,
) -> Panel:
    """A panel of stored series: ``engine.load_panel(["AAPL", "MSFT"], "1d", adjusted=True)``.

    The bars of every symbol are read and pivoted to ``[n_bars, n_symbols]`` in one
    DuckDB query (conditional aggregation grouped by time); a symbol with no bar at
    a time is not tradable there.

    Args:
        symbols: the symbols, in the column order wanted.
        timeframe: a stored timeframe ("1d", "1h", ...).
        start, end: inclusive bounds, as ``Store.bars`` reads them.
        adjusted: scale open, high, low, close by ``adj_close / close`` where stored.
        store: an ``engine.Store``; the default store when None.

    Raises:
        NoDataError: a symbol without that timeframe (the message lists what is stored),
            or nothing in the range.
    """
    from engine.store import _query
    from engine.store._default import default_store
    from engine.store._errors import NoDataError
    from engine.store._timeframe import parse_timeframe

    names = [str(s) for s in ([symbols] if isinstance(symbols, str) else symbols)]
    if not names:
        raise InvalidPanelError("load_panel needs at least one symbol")
    if len(set(names)) != len(names):
        raise InvalidPanelError(f"load_panel got a symbol twice: {names}")
    st = store if store is not None else default_store()
    tf = parse_timeframe(timeframe).name
    lo, hi = _query.time_bound(start, end=False), _query.time_bound(end, end=True)
    cur = st.database.cursor()
    found = dict(
        cur.execute(
            "SELECT symbol, id FROM anvil_market.series WHERE timeframe = $tf AND list_contains($syms, symbol)",
            {"tf": tf, "syms": names},
        ).fetchall()
    )
    for s in names:
        if s not in found:
            raise _query.no_data(st.catalog(), s, tf, lo, hi, st.path)
    f = " * coalesce(adj_close / close, 1.0)" if adjusted else ""
    aggs = ", ".join(f"max({fld}) FILTER (WHERE k = {k}) AS c{k}_{fld}" for k in range(len(names)) for fld in FIELDS)
    sql = (
        "WITH s AS (SELECT id, list_position($syms, symbol) - 1 AS k FROM anvil_market.series "
        "WHERE timeframe = $tf AND list_contains($syms, symbol)), "
        f"b AS (SELECT s.k, d.ts, d.open{f} AS open, d.high{f} AS high, d.low{f} AS low, "
        f"d.close{f} AS close, d.volume FROM anvil_market.bar_data d JOIN s ON s.id = d.series_id "
        f"WHERE true{_query._range_sql(lo, hi)}) "
        f"SELECT ts, {aggs} FROM b GROUP BY ts ORDER BY ts"
    )
    params: dict[str, Any] = {"syms": names, "tf": tf}
    if lo is not None:
        params["lo"] = lo
    if hi is not None:
        params["hi"] = hi
    table = cur.sql(sql, params=params).to_arrow_table()
    if table.num_rows == 0:
        raise NoDataError(f"no bars of {', '.join(names)} ({tf}) between {start} and {end}")
    ts = _query.column(table, "ts")
    cols = {
        fld: np.column_stack([_query.column(table, f"c{k}_{fld}") for k in range(len(names))]).astype(np.float64)
        for fld in FIELDS
    }
    trad = ~np.isnan(cols["close"])
    return Panel(ts, names, cols["open"], cols["high"], cols["low"], cols["close"], cols["volume"], trad)


SAMPLE_PANEL = Path(__file__).resolve().parent / "sample" / "stocks4_daily.parquet"


def sample_panel(adjusted: bool = True) -> Panel:
    """The shipped four-stock sample (AAPL, FB, IBM, MSFT daily, 2000..2013; FB lists
    in 2012) as a panel, offline. ``adjusted`` scales open, high, low, close by
    ``adj_close / close`` (splits and dividends), as trading across a split needs."""
    df = pd.read_parquet(SAMPLE_PANEL)
    if adjusted:
        k = df["adj_close"] / df["close"]
        for f in PRICE_FIELDS:
            df[f] = df[f] * k
    return Panel.from_long(df.drop(columns=["adj_close"]))
