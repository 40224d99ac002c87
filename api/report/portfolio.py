"""The report of a portfolio run (``engine.backtest_portfolio``'s ``PortfolioResult``).

A portfolio result is read by attribute, so this module imports nothing of the
portfolio code: ``equity`` (Series), ``stats`` (dict; ``turnover`` among them), and
when present ``panel`` (for its symbols), ``weights`` (DataFrame: time x symbol, kept
when the backtest was asked to), ``contributions`` (Series or dict: symbol -> P&L),
``turnover`` (a Series over time, if a result has one), ``events`` or ``risk_events``
(DataFrame with ``time`` and ``rule`` — or ``kind`` — columns), ``config`` and
``manifest``. Missing attributes leave their section out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from api.report import _display as d
from api.report._page import Report, Section, Table

KEY_METRICS = ("total_return", "annual_return", "sharpe", "max_drawdown", "total_trades", "turnover")


def build(result: Any, *, title: str | None = None) -> Report:
    """The report of a portfolio result (see the module docstring for what it reads)."""
    equity: pd.Series = result.equity
    stats = getattr(result, "stats", {}) or {}
    weights = getattr(result, "weights", None)
    panel = getattr(result, "panel", None)
    if panel is not None:
        symbols = list(panel.symbols)
    else:
        symbols = list(weights.columns) if isinstance(weights, pd.DataFrame) else []
    rep = Report("portfolio", title or "Portfolio", f"{len(symbols)} symbols, {len(equity):,} bars")
    rep.headline = [(k, d.fmt(stats[k], k)) for k in KEY_METRICS if k in stats]
    fig = go.Figure()
    v = equity.to_numpy()
    idx = d.thin(v)
    fig.add_trace(go.Scatter(x=d.times(equity.index)[idx], y=v[idx], name="equity", line={"color": "#2680c2"}))
    events = getattr(result, "events", None)
    if not isinstance(events, pd.DataFrame):
        events = getattr(result, "risk_events", None)
    if isinstance(events, pd.DataFrame) and len(events):
        label = events["rule"] if "rule" in events else events["kind"]
        if "symbol" in events:
            label = label.astype(str) + " " + events["symbol"].fillna("portfolio").astype(str)
        at = equity.reindex(pd.DatetimeIndex(events["time"]), method="ffill")
        fig.add_trace(
            go.Scatter(
                x=events["time"],
                y=at.to_numpy(),
                mode="markers",
                name="risk events",
                text=label.astype(str),
                marker={"symbol": "x", "color": "#d64545", "size": 9},
            )
        )
    fig.update_layout(height=360, template=d.TEMPLATE, margin={"l": 60, "r": 20, "t": 20, "b": 30})
    rep.sections.append(Section("Equity and risk events", fig, key="equity"))
    if isinstance(weights, pd.DataFrame) and len(weights):
        widx = d.thin(np.arange(len(weights), dtype=np.float64))
        wf = go.Figure(
            [
                go.Scatter(x=d.times(weights.index)[widx], y=weights[c].to_numpy()[widx], name=str(c), stackgroup="w")
                for c in weights.columns
            ]
        )
        wf.update_layout(
            height=320, template=d.TEMPLATE, yaxis={"tickformat": ".0%"}, margin={"l": 60, "r": 20, "t": 20, "b": 30}
        )
        rep.sections.append(Section("Weights over time", wf, key="weights"))
    contrib = getattr(result, "contributions", None)
    if contrib is not None:
        c = pd.Series(contrib).sort_values()
        cf = go.Figure(
            go.Bar(
                x=c.to_numpy(),
                y=[str(s) for s in c.index],
                orientation="h",
                marker_color=["#2f8132" if x >= 0 else "#d64545" for x in c.to_numpy()],
            )
        )
        cf.update_layout(
            height=max(240, 24 * len(c) + 80), template=d.TEMPLATE, margin={"l": 80, "r": 20, "t": 20, "b": 30}
        )
        rep.sections.append(Section("Contribution per symbol", cf, key="contributions"))
    turnover = getattr(result, "turnover", None)
    if isinstance(turnover, pd.Series) and len(turnover):
        t = turnover.to_numpy(dtype=np.float64)
        tidx = d.thin(t)
        tf = go.Figure(
            go.Scatter(x=d.times(turnover.index)[tidx], y=t[tidx], name="turnover", line={"color": "#7c5e10"})
        )
        tf.update_layout(height=260, template=d.TEMPLATE, margin={"l": 60, "r": 20, "t": 20, "b": 30})
        rep.sections.append(Section("Turnover", tf, key="turnover"))
    rep.sections.append(Section("Statistics", table=Table(("metric", "value"), d.stats_rows(stats)), key="stats"))
    return rep
