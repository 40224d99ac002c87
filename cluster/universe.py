"""Scale-out over universes: the work of sweeps, walk-forward and Monte Carlo on one Panel.

A universe job runs one portfolio over many symbols (``engine.Panel``) per
parameter set, where a single-series job runs each symbol on its own. The panel
is part of the job's ``Work``, so it travels to each worker once (the Ray object
store, loaded once per actor); a chunk carries only its parameter sets.

- ``UniverseWork`` (sweeps): a chunk's parameter sets go through
  ``strategies.run_many`` (the strategy's ``weights_many`` when it has one, one
  ``engine.run_portfolio_batch`` call on one thread); when that call fails the
  items run one by one through ``strategies.run``, each failure its own.
- ``UniverseWindowWork`` (walk-forward): each run sees the panel's bars up to its
  window's end and trades from the window's start (``strategies.run(..., start=)``).
- ``permuted_panel`` (Monte Carlo ``"permutation"``): the bars are permuted
  *jointly*: one permutation of the bar order for every symbol (and another,
  again shared, for the bars' bodies), so each bar keeps its cross-section and the
  symbols keep their cross-correlation. A symbol's relative at a bar where it had
  none (before it listed, in a gap) is no move; every symbol stays tradable on
  exactly the bars it was, and keeps its first bar. The bootstraps resample the
  real portfolio's per-bar returns (``of="returns"``), as for one series.

Items carry ``UNIVERSE`` where a single-series job carries the symbol, so the
result tables keep their ``symbol`` column (one value: the universe's).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

import engine
import strategies
from cluster.tasks import Chunk, ChunkResult, empty_stats
from cluster.windows import WindowWork
from cluster.work import _error, per_bar_returns
from engine.records import STATS_DTYPE
from strategies import Strategy

UNIVERSE = "universe"
"""The ``symbol`` of a universe job's rows."""

log = logging.getLogger(__name__)
_FIELDS = STATS_DTYPE.names or ()


def run(
    strategy: type[Strategy],
    panel: engine.Panel,
    config: engine.Config,
    params: Mapping[str, Any],
    start: int | None = None,
) -> Any:
    """One portfolio run (``strategies.run`` on a panel): an ``engine.PortfolioResult``."""
    if start is None:
        return strategies.run(strategy, panel, config, dict(params))
    return strategies.run(strategy, panel, config, dict(params), start=start)


def _row(stats: Mapping[str, float]) -> tuple[float, ...]:
    return tuple(stats[name] for name in _FIELDS)


@dataclass(frozen=True)
class UniverseWork:
    """A strategy, the panel and the config every item shares; items ``(UNIVERSE, params)``.

    ``keep_returns`` adds each item's per-bar portfolio returns (``[k, n_bars]``) as
    the chunk's ``extra`` (for PBO)."""

    strategy: type[Strategy]
    panel: engine.Panel
    config: engine.Config
    keep_returns: bool = False

    @property
    def bars(self) -> dict[str, engine.Panel]:
        """The panel under the universe's name (what diagnostics and manifests read)."""
        return {UNIVERSE: self.panel}

    def returns_of(self, symbol: str, params: Mapping[str, Any]) -> np.ndarray:
        """Per-bar returns of one run (the deflated Sharpe of the best)."""
        res = run(self.strategy, self.panel, self.config, params)
        return per_bar_returns(np.asarray(res.equity, dtype=np.float64), self.config.initial_capital)

    def run(self, chunk: Chunk) -> ChunkResult:
        started = time.perf_counter()
        ids = np.asarray(chunk.item_ids, dtype=np.int64)
        stats = empty_stats(len(ids))
        errors: list[tuple[int, str]] = []
        returns = np.full((len(ids), len(self.panel)), np.nan) if self.keep_returns else None
        if not self.keep_returns and self._all_at_once(chunk, stats):
            return ChunkResult(chunk.id, ids, stats, seconds=time.perf_counter() - started)
        for k, (item_id, (_, params)) in enumerate(zip(chunk.item_ids, chunk.items)):
            try:
                res = run(self.strategy, self.panel, self.config, params)
            except Exception as exc:
                errors.append((item_id, _error(exc)))
                continue
            stats[k] = _row(res.stats)
            if returns is not None:
                returns[k] = per_bar_returns(np.asarray(res.equity, dtype=np.float64), self.config.initial_capital)
        return ChunkResult(chunk.id, ids, stats, tuple(errors), returns, seconds=time.perf_counter() - started)

    def _all_at_once(self, chunk: Chunk, stats: np.ndarray) -> bool:
        """The chunk through ``strategies.run_many`` on one thread; False (the items then
        run one by one, each failure its own) when the call fails."""
        sets = [dict(params) for _, params in chunk.items]
        try:
            table = strategies.run_many(self.strategy, self.panel, sets, self.config, threads=1)
        except Exception as exc:
            log.info(
                "run_many of %s failed (%s); running the chunk's %d items one by one",
                self.strategy.name,
                _error(exc),
                len(sets),
            )
            return False
        if len(table) != len(sets):
            return False
        for name in _FIELDS:
            stats[name] = table[name].to_numpy(dtype=np.float64)
        return True


