"""Walk-forward windows (bar positions of each train and test part) and ``WindowWork``,
which backtests items on them; ``cluster.walk_forward`` runs them, for one series
(``WindowWork``) or a universe (``cluster.universe.UniverseWindowWork``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

import engine
from cluster.tasks import Chunk, ChunkResult, empty_stats
from cluster.work import _error
from engine.records import STATS_DTYPE
from engine.signals import as_signal
from strategies import Strategy
from strategies import run as run_strategy


@dataclass(frozen=True)
class Window:
    """One walk-forward window: bar positions of its train and test parts."""

    number: int
    train_start: int
    train_end: int
    test_start: int
    test_end: int


def windows(
    ts: np.ndarray, train: Any, test: Any, step: Any = None, anchored: bool = False, embargo: int = 0
) -> list[Window]:
    """The windows over bar times ``ts`` (int64 ns); see the module docstring."""
    n = len(ts)
    if isinstance(embargo, bool) or not isinstance(embargo, (int, np.integer)) or embargo < 0:
        raise ValueError(f"embargo must be a whole number of bars >= 0, not {embargo!r}")

    def length(span: Any, start: int, name: str) -> int:
        """Bars that ``span`` covers from bar ``start``."""
        if isinstance(span, (int, np.integer)) and not isinstance(span, bool):
            if span < 1:
                raise ValueError(f"{name} must be >= 1 bar, not {span}")
            return int(span)
        try:
            delta = pd.Timedelta(span)
        except (TypeError, ValueError):
            raise ValueError(f"{name} is {span!r}; give a number of bars or a duration like '365D'") from None
        end = int(np.searchsorted(ts, ts[min(start, n - 1)] + delta.value, side="left"))
        return max(1, end - start)

    out: list[Window] = []
    train_start, train_end = 0, length(train, 0, "train")
    while True:
        test_start = train_end + embargo
        if test_start >= n:
            break
        test_end = min(test_start + length(test, test_start, "test"), n)
        out.append(Window(len(out), train_start, train_end, test_start, test_end))
        advance = (
            length(step, train_start if not anchored else train_end, "step")
            if step is not None
            else test_end - test_start
        )
        if anchored:
            train_end += advance
        else:
            train_start += advance
            train_end = train_start + length(train, train_start, "train")
    if not out:
        raise ValueError(f"no window fits in {n} bars with train={train!r}, test={test!r}, embargo={embargo}")
    return out


class WindowWork:
    """Backtests items ``(("train" | "test", window number), params)`` on window slices."""

    def __init__(self, strategy: type[Strategy], bars: engine.Bars, config: engine.Config, wins: list[Window]) -> None:
        self.strategy = strategy
        self.bars = bars
        self.config = config
        self.windows = {w.number: w for w in wins}
        self._slices: dict[tuple[int, int], engine.Bars] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_slices": {}}

    def slice(self, lo: int, hi: int) -> engine.Bars:
        key = (lo, hi)
        if key not in self._slices:
            self._slices[key] = self.bars[lo:hi]
        return self._slices[key]

    def span(self, part: str, number: int) -> tuple[int, int]:
        w = self.windows[number]
        return (w.train_start, w.train_end) if part == "train" else (w.test_start, w.test_end)

    def run(self, chunk: Chunk) -> ChunkResult:
        started = time.perf_counter()
        ids = np.asarray(chunk.item_ids, dtype=np.int64)
        (part, number) = chunk.items[0][0]
        lo, hi = self.span(part, number)
        window_bars = self.slice(lo, hi)
        stats = empty_stats(len(ids))
        errors: list[tuple[int, str]] = []
        want_curve = part == "test"
        curves: list[Any] = []
        for k, (item_id, (_, params)) in enumerate(zip(chunk.item_ids, chunk.items)):
            try:
                if self.strategy.is_vectorized():
                    history = self.slice(0, hi)
                    signal = as_signal(self.strategy(**params).signals(history), hi)[lo:hi]
                    res = engine.backtest(window_bars, signal, self.config, equity=want_curve, trades=want_curve)
                else:  # the same history before the window as a signal gets
                    res = run_strategy(
                        self.strategy,
                        self.slice(0, hi),
                        self.config,
                        params,
                        equity=want_curve,
                        trades=want_curve,
                        start=lo,
                    )
            except Exception as exc:
                errors.append((item_id, _error(exc)))
                curves.append(None)
                continue
            stats[k] = tuple(res.stats[name] for name in STATS_DTYPE.names or ())
            curves.append((res.equity.to_numpy(), res.trade_records) if want_curve else None)
        return ChunkResult(
            chunk.id, ids, stats, tuple(errors), curves if want_curve else None, seconds=time.perf_counter() - started
        )
