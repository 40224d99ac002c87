"""``Result``: what one backtest returns — stats up front, bulky data on demand."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pandas as pd

from engine import _bindings, notes
from engine.records import METRICS, PERCENT_METRICS
from engine.reportable import Reportable

if TYPE_CHECKING:
    from engine.bars import Bars
    from engine.config import Config

TRADE_COLUMNS = (
    "entry_time",
    "exit_time",
    "entry_bar",
    "exit_bar",
    "direction",
    "units",
    "entry_price",
    "exit_price",
    "entry_fees",
    "exit_fees",
    "pnl",
    "return",
    "exit_reason",
)


def trade_columns(records: np.ndarray, times: pd.Index, reason: Callable[[int], str]) -> dict[str, Any]:
    """The ``TRADE_COLUMNS`` of a trades table from the core's trade records (a backtest's
    or a portfolio's: the fields they share), with bar times from ``times`` and each exit
    reason's name from ``reason``."""
    return {
        "entry_time": times[records["entry_bar"]],
        "exit_time": times[records["exit_bar"]],
        "entry_bar": records["entry_bar"],
        "exit_bar": records["exit_bar"],
        "direction": np.where(records["direction"] > 0, "long", "short"),
        "units": records["units"],
        "entry_price": records["entry_price"],
        "exit_price": records["exit_price"],
        "entry_fees": records["entry_fees"],
        "exit_fees": records["exit_fees"],
        "pnl": records["pnl"],
        "return": records["ret"],
        "exit_reason": [reason(int(r)) for r in records["exit_reason"]],
    }


def stats_dict(record: np.void) -> dict[str, float]:
    """The stats record as ``{metric name: float}`` in DESIGN.md's order."""
    return dict(zip(METRICS, record.item()))  # every field is a float64: item() gives floats


class Result(Reportable):
    """The outcome of ``engine.backtest``.

    Attributes:
        stats: metric name -> float (see ``engine.METRICS``).
        equity: equity at each bar's close, a Series indexed by bar time.
        trades: one row per closed trade.
        risk_events: one row per risk rule firing (bar, time, symbol, rule, value),
            in bar order: a ``margin`` liquidation, and the config's risk rules
            (``max_weight``, ``max_drawdown_halt``, ``daily_loss_limit``, ``cooldown``).
        notes: sentences on what the numbers do not say by themselves: a
            liquidation, and why each NaN statistic is NaN.
        config: the Config the backtest ran with.
    """

    def __init__(
        self,
        bars: Bars,
        config: Config,
        stats: dict[str, float],
        equity: np.ndarray | None,
        trade_records: np.ndarray | None,
        event_records: np.ndarray | None = None,
    ) -> None:
        self.bars = bars
        self.config = config
        self.stats = stats
        self._equity = equity
        self._trades = trade_records
        self._events = event_records

    @cached_property
    def equity(self) -> pd.Series:
        if self._equity is None:
            raise AttributeError("this backtest ran with equity=False; run it again with equity=True")
        return pd.Series(self._equity, index=self.bars.index, name="equity")

    @cached_property
    def trades(self) -> pd.DataFrame:
        if self._trades is None:
            raise AttributeError("this backtest ran with trades=False; run it again with trades=True")
        columns = trade_columns(self._trades, self.bars.index, _bindings.EXIT_REASONS.__getitem__)
        return pd.DataFrame(columns, columns=list(TRADE_COLUMNS))

    @cached_property
    def risk_events(self) -> pd.DataFrame:
        if self._trades is None:
            raise AttributeError("this backtest ran with trades=False; run it again with trades=True")
        return notes.risk_events(self._trades, self.bars.index, getattr(self.bars, "symbol", None), self._events)

    @cached_property
    def notes(self) -> list[str]:
        events = self.risk_events if self._trades is not None else None
        left = float(self._equity[-1]) if self._equity is not None and len(self._equity) else None
        said = notes.event_notes(events, left) if events is not None else []
        return said + notes.nan_notes(self.stats, len(self.bars))

    @property
    def trade_records(self) -> np.ndarray | None:
        """The raw trade records (``engine.records.TRADE_DTYPE``), without pandas."""
        return self._trades

    def __repr__(self) -> str:
        s = self.stats
        keys = ("total_return", "sharpe", "max_drawdown", "total_trades", "win_rate", "final_equity")
        body = ", ".join(f"{k}={s[k]:.4g}" for k in keys)
        return f"<Result {len(self.bars)} bars: {body}>"

    def summary(self) -> str:
        """The period (first bar, last bar, how many) and every metric on its own line,
        aligned, for reading in a terminal; counts as whole numbers."""
        width = max(map(len, self.stats))
        lines = [self._period(width)]
        for k, v in self.stats.items():
            if k in PERCENT_METRICS:
                lines.append(f"{k:<{width}}  {v * 100:>14.2f} %")
            elif k in _COUNTS and np.isfinite(v):
                lines.append(f"{k:<{width}}  {int(round(v)):>16,d}")
            else:
                lines.append(f"{k:<{width}}  {v:>16.4f}")
        return "\n".join(lines)

    def _period(self, width: int) -> str:
        index = self.bars.index
        n = len(index)
        if n == 0:
            return f"{'period':<{width}}  no bars"
        first, last = (_when(index[0]), _when(index[-1]))
        return f"{'period':<{width}}  {first} .. {last} ({n:,} bars)"


def _when(ts: pd.Timestamp) -> str:
    """A bar time as a date, or date and time for intraday bars."""
    return ts.strftime("%Y-%m-%d") if (ts.hour, ts.minute, ts.second) == (0, 0, 0) else ts.strftime("%Y-%m-%d %H:%M")


_COUNTS = {"total_trades", "max_drawdown_duration"}


def stats_from_equity(
    equity: np.ndarray,
    initial_capital: float,
    periods_per_year: float,
    *,
    in_market: np.ndarray | None = None,
    trades: np.ndarray | None = None,
) -> dict[str, float]:
    """Every metric of an equity curve (and optional trade records), computed by the
    core with the same definitions as a backtest — for stitched or resampled curves.

    Args:
        equity: equity at each bar's close (finite floats).
        initial_capital: the equity before the first bar.
        periods_per_year: bars per year, for annualising.
        in_market: per-bar flags for ``exposure`` (omitted: exposure 0).
        trades: ``engine.records.TRADE_DTYPE`` records for the trade metrics.
    """
    eq = np.ascontiguousarray(equity, dtype=np.float64)
    flags = None if in_market is None else np.ascontiguousarray(in_market, dtype=np.uint8)
    if flags is not None and len(flags) != len(eq):
        raise ValueError(f"in_market has {len(flags)} flags for {len(eq)} equity points")
    tr = None if trades is None else np.ascontiguousarray(trades)
    return stats_dict(_bindings.stats_from_equity(eq, float(initial_capital), float(periods_per_year), flags, tr))
