"""What a backtest's numbers do not say by themselves: risk events and why a metric is NaN.

``Result.risk_events`` lists each firing of a risk rule, as DESIGN.md's risk
rules record them: bar, time, symbol, rule, value. The rules are ``margin`` (the
liquidation of an account whose equity reached zero; value NaN) and the
config's risk rules (csrc/rules.h): ``max_weight`` (value: the exposure asked),
``max_drawdown_halt`` (the drawdown), ``daily_loss_limit`` (the day's loss) and
``cooldown`` (its bars). ``Result.notes``
says in words what happened and why each NaN statistic is NaN, so that
``sharpe = nan`` is never a riddle.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from engine import _bindings
from engine.records import TRADE_METRICS

EVENT_COLUMNS = ("bar", "time", "symbol", "rule", "value")
RULES_FROM_EXITS = {"margin": "margin"}
"""Exit reasons that are risk events (and the rule each one records)."""


def risk_events(
    trades: np.ndarray | None,
    index: pd.DatetimeIndex,
    symbol: str | None,
    events: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per risk event, in bar order: those found in the trade records
    (``engine.records.TRADE_DTYPE``) and the core's rule events
    (``engine.records.PF_EVENT_DTYPE``)."""
    rows = []
    if events is not None:
        for record in events:
            bar = int(record["bar"])
            rule = _bindings.RULE_NAMES.get(int(record["rule"]), str(int(record["rule"])))
            rows.append((bar, index[bar], symbol, rule, float(record["value"])))
    if trades is not None:
        for record in trades:
            reason = _bindings.EXIT_REASONS.get(int(record["exit_reason"]))
            if reason in RULES_FROM_EXITS:
                bar = int(record["exit_bar"])
                rows.append((bar, index[bar], symbol, RULES_FROM_EXITS[reason], math.nan))
    rows.sort(key=lambda row: row[0])  # stable: within a bar, the core's order
    return pd.DataFrame(rows, columns=list(EVENT_COLUMNS))


def event_notes(events: pd.DataFrame, equity_after: float | None) -> list[str]:
    """A sentence per risk event."""
    notes = []
    for event in events.itertuples(index=False):
        if event.rule == "margin":
            left = f" {equity_after:,.2f} was left" if equity_after is not None else ""
            notes.append(
                f"liquidated at bar {event.bar} ({event.time}): equity reached zero or below, "
                f"everything held was closed at that close and no trades after;{left}".rstrip(";")
            )
    return notes


def nan_notes(stats: dict[str, float], n_bars: int) -> list[str]:
    """Why each NaN statistic is NaN, one sentence per cause."""
    nan = {k for k, v in stats.items() if isinstance(v, float) and math.isnan(v)}
    notes = []
    if n_bars < 2 and nan & {"sharpe", "volatility", "sortino"}:
        notes.append("sharpe, sortino and volatility are NaN: a single bar has no spread of returns")
    elif "sharpe" in nan or "volatility" in nan:
        if stats.get("volatility") == 0.0 or "volatility" not in nan:
            why = "equity never changed" if stats.get("total_return") == 0.0 else "per-bar returns never varied"
            notes.append(f"sharpe is NaN: {why}")
    if "sortino" in nan and n_bars >= 2:
        notes.append("sortino is NaN: no bar lost money (no downside to measure)")
    if "calmar" in nan:
        notes.append(
            "calmar is NaN: there was no drawdown"
            if stats.get("max_drawdown") == 0.0
            else "calmar is NaN: annual return or drawdown is undefined"
        )
    trades = stats.get("total_trades", 0.0)
    if trades == 0:
        gone = [k for k in TRADE_METRICS if k in nan]
        if gone:
            notes.append(f"{', '.join(gone)} are NaN: no trade was closed")
        return notes
    if "avg_win" in nan:
        notes.append("avg_win is NaN: no trade made money")
    if "avg_loss" in nan:
        notes.append("avg_loss is NaN: no trade lost money")
    if "profit_factor" in nan:
        notes.append("profit_factor is NaN: no trade made or lost money")
    return notes
