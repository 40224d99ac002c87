"""Run a strategy, either kind, over bars: one backtest or many parameter sets."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

import engine
import engine._run
from engine.errors import InvalidSignalError
from engine.records import STATS_DTYPE
from engine.signals import as_signal, to_float
from strategies import _panel_run
from strategies.base import Strategy
from strategies.context import Bar, Context


def _instance(strategy: type[Strategy] | Strategy, params: dict[str, Any] | None) -> Strategy:
    if isinstance(strategy, Strategy):
        return type(strategy)(**{**strategy.params, **(params or {})})
    if isinstance(strategy, type) and issubclass(strategy, Strategy):
        return strategy(**(params or {}))
    raise TypeError(f"expected a Strategy class or instance, not {type(strategy).__name__}")


def _decides(strat: Strategy) -> None:
    if not strat.is_vectorized() and not callable(getattr(strat, "on_bar", None)):
        raise TypeError(
            f"{type(strat).__name__} defines neither signals(self, bars, **params) nor "
            "on_bar(self, bar, ctx); a strategy needs one of them"
        )


def _single_series(strat: Strategy) -> None:
    if strat.is_universe():
        raise TypeError(
            f"{type(strat).__name__} is a universe strategy: it trades an engine.Panel "
            "(engine.sample_panel(), engine.load_panel([...])), not one series of Bars"
        )


def signal(strategy: type[Strategy] | Strategy, bars: engine.Bars, params: dict[str, Any] | None = None) -> np.ndarray:
    """The validated signal array of a vectorized strategy."""
    strat = _instance(strategy, params)
    _single_series(strat)
    if not strat.is_vectorized():
        raise TypeError(f"{type(strat).__name__} decides bar by bar; it has no signal array")
    return as_signal(strat.signals(bars), len(bars))


def run(
    strategy: type[Strategy] | Strategy,
    data: engine.Bars | engine.Panel,
    config: engine.Config | None = None,
    params: dict[str, Any] | None = None,
    *,
    equity: bool = True,
    trades: bool = True,
    start: int = 0,
    keep_weights: bool = False,
) -> Any:
    """Backtest ``strategy`` with ``params`` over ``data``, whichever way it decides.

    With ``engine.Bars`` it returns an ``engine.Result``. With an ``engine.Panel`` it
    returns an ``engine.PortfolioResult``: a ``UniverseStrategy`` trades its target
    weights; a single-series strategy runs on each symbol and splits weight equally
    among the symbols in a position (long 1 -> +1/k, short -> -1/k with k symbols
    in a position; the rule in full: ``strategies._panel_run``).

    Args:
        data: one series (``engine.Bars``) or many symbols (``engine.Panel``).
        start: trade from this bar on; the bars before it are history only. The
            strategy sees them — a vectorized one computes its signal (or weights)
            over all ``bars``, a bar-by-bar one gets them in ``prepare`` and
            ``ctx.history`` — so indicators are warmed up on history the same way
            for both kinds. The result covers ``bars[start:]`` and starts flat.
        trades: (one series) keep the trades; a portfolio result always has them.
        keep_weights: (Panel) keep each position's weight at every close.

    Raises:
        ParameterError: a bad parameter, or one asking for shorts the config does not allow.
    """
    strat = _instance(strategy, params)
    if isinstance(data, engine.Panel):
        return _panel_run.run_panel(strat, data, config, equity=equity, start=start, keep_weights=keep_weights)
    _single_series(strat)
    bars = data
    _decides(strat)
    strat.check_shorts(strat.params, (config or engine.Config()).allow_short)
    if start == 0 and strat.is_vectorized():
        result = engine.backtest(bars, signal(strat, bars), config, equity=equity, trades=trades)
        return ReportLines.attach(result, strat, bars, 0)
    if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or not 0 <= start < len(bars):
        raise ValueError(f"start is {start!r}; give the bar to trade from, 0 to {len(bars) - 1}")
    result = _run_windows([(strat, int(start), len(bars))], bars, config, equity, trades)
    return ReportLines.attach(result, strat, bars, int(start))


class ReportLines:
    """The lines a strategy draws over the price (``Strategy.report_lines``), computed
    when a report asks (``result.report_lines()``), over all the bars the strategy saw
    and cut to the bars the result covers."""

    def __init__(self, strategy: Strategy, bars: engine.Bars, start: int) -> None:
        self.strategy = strategy
        self.bars = bars
        self.start = start

    @classmethod
    def attach(cls, result: Any, strategy: Strategy, bars: engine.Bars, start: int) -> Any:
        """``result`` with ``report_lines`` set when the strategy defines some."""
        if type(strategy).report_lines is not Strategy.report_lines:
            result.report_lines = cls(strategy, bars, start)
        return result

    def __call__(self) -> dict[str, np.ndarray]:
        """Name -> one float per bar of the result.

        Raises:
            ValueError: a line is not one value per bar.
        """
        lines = self.strategy.report_lines(self.bars, **self.strategy.params)
        out = {}
        for name, values in lines.items():
            v = np.asarray(values, dtype=np.float64)
            if v.shape != (len(self.bars),):
                raise ValueError(
                    f"{type(self.strategy).__name__}.report_lines gave {name!r} with shape {v.shape}; "
                    f"give one value per bar ({len(self.bars)})"
                )
            out[str(name)] = v[self.start :]
        return out


def target_weights(
    strategy: type[Strategy] | Strategy,
    panel: engine.Panel,
    params: dict[str, Any] | None = None,
    *,
    allow_short: bool = True,
) -> np.ndarray:
    """The checked ``[n_bars, n_symbols]`` target weights a vectorized strategy trades
    over ``panel`` (a single-series one split per symbol; NaN = leave alone)."""
    strat = _instance(strategy, params)
    if not strat.is_vectorized():
        raise TypeError(f"{type(strat).__name__} decides bar by bar; it has no weights matrix")
    if not isinstance(panel, engine.Panel):
        raise TypeError(f"target_weights needs an engine.Panel, not {type(panel).__name__}")
    return _panel_run.universe_weights(strat, panel, None, allow_short)


def run_windows(
    strategy: type[Strategy],
    bars: engine.Bars | engine.Panel,
    windows: Sequence[tuple[dict[str, Any] | None, int, int]],
    config: engine.Config | None = None,
    *,
    equity: bool = True,
    trades: bool = True,
) -> engine.Result:
    """One account trading consecutive windows of ``bars``, each with its own parameters.

    Window ``(params, lo, hi)`` trades bars ``[lo, hi)`` and sees the bars before
    ``hi`` as ``run(..., start=lo)`` would; ``params=None`` stays flat there. The
    position, the cash and any resting order carry across a boundary: a position
    the next window also wants is kept, not closed and re-entered (this is how
    ``cluster.walk_forward(..., carry=True)`` stitches its test windows). The
    result covers ``bars[windows[0].lo : windows[-1].hi]``.

    With an ``engine.Panel`` it returns an ``engine.PortfolioResult``: each window's
    weight rows are decided on the bars before its end and trade as they are, a NaN
    holding what the account holds (``strategies._panel_run.run_windows_panel``).

    Raises:
        ValueError: windows that are empty or do not follow one another.
        ParameterError: as for ``run``.
    """
    if not windows:
        raise ValueError("run_windows needs at least one window")
    allow_short = (config or engine.Config()).allow_short
    parts: list[tuple[Strategy | None, int, int]] = []
    panel = isinstance(bars, engine.Panel)
    for k, (params, lo, hi) in enumerate(windows):
        if not 0 <= lo < hi <= len(bars) or (parts and lo != parts[-1][2]):
            raise ValueError(
                f"window {k} is [{lo}, {hi}); windows must be non-empty, within the "
                f"{len(bars)} bars and follow one another"
            )
        strat = None
        if params is not None:
            strat = _instance(strategy, params)
            _decides(strat)
            strat.check_shorts(strat.params, allow_short)
        parts.append((strat, lo, hi))
    if panel:
        return _panel_run.run_windows_panel(parts, bars, config, equity=equity)  # type: ignore[arg-type]
    return _run_windows(parts, bars, config, equity, trades)


def _run_windows(
    parts: Sequence[tuple[Strategy | None, int, int]],
    bars: engine.Bars,
    config: engine.Config | None,
    equity: bool,
    trades: bool,
) -> engine.Result:
    jailed = next((getattr(s, "run_in_jail", None) for s, _, _ in parts if s is not None), None)
    if callable(jailed):  # uploaded bar-by-bar code: the whole loop runs in its jail
        windows = [(None if s is None else s.params, lo, hi) for s, lo, hi in parts]
        return jailed(bars, config or engine.Config(), equity, trades, windows)  # type: ignore[no-any-return]
    first, last = parts[0][1], parts[-1][2]
    traded = bars if (first, last) == (0, len(bars)) else bars[first:last]
    if all(s is None or s.is_vectorized() for s, _, _ in parts):
        rows = []
        for strat, lo, hi in parts:
            if strat is None:
                rows.append(np.zeros(hi - lo, np.int8))
            else:
                history = bars if hi == len(bars) else bars[:hi]
                rows.append(signal(strat, history)[lo:hi])
        if len({r.dtype for r in rows}) > 1:
            rows = [to_float(r) for r in rows]
        sig = rows[0] if len(rows) == 1 else np.concatenate(rows)
        return engine.backtest(traded, sig, config, equity=equity, trades=trades)
    sim = engine.Simulation(traded, config, equity=equity, trades=trades)
    for strat, lo, hi in parts:
        history = bars if hi == len(bars) else bars[:hi]
        _step(strat, history, sim, lo, hi, first)
    return sim.finish()


def _step(strat: Any, history: engine.Bars, sim: engine.Simulation, lo: int, hi: int, first: int) -> None:
    """Step ``sim`` over bars ``[lo, hi)`` of ``history`` (``sim``'s bar 0 is ``first``)."""
    if strat is None:  # no parameters for this part: go flat and stay flat
        for t in range(lo, hi):
            sim.open_bar(t - first)
            if t == lo:
                sim.cancel_all()
                sim.close()
            sim.close_bar(t - first)
        return
    ctx = Context(sim, history)
    prepare = getattr(strat, "prepare", None)
    if callable(prepare):
        prepare(history)
    on_bar = strat.on_bar
    b = history
    columns = zip(
        b.ts[lo:hi].tolist(),
        b.open[lo:hi].tolist(),
        b.high[lo:hi].tolist(),
        b.low[lo:hi].tolist(),
        b.close[lo:hi].tolist(),
        b.volume[lo:hi].tolist(),
    )
    for t, (ts, o, h, low, c, v) in enumerate(columns, start=lo):
        sim.open_bar(t - first)
        ctx._t = t
        on_bar(Bar(t, ts, o, h, low, c, v), ctx)
        sim.close_bar(t - first)


def signal_matrix(
    strategy: type[Strategy] | Strategy, bars: engine.Bars, param_sets: Sequence[dict[str, Any]]
) -> np.ndarray:
    """Signals of a vectorized strategy for each parameter set, ``[k, n_bars]``.

    All rows share one dtype: int8 while every row is int8, float64 (HOLD read as
    NaN) as soon as one parameter set yields floats. Rows are written straight
    into the matrix, so it is the only copy; a strategy with ``signals_many``
    gives them all at once.
    """
    base: dict[str, Any] = {}
    if isinstance(strategy, Strategy):  # an instance: its parameters are the defaults
        base, strategy = strategy.params, type(strategy)
    if not (isinstance(strategy, type) and issubclass(strategy, Strategy)):
        raise TypeError(f"expected a Strategy class or instance, not {type(strategy).__name__}")
    if strategy.is_universe():
        raise TypeError(
            f"{strategy.__name__} is a universe strategy: its weights need an engine.Panel "
            "(strategies.target_weights), it has no signal array"
        )
    if not strategy.is_vectorized():
        raise TypeError(f"{strategy.__name__} decides bar by bar; it has no signal array")
    checked = [strategy.check({**base, **p}) for p in param_sets]
    return as_signal(_checked_matrix(strategy, bars, checked), len(bars), ndim=2)


def _checked_matrix(strategy: type[Strategy], bars: engine.Bars, checked: Sequence[dict[str, Any]]) -> np.ndarray:
    """``signal_matrix`` for parameter sets already validated by ``strategy.check``:
    one instance, the strategy's ``signals_many`` if it has one, else its own
    ``signals`` without re-validating each set."""
    inst = strategy()
    n = len(bars)
    many = getattr(inst, "signals_many", None)
    if callable(many) and checked:
        matrix = many(bars, list(checked))
        if not isinstance(matrix, np.ndarray) or matrix.ndim != 2:  # its values: checked by run_batch
            matrix = as_signal(matrix, n, ndim=2)
        if len(matrix) != len(checked):
            raise InvalidSignalError(
                f"{type(inst).__name__}.signals_many returned {len(matrix)} rows for "
                f"{len(checked)} parameter sets; give one row per set, in order"
            )
        return matrix
    raw = getattr(type(inst).signals, "__wrapped__", None)
    out = np.empty((len(checked), n), np.int8)
    for k, params in enumerate(checked):
        row = as_signal(raw(inst, bars, **params) if raw else inst.signals(bars, **params), n)
        if row.dtype != out.dtype:
            if out.dtype == np.int8:
                out = np.concatenate([to_float(out[:k]), np.empty((len(checked) - k, n))])
            row = to_float(row)
        out[k] = row
    return out


def _name_bad_row(strategy: type[Strategy], sets: Sequence[dict[str, Any]], matrix: np.ndarray) -> None:
    """Raise InvalidSignalError naming the first parameter set whose row is bad."""
    for params, row in zip(sets, matrix):
        try:
            as_signal(row, matrix.shape[1])
        except InvalidSignalError as exc:
            raise InvalidSignalError(f"{strategy.__name__} with {params}: {exc}") from None


def run_many(
    strategy: type[Strategy],
    data: engine.Bars | engine.Panel,
    param_sets: Iterable[dict[str, Any]],
    config: engine.Config | None = None,
    threads: int = 0,
) -> pd.DataFrame:
    """Stats for each parameter set, one row each (parameters first, then metrics).

    Vectorized strategies are split into chunks that threads take in turn, each
    building its chunk's signals and backtesting them in the core (which releases
    the GIL), so both stages use every core; rows come back in the given order.
    Bar-by-bar strategies run one after another.

    With an ``engine.Panel`` the metrics are ``engine.PORTFOLIO_METRICS``; the weight
    matrices are made a chunk at a time (``weights_many`` when the strategy has
    it) and fed lazily to ``engine.run_portfolio_batch``, never all at once.
    """
    bars = data
    if isinstance(strategy, type) and issubclass(strategy, Strategy) and not isinstance(bars, engine.Panel):
        if strategy.is_universe():
            _single_series(strategy())
    sets = [strategy.check(p) for p in param_sets]
    allow_short = (config or engine.Config()).allow_short
    for p in sets:
        strategy.check_shorts(p, allow_short)
    if isinstance(bars, engine.Panel):
        return _panel_run.run_many_panel(strategy, bars, sets, config, threads)
    if not strategy.is_vectorized():
        rows = [run(strategy, bars, config, p, equity=False, trades=False).stats for p in sets]
        stats = pd.DataFrame(rows, columns=list(engine.METRICS))
        return pd.concat([pd.DataFrame(sets, index=stats.index), stats], axis=1)
    workers = min(engine._run.resolve_threads(threads), max(len(sets), 1))
    n_chunks = min(len(sets), workers * 4) or 1
    edges = np.linspace(0, len(sets), n_chunks + 1).astype(int)

    def chunk(k: int) -> np.ndarray:
        part = sets[edges[k] : edges[k + 1]]
        matrix = _checked_matrix(strategy, bars, part)
        try:
            return engine.run_batch_records(bars, matrix, config, threads=1)
        except InvalidSignalError:
            _name_bad_row(strategy, part, matrix)
            raise

    if workers <= 1:
        parts = [chunk(k) for k in range(n_chunks)]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="anvil-run-many") as pool:
            parts = list(pool.map(chunk, range(n_chunks)))
    records = np.concatenate(parts) if parts else np.empty(0, STATS_DTYPE)
    stats = pd.DataFrame({name: records[name] for name in engine.METRICS})
    return pd.concat([pd.DataFrame(sets, index=stats.index), stats], axis=1)
