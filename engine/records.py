"""numpy twins of the C records in csrc/anvil.h (same fields, same layout).

tests/engine/test_records.py checks sizes and field offsets against the core.
"""

from __future__ import annotations

import numpy as np

METRICS: tuple[str, ...] = (
    "total_return",
    "annual_return",
    "net_pnl",
    "final_equity",
    "total_fees",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "max_drawdown_duration",
    "volatility",
    "total_trades",
    "win_rate",
    "profit_factor",
    "avg_trade_return",
    "best_trade",
    "worst_trade",
    "avg_win",
    "avg_loss",
    "expectancy",
    "exposure",
    "avg_bars_held",
)
"""Metric names, in the order of the stats record (DESIGN.md)."""

TRADE_METRICS: tuple[str, ...] = METRICS[METRICS.index("win_rate") : METRICS.index("exposure")] + ("avg_bars_held",)
"""The metrics of closed trades (NaN until a trade closes), in METRICS's order."""

MINIMIZED = frozenset({"max_drawdown", "max_drawdown_duration", "volatility", "total_fees"})
"""Metrics where smaller is better; every other one ranks largest first."""

PERCENT_METRICS = frozenset(
    {
        "total_return",
        "annual_return",
        "max_drawdown",
        "volatility",
        "win_rate",
        "avg_trade_return",
        "best_trade",
        "worst_trade",
        "avg_win",
        "avg_loss",
        "exposure",
    }
)
"""Metrics that are fractions (0.05 = 5 %), shown as percentages."""

STATS_DTYPE = np.dtype([(name, np.float64) for name in METRICS], align=True)

# The risk rules' fields: a backtest's config ends with them (csrc/rules.h), a portfolio's
# config holds its own after the base config.
_RISK_FIELDS = [
    ("max_weight", np.float64),
    ("max_drawdown_halt", np.float64),
    ("daily_loss_limit", np.float64),
    ("halt_bars", np.int64),
    ("cooldown_bars", np.int64),
]

CONFIG_DTYPE = np.dtype(
    [
        ("initial_capital", np.float64),
        ("fee_rate", np.float64),
        ("fee_per_unit", np.float64),
        ("fixed_fee", np.float64),
        ("slippage_bps", np.float64),
        ("stop_loss", np.float64),
        ("take_profit", np.float64),
        ("trailing_stop", np.float64),
        ("max_leverage", np.float64),
        ("periods_per_year", np.float64),
        ("fill", np.int32),
        ("allow_short", np.int32),
        ("integer_units", np.int32),
        ("close_at_end", np.int32),
        *_RISK_FIELDS,  # the risk rules of one series; portfolios read their own fields
    ],
    align=True,
)

_TRADE_FIELDS = [
    ("entry_bar", np.int64),
    ("exit_bar", np.int64),
    ("units", np.float64),
    ("entry_price", np.float64),
    ("exit_price", np.float64),
    ("entry_fees", np.float64),
    ("exit_fees", np.float64),
    ("pnl", np.float64),
    ("ret", np.float64),
    ("direction", np.int32),
    ("exit_reason", np.int32),
]

TRADE_DTYPE = np.dtype(_TRADE_FIELDS, align=True)


# -- portfolios (issue 10; csrc/anvil.h, the portfolio block) -----------------

PF_CONFIG_DTYPE = np.dtype(
    [
        ("base", CONFIG_DTYPE),
        ("borrow_rate", np.float64),
        ("rebalance_threshold", np.float64),
        *_RISK_FIELDS,
    ],
    align=True,
)

PF_TRADE_DTYPE = np.dtype([*_TRADE_FIELDS, ("symbol", np.int64)], align=True)  # a trade and its symbol's column

PF_EVENT_DTYPE = np.dtype(
    [("bar", np.int64), ("symbol", np.int64), ("rule", np.int32), ("reserved", np.int32), ("value", np.float64)],
    align=True,
)

PF_EXTRA_DTYPE = np.dtype(
    [
        ("turnover", np.float64),
        ("traded", np.float64),
        ("borrow_cost", np.float64),
        ("n_trades", np.int64),
        ("n_events", np.int64),
    ],
    align=True,
)
