"""Portfolios: many symbols, one cash account, in the C core.

    panel = engine.load_panel(["AAPL", "IBM", "MSFT"], "1d", adjusted=True)
    weights = np.full(panel.shape, np.nan); weights[month_ends] = 1 / 3
    res = engine.backtest_portfolio(panel, weights, engine.Config(fee_rate=0.001))
    res.stats, res.equity, res.trades, res.contributions, res.events
    table = engine.run_portfolio_batch(panel, many_weight_matrices, cfg, threads=0)

A weight is a target fraction of portfolio equity (negative = short, NaN = leave
that symbol alone). A row that holds a value for a symbol is an instruction to
trade it to that weight; decided at the close of t, it fills at ``open[t+1]``
(``fill="next_open"``) or ``close[t]`` (``fill="close"``). At the fill, the
portfolio is valued at the raw fill prices (the last close for symbols not
trading); every reduction executes before any increase, and when the increases
need more cash than there is (cash may go down to ``-(max_leverage - 1)`` x
equity) all of them shrink by one common factor (a ``cash`` event). Sizing per
symbol is the one-series rule: units = (|w| x equity - fixed_fee) / (fill price x
(1 + fee_rate) + fee_per_unit), whole units when ``integer_units``. A row's gross
(sum of |w|) is scaled down to ``max_leverage``; ``max_weight`` caps each |w| first.
A symbol whose data has ended is closed at its last close (exit reason
``delisted``); a symbol with no bar at a fill keeps its position and ignores the
instruction. Stops, take-profits and trailing stops work per position as in one
series. The close marks every position (last close for symbols not trading) and
a short pays ``borrow_rate / periods_per_year`` of its value at each close.
An equity of zero or below there liquidates every position at the marked prices
(exit reason ``margin``, a ``margin`` event) and the portfolio trades no more.
The full order of events within a bar is in csrc/portfolio.c.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from engine import _bindings, notes
from engine._run import _need_config, resolve_threads
from engine.config import Config
from engine.errors import InvalidConfigError, InvalidSignalError
from engine.errors import did_you_mean
from engine.panel import Panel
from engine.records import METRICS, PF_CONFIG_DTYPE, PF_EXTRA_DTYPE, STATS_DTYPE
from engine.reportable import Reportable
from engine.result import stats_dict, trade_columns

PORTFOLIO_METRICS: tuple[str, ...] = (*METRICS, "turnover")
"""Stats of a portfolio: every metric of ``engine.METRICS`` plus ``turnover`` (traded
notional over the run divided by the average equity)."""

_CHUNK_BYTES = 96 << 20  # weight matrices one batch thread holds at once, at most


def _need_panel(panel: Any) -> Panel:
    if not isinstance(panel, Panel):
        raise TypeError(
            f"panel must be engine.Panel, not {type(panel).__name__}; build one with "
            "engine.Panel.from_long(df), engine.Panel.from_frames({...}) or engine.load_panel([...])"
        )
    return panel


def pf_record(cfg: Config, periods_per_year: float) -> np.ndarray:
    """The C record of a portfolio config."""
    rec = np.zeros(1, PF_CONFIG_DTYPE)
    rec[0]["base"] = cfg.to_record(periods_per_year)[0]
    rec[0]["borrow_rate"] = cfg.borrow_rate
    rec[0]["rebalance_threshold"] = cfg.rebalance_threshold
    rec[0]["max_weight"] = cfg.max_weight or 0.0
    rec[0]["max_drawdown_halt"] = cfg.max_drawdown_halt or 0.0
    rec[0]["daily_loss_limit"] = cfg.daily_loss_limit or 0.0
    rec[0]["halt_bars"] = cfg.halt_bars
    rec[0]["cooldown_bars"] = cfg.cooldown_bars
    return rec


def as_weights(panel: Panel, weights: Any, what: str = "weights") -> np.ndarray:
    """``weights`` as the C-contiguous float64 ``[n_bars, n_symbols]`` matrix the core
    reads, checked: the right shape, known symbols, times of the panel, no inf.

    Accepts an array of the panel's shape, a DataFrame (columns: symbols, a subset
    is fine; index: the panel's times, a subset is fine, or positions), or a
    ``{symbol: one value per bar}`` mapping. Missing cells are NaN.

    Raises:
        InvalidSignalError: naming the symbol, the field and the first bad bar.
    """
    n, m = panel.shape
    if isinstance(weights, Mapping):
        weights = (
            pd.DataFrame({str(k): np.asarray(v, dtype=float) for k, v in weights.items()})
            if weights
            else pd.DataFrame(index=range(n))
        )
        if len(weights) != n:
            raise InvalidSignalError(f"{what} hold {len(weights)} values per symbol; the panel has {n} bars")
    if isinstance(weights, pd.DataFrame):
        out = np.full((n, m), np.nan)
        cols = [
            panel.column(str(c)) if str(c) in panel.symbols else _unknown(panel, str(c), what) for c in weights.columns
        ]
        if isinstance(weights.index, pd.DatetimeIndex):
            idx = weights.index
            idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
            ns = idx.as_unit("ns").asi8
            rows = np.searchsorted(panel.ts, ns)
            missing = (rows >= n) | (panel.ts[np.minimum(rows, n - 1)] != ns)
            if missing.any():
                i = int(np.flatnonzero(missing)[0])
                raise InvalidSignalError(
                    f"{what}.index[{i}] ({idx[i]}) is not a bar time of the panel; align the weights to panel.index"
                )
        else:
            if len(weights) != n:
                raise InvalidSignalError(
                    f"{what} have {len(weights)} rows; the panel has {n} bars "
                    "(index the rows by bar time to give only some)"
                )
            rows = np.arange(n)
        values = _floats(weights.to_numpy(), what)
        out[np.ix_(rows, np.asarray(cols, dtype=np.int64))] = values
        arr = out
    else:
        arr = _floats(weights, what)
        if arr.shape != (n, m):
            raise InvalidSignalError(
                f"{what} have shape {arr.shape}; the panel needs {(n, m)} (one row per bar, one column per symbol)"
            )
        arr = np.ascontiguousarray(arr)
    bad = np.isinf(arr)
    if bad.any():
        t, j = divmod(int(np.flatnonzero(bad)[0]), m)
        raise InvalidSignalError(
            f"{what} {panel.symbols[j]}[{t}] at {pd.Timestamp(int(panel.ts[t]))} is {arr[t, j]}: "
            "a weight must be finite (or NaN to leave the symbol alone)"
        )
    return arr


def _floats(values: Any, what: str) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidSignalError(f"{what} are not numbers: {exc}") from exc


def _unknown(panel: Panel, sym: str, what: str) -> int:
    raise InvalidSignalError(
        f"{what} name symbol {sym!r}, which the panel does not hold{did_you_mean(sym, panel.symbols, cutoff=0.5)}"
    )


def _per_symbol(panel: Panel, values: Any, name: str) -> np.ndarray | None:
    """A per-symbol cost as n_symbols floats (NaN = the config's scalar), or None."""
    if values is None:
        return None
    m = len(panel.symbols)
    if isinstance(values, Mapping):
        raise_unknown = [s for s in values if s not in panel.symbols]
        if raise_unknown:
            s = str(raise_unknown[0])
            raise InvalidConfigError(
                f"{name} names symbol {s!r}, which the panel does not hold{did_you_mean(s, panel.symbols, cutoff=0.5)}"
            )
        return None if not values else _per_symbol(panel, [values.get(s, np.nan) for s in panel.symbols], name)
    try:
        arr = np.asarray(values, dtype=np.float64)
        return np.array(np.broadcast_to(arr, (m,)), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidConfigError(f"{name} must be one number per symbol ({m}) or {{symbol: number}}: {exc}") from exc


# Per-symbol costs: name -> the highest value allowed (exclusive), as for the scalars.
_COST_LIMITS = {"fee_rate": 1.0, "slippage_bps": 10_000.0, "fee_per_unit": np.inf, "fixed_fee": np.inf}


def _costs(panel: Panel, cfg: Config, **given: Any) -> tuple[np.ndarray | None, ...]:
    """The per-symbol costs the core reads (``_bindings.PF_COSTS`` order): each None
    (the config's scalar for every symbol) or n_symbols floats, checked.

    Raises:
        InvalidConfigError: naming the cost, the symbol and the value.
    """
    out = []
    for name in _bindings.PF_COSTS:
        arr = _per_symbol(panel, given.get(name), name)
        if arr is not None:
            arr = np.where(np.isnan(arr), getattr(cfg, name), arr)
            high = _COST_LIMITS[name]
            bad = ~((arr >= 0) & (arr < high))
            if bad.any():
                j = int(np.flatnonzero(bad)[0])
                limit = "finite" if high == np.inf else f"< {high:g}"
                raise InvalidConfigError(f"{name} of {panel.symbols[j]} is {arr[j]}; it must be >= 0 and {limit}")
        out.append(arr)
    return tuple(out)


class PortfolioResult(Reportable):
    """What a portfolio backtest returns.

    Attributes:
        stats: metric name -> float (``PORTFOLIO_METRICS``).
        equity, cash: pandas Series by bar time.
        trades: one row per closed trade, with its symbol.
        contributions: each symbol's share of net P&L (they sum to ``net_pnl``).
        events: risk rules that fired: bar, time, symbol, rule, value.
        weights: each position's weight at every close (only when asked).
        borrow_cost: short borrow paid.
    """

    def __init__(self, panel: Panel, config: Config, raw: dict[str, Any]) -> None:
        self.panel = panel
        self.config = config
        self._raw = raw
        self.stats = stats_dict(raw["stats"])
        self.stats["turnover"] = float(raw["extra"]["turnover"])
        self.borrow_cost = float(raw["extra"]["borrow_cost"])

    @property
    def equity(self) -> pd.Series | None:
        e = self._raw["equity"]
        return None if e is None else pd.Series(e, index=self.panel.index, name="equity")

    @property
    def cash(self) -> pd.Series | None:
        c = self._raw["cash"]
        return None if c is None else pd.Series(c, index=self.panel.index, name="cash")

    @property
    def weights(self) -> pd.DataFrame | None:
        w = self._raw["weights"]
        return None if w is None else pd.DataFrame(w, index=self.panel.index, columns=list(self.panel.symbols))

    @property
    def contributions(self) -> pd.Series:
        return pd.Series(self._raw["contributions"], index=list(self.panel.symbols), name="pnl")

    @property
    def trade_records(self) -> np.ndarray:
        """The trades as the core wrote them (``PF_TRADE_DTYPE``)."""
        return self._raw["trades"]

    @property
    def trades(self) -> pd.DataFrame:
        tr = self._raw["trades"]
        syms = np.array(self.panel.symbols, dtype=object)

        def reason(code: int) -> str:
            return _bindings.PF_EXIT_REASONS.get(code, str(code))

        return pd.DataFrame({"symbol": syms[tr["symbol"]], **trade_columns(tr, self.panel.index, reason)})

    @property
    def events(self) -> pd.DataFrame:
        ev = self._raw["events"]
        syms = np.array((*self.panel.symbols, None), dtype=object)  # -1: the whole portfolio
        return pd.DataFrame(
            {
                "bar": ev["bar"],
                "time": self.panel.index[ev["bar"]],
                "symbol": syms[ev["symbol"]],
                "rule": [_bindings.PF_RULES.get(int(r), str(r)) for r in ev["rule"]],
                "value": ev["value"],
            }
        )

    @property
    def notes(self) -> list[str]:
        """What a reader of the numbers should know, in words: a liquidation (margin) and
        why a statistic is NaN."""
        e = self._raw["equity"]
        left = float(e[-1]) if e is not None and len(e) else None
        events = self.events
        return notes.event_notes(events[events["rule"] == "margin"], left) + notes.nan_notes(
            self.stats, self.panel.shape[0]
        )

    def __repr__(self) -> str:
        s = self.stats
        n, m = self.panel.shape
        return (
            f"<PortfolioResult: {m} symbols x {n} bars, total_return={s['total_return']:.4f}, "
            f"sharpe={s['sharpe']:.3f}, max_drawdown={s['max_drawdown']:.4f}, "
            f"trades={int(s['total_trades'])}, turnover={s['turnover']:.2f}>"
        )


def _arrays(panel: Panel) -> tuple[np.ndarray, ...]:
    ts = panel.ts if panel.ts.flags.c_contiguous else np.ascontiguousarray(panel.ts)
    return panel.open, panel.high, panel.low, panel.close, panel.tradable, ts


def backtest_portfolio(
    panel: Panel,
    weights: Any,
    config: Config | dict | None = None,
    *,
    fee_rate: Any = None,
    slippage_bps: Any = None,
    fee_per_unit: Any = None,
    fixed_fee: Any = None,
    equity: bool = True,
    keep_weights: bool = False,
) -> PortfolioResult:
    """Backtest one portfolio of target weights over ``panel``.

    Args:
        panel: the symbols' bars on one time axis.
        weights: ``[n_bars, n_symbols]`` target weights (NaN = leave alone); an
            array, a DataFrame (symbol columns, bar-time index) or ``{symbol: values}``.
        config: costs, sizing, stops, fill timing, leverage, ``borrow_rate``,
            ``rebalance_threshold``, ``max_weight``; defaults to ``Config()``.
        fee_rate, slippage_bps, fee_per_unit, fixed_fee: per-symbol costs overriding
            the config's scalar of the same name: ``{symbol: value}`` (others keep the
            scalar) or one value per symbol.
        equity: keep the equity and cash curves.
        keep_weights: keep each position's weight at every close (``n_bars x n_symbols``).

    Raises:
        InvalidSignalError, InvalidConfigError: bad input, named with symbol, field
            and first index, before any C code runs.
    """
    panel = _need_panel(panel)
    cfg = _need_config(config)
    w = as_weights(panel, weights)
    costs = _costs(
        panel, cfg, fee_rate=fee_rate, slippage_bps=slippage_bps, fee_per_unit=fee_per_unit, fixed_fee=fixed_fee
    )
    record = pf_record(cfg, panel.periods_per_year())
    raw = _bindings.portfolio(_arrays(panel), w, record, costs, equity, keep_weights)
    return PortfolioResult(panel, cfg, raw)


def _chunks(panel: Panel, weights_batch: Any, per_chunk: int) -> Iterator[tuple[int, list[np.ndarray]]]:
    """(first run, up to ``per_chunk`` checked weight matrices) chunk by chunk; the
    matrices are passed to the core where they lie (no stacking copy)."""
    n, m = panel.shape
    if isinstance(weights_batch, np.ndarray) and weights_batch.ndim == 3 and weights_batch.shape[1:] != (n, m):
        raise InvalidSignalError(f"weights_batch has shape {weights_batch.shape}; each run needs {(n, m)}")
    buf: list[np.ndarray] = []
    start = 0
    for i, w in enumerate(weights_batch):
        buf.append(_checked(panel, w, i))
        if len(buf) == per_chunk:
            yield start, buf
            start, buf = i + 1, []
    if buf:
        yield start, buf


def _checked(panel: Panel, w: Any, run: int) -> np.ndarray:
    """A batch's weight matrix as the core reads it. A C-contiguous float64 matrix of
    the panel's shape goes as it is: the core checks every value it reads (a pass the
    run makes anyway) and a bad one is then named by ``as_weights``. Anything else
    is converted and checked here."""
    if isinstance(w, np.ndarray) and w.dtype == np.float64 and w.shape == panel.shape and w.flags.c_contiguous:
        return w
    return as_weights(panel, w, what=f"weights_batch[{run}]")


def _chunk_runs(matrix_bytes: int) -> int:
    """Runs per chunk: as many weight matrices as fit in ``_CHUNK_BYTES`` (at least
    one), rounded down to a multiple of the runs the core steps together."""
    fit = max(1, _CHUNK_BYTES // matrix_bytes)
    return fit if fit < _bindings.PF_GROUP else fit // _bindings.PF_GROUP * _bindings.PF_GROUP


def run_portfolio_batch(
    panel: Panel,
    weights_batch: Any,
    config: Config | dict | Sequence[Config] | None = None,
    threads: int = 0,
    *,
    fee_rate: Any = None,
    slippage_bps: Any = None,
    fee_per_unit: Any = None,
    fixed_fee: Any = None,
    chunk_runs: int | None = None,
) -> pd.DataFrame:
    """Many portfolios over one panel, in threads that share it with the GIL released.

    Args:
        panel: the bars every run shares (never copied).
        weights_batch: a ``[n_runs, n_bars, n_symbols]`` array, a sequence of weight
            matrices, or any iterable (a generator is read lazily, one chunk at a time,
            so a sweep never holds every matrix at once).
        config: one Config for all runs, or a sequence with one per run.
        threads: worker threads; 0 = every core. Results do not depend on it.
        fee_rate, slippage_bps, fee_per_unit, fixed_fee: per-symbol costs, as in
            ``backtest_portfolio``.
        chunk_runs: runs per chunk; by default as many as fit in 96 MB of weights,
            rounded down to a multiple of 8 when more fit (the core steps up to 8
            runs together, reading each bar of the panel once for them).

    Returns:
        One row per run (in order) with every metric of ``PORTFOLIO_METRICS``.
    """
    panel = _need_panel(panel)
    n, m = panel.shape
    ppy = panel.periods_per_year()
    per_chunk = chunk_runs or _chunk_runs(n * m * 8)
    if isinstance(config, (list, tuple)):
        cfgs = [_need_config(c) for c in config]
        recs = np.concatenate([pf_record(c, ppy) for c in cfgs]) if cfgs else np.zeros(0, PF_CONFIG_DTYPE)
        first = cfgs[0] if cfgs else Config()
    else:
        first = _need_config(config)
        recs = pf_record(first, ppy)
    costs = _costs(
        panel, first, fee_rate=fee_rate, slippage_bps=slippage_bps, fee_per_unit=fee_per_unit, fixed_fee=fixed_fee
    )
    workers = resolve_threads(threads)
    results: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    source = _chunks(panel, weights_batch, per_chunk)
    lock = threading.Lock()
    arrays = _arrays(panel)

    def work() -> None:
        scratch = _bindings.pf_work(m, runs=min(per_chunk, _bindings.PF_GROUP))
        while True:
            with lock:  # one reader of the source at a time; each thread holds one chunk
                item = next(source, None)
            if item is None:
                return
            lo, w = item
            k = len(w)
            if len(recs) not in (1,) and lo + k > len(recs):
                raise InvalidConfigError(f"got {len(recs)} configs for more runs; give one Config, or one per run")
            part = recs if len(recs) == 1 else recs[lo : lo + k]
            stats, extras = np.zeros(k, STATS_DTYPE), np.zeros(k, PF_EXTRA_DTYPE)
            try:
                _bindings.portfolio_batch(arrays, w, part, costs, scratch, stats, extras)
            except InvalidSignalError:
                for k_, wk in enumerate(w):  # raises naming the run, the symbol and the bar
                    as_weights(panel, wk, what=f"weights_batch[{lo + k_}]")
                raise
            del w, item  # let this chunk go before reading the next
            with lock:
                results[lo] = (stats, extras)

    if workers <= 1:
        work()
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="anvil-portfolio") as pool:
            for f in [pool.submit(work) for _ in range(workers)]:
                f.result()
    order = sorted(results)
    stats = np.concatenate([results[k][0] for k in order]) if order else np.zeros(0, STATS_DTYPE)
    extras = np.concatenate([results[k][1] for k in order]) if order else np.zeros(0, PF_EXTRA_DTYPE)
    if len(recs) > 1 and len(stats) != len(recs):
        raise InvalidConfigError(f"got {len(recs)} configs for {len(stats)} runs; give one Config, or one per run")
    table = pd.DataFrame({name: stats[name] for name in METRICS})
    table["turnover"] = extras["turnover"]
    return table


class PortfolioSimulation:
    """A portfolio stepped bar by bar through the core, for strategies that decide
    at each close. The same decisions as a weights matrix give the same trades and
    statistics as ``backtest_portfolio`` (both run the same C code per bar).

        sim = engine.PortfolioSimulation(panel, cfg)
        for t in range(len(panel)):
            sim.open_bar(t)
            sim.target_weights({"AAPL": 0.5, "MSFT": 0.5})   # or order_target_percent
            sim.close_bar(t)
        res = sim.finish()

    Weights set between ``open_bar(t)`` and ``close_bar(t)`` are the row of bar t:
    they fill at ``open[t+1]`` (``fill="next_open"``) or ``close[t]`` (``fill="close"``).
    """

    def __init__(
        self,
        panel: Panel,
        config: Config | dict | None = None,
        *,
        fee_rate: Any = None,
        slippage_bps: Any = None,
        fee_per_unit: Any = None,
        fixed_fee: Any = None,
        keep_weights: bool = False,
    ) -> None:
        self.panel = _need_panel(panel)
        self.config = _need_config(config)
        n, m = self.panel.shape
        given = dict(fee_rate=fee_rate, slippage_bps=slippage_bps, fee_per_unit=fee_per_unit, fixed_fee=fixed_fee)
        costs = _costs(self.panel, self.config, **given)
        self._costs = given
        record = pf_record(self.config, self.panel.periods_per_year())
        self._core = _bindings.PortfolioStepper(
            _arrays(self.panel), record, costs, keep_weights, n + 4 * m + 1024, n + 1024
        )
        self._rows = np.full((n, m), np.nan)  # what was decided: a rerun source if buffers overflow
        self._keep_weights = keep_weights
        self._t = -1
        self._row: np.ndarray | None = None

    def open_bar(self, t: int) -> None:
        """Run bar ``t`` up to its close (delistings, stops, the pending rebalance)."""
        self._core.open_bar(t)
        self._t, self._row = t, None

    def target_weights(self, weights: Mapping[str, float]) -> None:
        """Trade these symbols to these weights (others are left alone)."""
        for sym, w in weights.items():
            self.order_target_percent(sym, w)

    def order_target_percent(self, symbol: str, weight: float) -> None:
        """Trade ``symbol`` to ``weight`` x equity (negative = short)."""
        j = self.panel.column(symbol)
        w = float(weight)
        if not np.isfinite(w):
            raise InvalidSignalError(f"weight of {symbol} at bar {self._t} is {weight!r}; it must be finite")
        if self._row is None:
            self._row = np.full(len(self.panel.symbols), np.nan)
        self._row[j] = w

    def close_bar(self, t: int) -> None:
        """Finish bar ``t`` with the weights set since ``open_bar(t)``."""
        self._core.close_bar(t, self._row)
        if self._row is not None:
            self._rows[t] = self._row

    def finish(self) -> PortfolioResult:
        """The result, once the last bar is closed."""
        rc, raw = self._core.finish()
        if rc != 0:  # more trades or events than the buffers held: the same run, vectorized
            return backtest_portfolio(
                self.panel, self._rows, self.config, keep_weights=self._keep_weights, **self._costs
            )
        return PortfolioResult(self.panel, self.config, raw)


def backtest_portfolio_on_bar(
    panel: Panel, on_bar: Any, config: Config | dict | None = None, **kwargs: Any
) -> PortfolioResult:
    """Run ``on_bar(t, sim)`` at every bar's close of a ``PortfolioSimulation``; it sets
    weights with ``sim.target_weights({...})`` / ``sim.order_target_percent(symbol, w)``."""
    sim = PortfolioSimulation(panel, config, **kwargs)
    for t in range(len(panel)):
        sim.open_bar(t)
        on_bar(t, sim)
        sim.close_bar(t)
    return sim.finish()