class UniverseWindowWork(WindowWork):
    """``WindowWork`` on a panel: each run sees the bars up to its window's end and
    trades from its start. Test runs keep their equity (no trade records: the
    stitched curve's trade metrics are NaN, its fees and exposure add up as for one series)."""

    def run(self, chunk: Chunk) -> ChunkResult:
        started = time.perf_counter()
        ids = np.asarray(chunk.item_ids, dtype=np.int64)
        (part, number) = chunk.items[0][0]
        lo, hi = self.span(part, number)
        stats = empty_stats(len(ids))
        errors: list[tuple[int, str]] = []
        want_curve = part == "test"
        curves: list[Any] = []
        for k, (item_id, (_, params)) in enumerate(zip(ids.tolist(), chunk.items)):
            try:
                res = run(self.strategy, self.slice(0, hi), self.config, params, start=lo)
            except Exception as exc:
                errors.append((item_id, _error(exc)))
                curves.append(None)
                continue
            stats[k] = _row(res.stats)
            curves.append(
                (
                    np.asarray(res.equity, dtype=np.float64)[lo:hi]
                    if len(res.equity) == hi
                    else np.asarray(res.equity, dtype=np.float64),
                    _NO_TRADES,
                )
                if want_curve
                else None
            )
        return ChunkResult(
            chunk.id, ids, stats, tuple(errors), curves if want_curve else None, seconds=time.perf_counter() - started
        )


_NO_TRADES = np.zeros(0)


def permuted_panel(panel: engine.Panel, rng: np.random.Generator) -> engine.Panel:
    """A path of ``panel`` with its bars permuted jointly across symbols (see the module
    docstring); each symbol's first bar and tradable bars are kept."""
    o, h, lo, c = (np.log(a) for a in (panel.open, panel.high, panel.low, panel.close))
    trad = panel.tradable
    n, m = panel.shape
    gap = o[1:] - c[:-1]
    body = np.stack([h[1:] - o[1:], lo[1:] - o[1:], c[1:] - o[1:]], axis=2)  # [n-1, m, 3]
    gap = np.where(np.isfinite(gap), gap, 0.0)
    body = np.where(np.isfinite(body), body, 0.0)
    gap = gap[rng.permutation(n - 1)]
    order = rng.permutation(n - 1)
    body = body[order]
    vol = np.concatenate([panel.volume[:1], panel.volume[1:][order]])
    first = np.argmax(trad, axis=0)  # each symbol's first tradable bar
    step = np.concatenate([np.zeros((1, m)), gap + body[:, :, 2]])
    cum = np.cumsum(step, axis=0)
    cols = np.arange(m)
    c0 = c[first, cols]
    closes = c0[None, :] + cum - cum[first, cols][None, :]
    opens = np.empty_like(closes)
    opens[1:] = closes[:-1] + gap
    opens[0] = o[0]
    highs = np.empty_like(closes)
    lows = np.empty_like(closes)
    highs[1:] = opens[1:] + body[:, :, 0]
    lows[1:] = opens[1:] + body[:, :, 1]
    highs[0], lows[0] = h[0], lo[0]
    rows = np.arange(n)[:, None]
    at_first = rows == first[None, :]
    opens = np.where(at_first, o, opens)
    highs = np.where(at_first, h, highs)
    lows = np.where(at_first, lo, lows)
    closes = np.where(at_first, c, closes)
    po, pc = np.exp(opens), np.exp(closes)
    ph = np.maximum(np.exp(highs), np.maximum(po, pc))
    pl = np.minimum(np.exp(lows), np.minimum(po, pc))
    vol = np.where(trad, np.nan_to_num(vol, nan=0.0), np.nan)
    return engine.Panel(panel.ts, panel.symbols, po, ph, pl, pc, vol, trad)
