"""``SweepWork``: backtest chunks of (symbol, parameters) items on a worker.

Vectorized strategies turn a chunk into one signal matrix (all at once through
the strategy's ``signals_many`` when it has one) and one ``engine.run_batch``
call (indicators are memoized per worker, so windows shared by many items are
computed once); bar-by-bar strategies run item by item. An
item whose strategy raises is recorded as failed with its error; the rest of the
chunk goes on.
"""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

import engine
from cluster.tasks import Chunk, ChunkResult, empty_stats
from engine.records import STATS_DTYPE
from engine.signals import as_signal, to_float
from strategies import Strategy, run as run_strategy

log = logging.getLogger("anvil.cluster")


def _error(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" (at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno})" if tb else ""
    return f"{type(exc).__name__}: {exc}{where}"


def per_bar_returns(equity: np.ndarray, initial: float) -> np.ndarray:
    """r_t = equity_t / equity_{t-1} - 1 with equity_{-1} = initial (0 once not positive)."""
    prev = np.concatenate([[initial], equity[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(prev > 0, equity / prev - 1.0, 0.0)
    return r


@dataclass(frozen=True)
class SweepWork:
    """A strategy, its bars by symbol, and the config every item shares.

    Items are ``(symbol, params)``; a chunk holds items of one symbol.
    ``keep_returns`` adds each item's per-bar returns (float64, ``[k, n_bars]``)
    as the chunk's ``extra`` (used by the overfitting diagnostics).
    """

    strategy: type[Strategy]
    bars: Mapping[str, engine.Bars]
    config: engine.Config
    keep_returns: bool = False

    def returns_of(self, symbol: str, params: Mapping[str, Any]) -> np.ndarray:
        """Per-bar returns of one run (the deflated Sharpe of the best)."""
        res = run_strategy(self.strategy, self.bars[symbol], self.config, dict(params), trades=False)
        return per_bar_returns(res.equity.to_numpy(), self.config.initial_capital)

    def run(self, chunk: Chunk) -> ChunkResult:
        started = time.perf_counter()
        ids = np.asarray(chunk.item_ids, dtype=np.int64)
        symbol = chunk.items[0][0]
        bars = self.bars[symbol]
        stats = empty_stats(len(ids))
        errors: list[tuple[int, str]] = []
        returns = np.full((len(ids), len(bars)), np.nan) if self.keep_returns else None
        if self.strategy.is_vectorized() and not self.keep_returns:
            self._run_batch(bars, chunk, stats, errors)
        else:
            for k, (item_id, (_, params)) in enumerate(zip(chunk.item_ids, chunk.items)):
                try:
                    res = run_strategy(self.strategy, bars, self.config, params, equity=self.keep_returns, trades=False)
                except Exception as exc:
                    errors.append((item_id, _error(exc)))
                    continue
                stats[k] = tuple(res.stats[name] for name in STATS_DTYPE.names or ())
                if returns is not None:
                    returns[k] = per_bar_returns(res.equity.to_numpy(), self.config.initial_capital)
        return ChunkResult(chunk.id, ids, stats, tuple(errors), returns, seconds=time.perf_counter() - started)

    def _run_batch(self, bars: engine.Bars, chunk: Chunk, stats: np.ndarray, errors: list[tuple[int, str]]) -> None:
        if callable(getattr(self.strategy, "signals_many", None)) and self._all_at_once(bars, chunk, stats):
            return
        rows: list[np.ndarray] = []
        where: list[int] = []
        for k, (item_id, (_, params)) in enumerate(zip(chunk.item_ids, chunk.items)):
            try:
                strat = self.strategy(**params)
                rows.append(as_signal(strat.signals(bars), len(bars)))
                where.append(k)
            except Exception as exc:
                errors.append((item_id, _error(exc)))
        if not rows:
            return
        if any(r.dtype == np.float64 for r in rows):
            rows = [to_float(r) for r in rows]
        out = engine.run_batch_records(bars, np.stack(rows), self.config, threads=1)
        stats[np.asarray(where)] = out

    def _all_at_once(self, bars: engine.Bars, chunk: Chunk, stats: np.ndarray) -> bool:
        """The whole chunk through the strategy's ``signals_many``. False when any
        item or the call fails: then items go one by one, each failure its own."""
        try:
            sets = [self.strategy.check(dict(params)) for _, params in chunk.items]
            out = engine.run_batch_records(bars, self.strategy().signals_many(bars, sets), self.config, threads=1)
        except Exception as exc:
            log.warning(
                "chunk %s: %s.signals_many failed (%s); its %d items run one by one",
                chunk.id,
                getattr(self.strategy, "name", self.strategy),
                _error(exc),
                len(chunk.items),
            )
            return False
        if len(out) != len(sets):
            log.warning(
                "chunk %s: %s.signals_many gave %d rows for %d items; they run one by one",
                chunk.id,
                getattr(self.strategy, "name", self.strategy),
                len(out),
                len(sets),
            )
            return False
        stats[:] = out
        return True
