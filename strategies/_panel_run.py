"""Run strategies over an ``engine.Panel``: universe strategies, and single-series
strategies per symbol. ``strategies.run`` / ``run_many`` call these when given a Panel.

A single-series strategy on a Panel runs on each symbol's own bars (its traded
rows only), giving each symbol a position: the signal's target exposure carried
forward (HOLD / NaN change nothing; 1 long, -1 short, 0 flat; a short reads as
flat when the config does not allow shorts), flat before the symbol's first bar
and after its last, held through gaps. Weight is then split equally among the
symbols in a position: with k symbols holding a nonzero position e_j at bar t,
symbol j's target weight is ``e_j / k`` (long 1 -> +1/k, short -1 -> -1/k, flat 0).
A row is written only on bars where some symbol's position changes (entries,
exits, reversals, a symbol's data ending); in between the row is NaN, so the
portfolio holds its units and does not rebalance back to equal weight daily.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd

import engine
import engine._run
from engine.errors import InvalidSignalError
from engine.portfolio import PORTFOLIO_METRICS, as_weights
from engine.signals import HOLD, as_signal
from strategies.base import Strategy
from strategies.universe import PanelBar, UniverseContext

_CHUNK_BYTES = 64 << 20  # weight matrices one chunk of a sweep holds at most


def _check_start(start: Any, n: int) -> int:
    if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or not 0 <= start < n:
        raise ValueError(f"start is {start!r}; give the bar to trade from, 0 to {n - 1}")
    return int(start)


def _decides(strat: Strategy) -> None:
    if strat.is_universe():
        if not strat.is_vectorized() and not callable(getattr(strat, "on_bar", None)):
            raise TypeError(
                f"{type(strat).__name__} defines neither weights(self, panel, **params) nor "
                "on_bar(self, bar, ctx); a universe strategy needs one of them"
            )
    elif not strat.is_vectorized():
        raise TypeError(
            f"{type(strat).__name__} decides bar by bar over one series; on a Panel a "
            "single-series strategy must be vectorized (define signals), or write a "
            "UniverseStrategy with on_bar"
        )


# -- weights ------------------------------------------------------------------


def universe_weights(
    strat: Strategy, panel: engine.Panel, params: dict[str, Any] | None = None, allow_short: bool = True
) -> np.ndarray:
    """The checked ``[n_bars, n_symbols]`` target weights of a vectorized strategy
    (a universe one's ``weights``, or a single-series one split per symbol)."""
    if strat.is_universe():
        raw = strat.weights(panel, **(params or {}))  # type: ignore[attr-defined]
        return as_weights(panel, raw, what=f"{type(strat).__name__}.weights")
    return per_symbol_weights(strat, panel, params, allow_short)


def _raw_weights(inst: Strategy, panel: engine.Panel, params: dict[str, Any]) -> Any:
    raw = getattr(type(inst).weights, "__wrapped__", None)  # type: ignore[attr-defined]
    return raw(inst, panel, **params) if raw else inst.weights(panel, **params)  # type: ignore[attr-defined]


def per_symbol_weights(
    strat: Strategy, panel: engine.Panel, params: dict[str, Any] | None = None, allow_short: bool = True
) -> np.ndarray:
    """A single-series strategy's weights over a panel (the rule: module docstring)."""
    n, m = panel.shape
    pos = np.zeros((n, m))
    first, last = panel.first_bars(), panel.last_bars()
    for j, sym in enumerate(panel.symbols):
        if last[j] < 0:
            continue
        rows = np.flatnonzero(panel.tradable[:, j])
        bars = panel.bars(sym)
        sig = as_signal(strat.signals(bars, **(params or {})), len(bars))  # type: ignore[attr-defined]
        exposure = _held(sig)
        col = np.full(n, np.nan)
        col[rows] = exposure
        filled = _ffill(col)
        filled[: first[j]] = 0.0
        filled[last[j] + 1 :] = 0.0
        pos[:, j] = filled
    if not allow_short:
        pos = np.maximum(pos, 0.0)
    held = np.count_nonzero(pos, axis=1)
    w = np.divide(pos, held[:, None], out=np.zeros_like(pos), where=held[:, None] > 0)
    changed = np.empty(n, bool)
    changed[0] = held[0] > 0
    changed[1:] = (pos[1:] != pos[:-1]).any(axis=1)
    w[~changed] = np.nan
    return np.ascontiguousarray(w)


def _held(sig: np.ndarray) -> np.ndarray:
    """The exposure a signal asks for at each bar, carried through HOLD / NaN, from flat."""
    if sig.dtype == np.int8:
        vals = np.where(sig == HOLD, np.nan, sig.astype(np.float64))
    else:
        vals = sig.astype(np.float64, copy=True)
    return np.nan_to_num(_ffill(vals), nan=0.0)


def _ffill(values: np.ndarray) -> np.ndarray:
    """``values`` with each NaN replaced by the last value before it (NaN before the first)."""
    idx = np.where(np.isnan(values), 0, np.arange(len(values)))
    np.maximum.accumulate(idx, out=idx)
    return values[idx]  # a leading NaN maps to values[0], itself NaN


# -- one run --------------------------------------------------------------------


def run_panel(
    strat: Strategy,
    panel: engine.Panel,
    config: engine.Config | None,
    *,
    equity: bool = True,
    start: int = 0,
    keep_weights: bool = False,
) -> engine.PortfolioResult:
    """Backtest ``strat`` (parameters already set) over ``panel`` from bar ``start``."""
    _decides(strat)
    cfg = config or engine.Config()
    strat.check_shorts(strat.params, cfg.allow_short)
    start = _check_start(start, len(panel))
    traded = panel if start == 0 else panel[start:]
    jailed = getattr(strat, "run_in_jail_panel", None)
    if callable(jailed):  # uploaded bar-by-bar code: the loop runs in its jail
        return jailed(panel, cfg, equity, start, keep_weights)  # type: ignore[no-any-return]
    if strat.is_vectorized():
        w = universe_weights(strat, panel, None, cfg.allow_short)
        return engine.backtest_portfolio(traded, w[start:], cfg, equity=equity, keep_weights=keep_weights)
    sim = engine.PortfolioSimulation(traded, cfg, keep_weights=keep_weights)
    step_universe(strat, panel, sim, start)
    return sim.finish()


def step_universe(strat: Any, panel: engine.Panel, sim: Any, start: int) -> None:
    """Step ``sim`` (over ``panel[start:]``) with a universe ``on_bar``; it sees ``panel``'s
    history from bar 0."""
    ctx = UniverseContext(sim, panel)
    prepare = getattr(strat, "prepare", None)
    if callable(prepare):
        prepare(panel)
    on_bar = strat.on_bar
    ts = panel.ts.tolist()
    o, h, lo, c, v, tr = panel.open, panel.high, panel.low, panel.close, panel.volume, panel.tradable
    for t in range(start, len(panel)):
        sim.open_bar(t - start)
        ctx._t = t
        on_bar(PanelBar(t, ts[t], o[t], h[t], lo[t], c[t], v[t], tr[t]), ctx)
        sim.close_bar(t - start)


class _Recorder:
    """What a universe ``on_bar`` decides, row by row, without an account: the
    context shows no account state, so these rows are the whole decision (an
    uploaded strategy's jail answers them, and the trusted side backtests them)."""

    def __init__(self, panel: engine.Panel) -> None:
        self.panel = panel
        self.rows = np.full(panel.shape, np.nan)
        self._t = -1

    def open_bar(self, t: int) -> None:
        self._t = t

    def close_bar(self, t: int) -> None:
        pass

    def target_weights(self, weights: Any) -> None:
        for sym, w in weights.items():
            self.order_target_percent(sym, w)

    def order_target_percent(self, symbol: str, weight: float) -> None:
        w = float(weight)
        if not np.isfinite(w):
            raise InvalidSignalError(f"weight of {symbol} at bar {self._t} is {weight!r}; it must be finite")
        self.rows[self._t, self.panel.column(symbol)] = w


def decided_rows(strat: Strategy, panel: engine.Panel, start: int = 0) -> np.ndarray:
    """The weight rows ``[n_bars - start, n_symbols]`` a bar-by-bar universe strategy
    decides over ``panel[start:]`` (seeing history from bar 0); NaN = no instruction."""
    start = _check_start(start, len(panel))
    rec = _Recorder(panel[start:])
    step_universe(strat, panel, rec, start)
    return rec.rows


def window_rows(strat: Strategy | None, panel: engine.Panel, lo: int, hi: int, allow_short: bool = True) -> np.ndarray:
    """The weight rows ``[hi - lo, n_symbols]`` ``strat`` decides for bars ``[lo, hi)``
    seeing ``panel[:hi]``; ``None`` closes everything at ``lo`` and stays flat."""
    history = panel if hi == len(panel) else panel[:hi]
    if strat is None:
        rows = np.full((hi - lo, panel.shape[1]), np.nan)
        rows[0] = 0.0
        return rows
    jailed = getattr(strat, "_rows_from", None)
    if callable(jailed):
        return jailed(history, lo)  # type: ignore[no-any-return]
    if strat.is_vectorized():
        return universe_weights(strat, history, None, allow_short)[lo:hi]
    return decided_rows(strat, history, lo)


def run_windows_panel(
    parts: Sequence[tuple[Strategy | None, int, int]],
    panel: engine.Panel,
    config: engine.Config | None,
    *,
    equity: bool = True,
    keep_weights: bool = False,
) -> engine.PortfolioResult:
    """One account trading consecutive windows of ``panel`` (``strategies.run_windows``).

    Each window's rows are decided on the bars before its end and trade as they are;
    a NaN keeps what the account holds, so a position the previous window left is
    held until the new window's first instruction for that symbol (a universe
    strategy that rebalances monthly takes over at its next rebalance).
    """
    cfg = config or engine.Config()
    for strat, _, _ in parts:
        if strat is not None:
            _decides(strat)
            strat.check_shorts(strat.params, cfg.allow_short)
    first, last = parts[0][1], parts[-1][2]
    rows = np.concatenate([window_rows(s, panel, lo, hi, cfg.allow_short) for s, lo, hi in parts])
    traded = panel if (first, last) == (0, len(panel)) else panel[first:last]
    return engine.backtest_portfolio(traded, rows, cfg, equity=equity, keep_weights=keep_weights)


# -- many runs --------------------------------------------------------------------


def weight_stream(
    strategy: type[Strategy],
    panel: engine.Panel,
    sets: Sequence[dict[str, Any]],
    allow_short: bool = True,
    per_chunk: int | None = None,
) -> Iterator[np.ndarray]:
    """One checked weight matrix per parameter set (validated, complete), produced a
    chunk at a time (``weights_many`` when the strategy has it)."""
    n, m = panel.shape
    per_chunk = per_chunk or max(1, _CHUNK_BYTES // max(1, n * m * 8))
    inst = strategy()
    many = getattr(inst, "weights_many", None) if strategy.is_universe() else None
    for lo in range(0, len(sets), per_chunk):
        part = sets[lo : lo + per_chunk]
        if callable(many):
            got = 0
            for k, w in enumerate(many(panel, list(part))):
                if k >= len(part):
                    break
                got += 1
                yield as_weights(panel, w, what=f"{strategy.__name__}.weights_many with {part[k]}")
            if got != len(part):
                raise InvalidSignalError(
                    f"{strategy.__name__}.weights_many gave {got} matrices for "
                    f"{len(part)} parameter sets; give one per set, in order"
                )
        else:
            for p in part:
                if strategy.is_universe():
                    yield as_weights(panel, _raw_weights(inst, panel, p), what=f"{strategy.__name__}.weights with {p}")
                else:
                    yield per_symbol_weights(inst, panel, p, allow_short)


def _batch(
    strategy: type[Strategy], panel: engine.Panel, sets: Sequence[dict[str, Any]], cfg: engine.Config, threads: int
) -> pd.DataFrame:
    """``run_portfolio_batch`` over the sets' weights, made lazily. With several threads,
    each takes a slice of the sets in turn and both makes its weights (numpy and the
    blocks release the GIL) and runs them (one chunk of matrices per thread at a time);
    the rows come back in the given order whatever the thread count."""
    workers = min(engine._run.resolve_threads(threads), max(len(sets), 1))
    if workers <= 1:
        return engine.run_portfolio_batch(panel, weight_stream(strategy, panel, sets, cfg.allow_short), cfg, 1)
    edges = np.linspace(0, len(sets), min(len(sets), workers * 4) + 1).astype(int)

    def part(k: int) -> pd.DataFrame:
        mine = sets[edges[k] : edges[k + 1]]
        return engine.run_portfolio_batch(panel, weight_stream(strategy, panel, mine, cfg.allow_short), cfg, 1)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="anvil-universe") as pool:
        parts = list(pool.map(part, range(len(edges) - 1)))
    return pd.concat(parts, ignore_index=True)


def run_many_panel(
    strategy: type[Strategy],
    panel: engine.Panel,
    sets: Sequence[dict[str, Any]],
    config: engine.Config | None,
    threads: int,
) -> pd.DataFrame:
    """Stats per parameter set over a panel: parameters first, then ``PORTFOLIO_METRICS``."""
    cfg = config or engine.Config()
    probe = strategy(**(sets[0] if sets else {}))
    _decides(probe)
    if strategy.is_vectorized():
        table = _batch(strategy, panel, sets, cfg, threads)
    else:
        rows = [run_panel(strategy(**p), panel, cfg, equity=False).stats for p in sets]
        table = pd.DataFrame(rows, columns=list(PORTFOLIO_METRICS))
    return pd.concat([pd.DataFrame(list(sets), index=table.index), table], axis=1)
