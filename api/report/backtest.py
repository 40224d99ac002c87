"""The report of one backtest (``engine.Result``): price with trades, equity against
buy-and-hold, drawdown, monthly and yearly returns, rolling Sharpe, trade returns,
every metric, the config and where the numbers came from.

Every metric shown is ``result.stats``; the charts draw ``result.equity``,
``result.trades`` and ``result.bars`` (thinned for display only).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from api.report import _display as d
from api.report._page import Report, Section, Table

KEY_METRICS = ("total_return", "annual_return", "sharpe", "max_drawdown", "total_trades", "win_rate")
EXIT_STYLE = {  # exit reason -> (label, marker symbol, colour)
    "signal": ("exit (signal)", "x", "#52606d"),
    "stop_loss": ("exit (stop-loss)", "x-thin-open", "#d64545"),
    "take_profit": ("exit (take-profit)", "star", "#2f8132"),
    "trailing_stop": ("exit (trailing stop)", "x-open", "#c65d21"),
}
MAX_TRADE_MARKERS = 5000
TRADE_ROWS = 200


def build(
    result: Any,
    *,
    title: str | None = None,
    indicators: Mapping[str, Any] | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> Report:
    """The report of ``result`` (an ``engine.Result`` run with equity and trades).

    Args:
        title: the report's title (default: the symbol and bar count).
        indicators: name -> one value per bar, drawn over the price (default: the
            lines the strategy exposes, ``Strategy.report_lines``, when
            ``strategies.run`` ran it).
        provenance: extra facts for the provenance table (e.g. strategy, params).
    """
    problem = ""
    if indicators is None:
        indicators, problem = _exposed(result)
    bars = result.bars
    equity: pd.Series = result.equity
    stats = result.stats
    cfg = result.config
    symbol = getattr(bars, "symbol", None) or "series"
    rep = Report(
        "backtest",
        title or f"Backtest — {symbol}",
        f"{len(bars):,} bars, {d.when(bars.index[0])} to {d.when(bars.index[-1])}",
    )
    rep.headline = [(k, d.fmt(stats[k], k)) for k in KEY_METRICS if k in stats]
    trades = _trades(result)
    rep.sections.append(
        Section(
            "Price, trades, equity and drawdown",
            _panels(result, equity, trades, indicators),
            key="panels",
            note="Entries are triangles; exits are marked by why they happened "
            "(signal, stop-loss, take-profit). Equity is drawn against buying "
            "and holding the same series with the same capital." + problem,
        )
    )
    dd = d.underwater(equity)
    worst = d.worst_drawdowns(dd)
    rep.sections.append(
        Section(
            "Worst drawdowns",
            table=Table(
                ("#", "depth", "peak", "trough", "recovered", "bars"),
                [
                    (
                        i + 1,
                        d.fmt(p["depth"], "max_drawdown"),
                        d.when(p["start"]),
                        d.when(p["trough"]),
                        d.when(p["end"]) if p["recovered"] else "not yet",
                        f"{p['bars']:,}",
                    )
                    for i, p in enumerate(worst)
                ],
            ),
            note=f"Maximum drawdown {d.fmt(stats.get('max_drawdown'), 'max_drawdown')}, lasting "
            f"{d.fmt(stats.get('max_drawdown_duration'), 'max_drawdown_duration')} bars.",
            key="drawdowns",
        )
    )
    rep.sections.append(Section("Monthly returns", _monthly(equity, cfg.initial_capital), key="monthly"))
    rep.sections.append(Section("Yearly returns", _yearly(equity, cfg.initial_capital), key="yearly"))
    ppy = cfg.periods_per_year or bars.periods_per_year()
    rep.sections.append(
        Section(
            "Rolling Sharpe",
            _rolling(equity, cfg.initial_capital, ppy),
            key="rolling_sharpe",
            note=f"Annualised Sharpe of the last {_window(ppy):,} bars (about a year).",
        )
    )
    rep.sections.append(
        Section("Trade returns", _distribution(trades), key="trade_returns", note=f"{len(trades):,} closed trades.")
    )
    rep.sections.append(Section("Statistics", table=Table(("metric", "value"), d.stats_rows(stats)), key="stats"))
    rep.sections.append(Section("Trades", table=_trade_table(trades), key="trades"))
    rep.sections.append(
        Section(
            "Config and provenance", table=Table(("field", "value"), _provenance(result, provenance)), key="provenance"
        )
    )
    return rep


def _exposed(result: Any) -> tuple[Mapping[str, Any], str]:
    """The strategy's own lines (``result.report_lines()``, set by ``strategies.run``),
    and a sentence for the report when they cannot be drawn (the report is drawn anyway)."""
    lines = getattr(result, "report_lines", None)
    if not callable(lines):
        return {}, ""
    try:
        return lines(), ""
    except Exception as exc:  # noqa: BLE001 - a strategy's bug must not cost the whole report
        return {}, f" The strategy's own lines are not drawn: {type(exc).__name__}: {exc}"


def _trades(result: Any) -> pd.DataFrame:
    try:
        return result.trades
    except AttributeError:
        return pd.DataFrame(
            columns=[
                "entry_time",
                "exit_time",
                "entry_price",
                "exit_price",
                "direction",
                "return",
                "pnl",
                "exit_reason",
            ]
        )


def _window(ppy: float) -> int:
    return max(5, int(round(ppy)))


def _panels(result: Any, equity: pd.Series, trades: pd.DataFrame, indicators: Mapping[str, Any] | None) -> go.Figure:
    bars = result.bars
    close = np.asarray(bars.close)
    times = d.times(bars.index)
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.03,
        row_heights=[0.5, 0.3, 0.2],
        subplot_titles=("price", "equity", "drawdown"),
    )
    idx = d.thin(close)
    fig.add_trace(
        go.Scatter(x=times[idx], y=close[idx], name="close", line={"color": "#323f4b", "width": 1}), row=1, col=1
    )
    for name, values in (indicators or {}).items():
        v = np.asarray(values, dtype=np.float64)
        fig.add_trace(go.Scatter(x=times[idx], y=v[idx], name=str(name), line={"width": 1}), row=1, col=1)
    shown = trades.tail(MAX_TRADE_MARKERS)
    if len(shown):
        for direction, symbol, colour in (("long", "triangle-up", "#2f8132"), ("short", "triangle-down", "#d64545")):
            t = shown[shown["direction"] == direction]
            if len(t):
                fig.add_trace(
                    go.Scatter(
                        x=d.times(t["entry_time"]),
                        y=t["entry_price"],
                        mode="markers",
                        name=f"entry ({direction})",
                        marker={"symbol": symbol, "size": 9, "color": colour},
                        customdata=t["return"],
                        hovertemplate="entry %{x}<br>%{y}<extra></extra>",
                    ),
                    row=1,
                    col=1,
                )
        for reason, t in shown.groupby("exit_reason", sort=True):
            label, symbol, colour = EXIT_STYLE.get(str(reason), (f"exit ({reason})", "circle-open", "#7b8794"))
            fig.add_trace(
                go.Scatter(
                    x=d.times(t["exit_time"]),
                    y=t["exit_price"],
                    mode="markers",
                    name=label,
                    marker={"symbol": symbol, "size": 9, "color": colour, "line": {"width": 2}},
                    customdata=t["return"],
                    hovertemplate="exit %{x}<br>%{y}<br>trade return %{customdata:.2%}<extra></extra>",
                ),
                row=1,
                col=1,
            )
    eq = equity.to_numpy()
    eidx = d.thin(eq)
    fig.add_trace(
        go.Scatter(x=times[eidx], y=eq[eidx], name="equity", line={"color": "#2680c2", "width": 1.5}), row=2, col=1
    )
    hold = result.config.initial_capital * close / close[0] if len(close) and close[0] else close
    fig.add_trace(
        go.Scatter(
            x=times[idx], y=hold[idx], name="buy and hold", line={"color": "#9aa5b1", "width": 1, "dash": "dot"}
        ),
        row=2,
        col=1,
    )
    dd = d.underwater(equity).to_numpy()
    didx = d.thin(dd)
    fig.add_trace(
        go.Scatter(x=times[didx], y=dd[didx], name="drawdown", fill="tozeroy", line={"color": "#d64545", "width": 1}),
        row=3,
        col=1,
    )
    for p in d.worst_drawdowns(d.underwater(equity), top=3):
        fig.add_vrect(
            x0=d.stamp(p["start"]), x1=d.stamp(p["end"]), fillcolor="#d64545", opacity=0.08, line_width=0, row=3, col=1
        )
    fig.update_yaxes(tickformat=".0%", row=3, col=1)
    fig.update_layout(
        height=760,
        template=d.TEMPLATE,
        margin={"l": 50, "r": 20, "t": 30, "b": 30},
        legend={"orientation": "h", "y": -0.05},
        hovermode="x unified",
    )
    return fig


def _monthly(equity: pd.Series, capital: float) -> go.Figure:
    monthly = d.period_returns(equity, capital, "ME")
    fig = go.Figure()
    if len(monthly):
        years = sorted(set(monthly.index.year))
        grid = np.full((len(years), 12), np.nan)
        for ts, r in monthly.items():
            grid[years.index(ts.year), ts.month - 1] = r
        text = [["" if math.isnan(v) else f"{v * 100:.1f}" for v in row] for row in grid]
        fig.add_trace(
            go.Heatmap(
                z=grid,
                x=["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
                y=[str(y) for y in years],
                text=text,
                texttemplate="%{text}",
                colorscale="RdYlGn",
                zmid=0,
                hovertemplate="%{y} %{x}: %{z:.2%}<extra></extra>",
                colorbar={"tickformat": ".0%"},
            )
        )
    fig.update_layout(
        height=max(260, 22 * len(set(monthly.index.year)) + 120),
        template=d.TEMPLATE,
        margin={"l": 50, "r": 20, "t": 20, "b": 30},
        yaxis={"autorange": "reversed", "type": "category"},
    )
    return fig


def _yearly(equity: pd.Series, capital: float) -> go.Figure:
    yearly = d.period_returns(equity, capital, "YE")
    colours = ["#2f8132" if r >= 0 else "#d64545" for r in yearly.to_numpy()]
    fig = go.Figure(
        go.Bar(
            x=[str(t.year) for t in yearly.index],
            y=yearly.to_numpy(),
            marker_color=colours,
            hovertemplate="%{x}: %{y:.2%}<extra></extra>",
        )
    )
    fig.update_layout(
        height=280,
        template=d.TEMPLATE,
        margin={"l": 50, "r": 20, "t": 20, "b": 30},
        yaxis={"tickformat": ".0%"},
        xaxis={"type": "category"},
    )
    return fig


def _rolling(equity: pd.Series, capital: float, ppy: float) -> go.Figure:
    returns = pd.Series(d.per_bar_returns(equity.to_numpy(), capital), index=equity.index)
    rs = d.rolling_sharpe(returns, _window(ppy), ppy).to_numpy()
    idx = d.thin(np.nan_to_num(rs))
    fig = go.Figure(
        go.Scatter(x=d.times(equity.index)[idx], y=rs[idx], name="rolling Sharpe", line={"color": "#7c5e10"})
    )
    fig.add_hline(y=0, line={"color": "#9aa5b1", "width": 1})
    fig.update_layout(height=260, template=d.TEMPLATE, margin={"l": 50, "r": 20, "t": 20, "b": 30})
    return fig


def _distribution(trades: pd.DataFrame) -> go.Figure:
    r = trades["return"].to_numpy(dtype=np.float64) if len(trades) else np.array([])
    fig = go.Figure()
    fig.add_trace(go.Histogram(x=r[r >= 0], name="winners", marker_color="#2f8132", opacity=0.8, nbinsx=40))
    fig.add_trace(go.Histogram(x=r[r < 0], name="losers", marker_color="#d64545", opacity=0.8, nbinsx=40))
    fig.update_layout(
        height=280,
        template=d.TEMPLATE,
        barmode="overlay",
        margin={"l": 50, "r": 20, "t": 20, "b": 30},
        xaxis={"tickformat": ".1%", "title": "trade return"},
        yaxis={"title": "trades"},
    )
    return fig


def _trade_table(trades: pd.DataFrame) -> Table:
    cols = ("entry_time", "exit_time", "direction", "entry_price", "exit_price", "return", "pnl", "exit_reason")
    shown = trades.tail(TRADE_ROWS)
    rows = [
        (d.when(e), d.when(x), side, d.fmt(ep), d.fmt(xp), d.fmt(r, "avg_trade_return"), d.fmt(pnl), why)
        for e, x, side, ep, xp, r, pnl, why in shown[list(cols)].itertuples(index=False, name=None)
    ]
    cap = (
        f"the last {len(shown):,} of {len(trades):,} trades (all of them: result.trades)"
        if len(trades) > TRADE_ROWS
        else f"{len(trades):,} trades"
    )
    return Table(cols, rows, cap)


def _provenance(result: Any, extra: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    from cluster import data as data_mod
    from cluster import manifest

    bars = result.bars
    symbol = getattr(bars, "symbol", None) or "series"
    rows = [(k, str(v)) for k, v in (extra or {}).items()]
    rows += [(f"config.{k}", d.fmt(v) if isinstance(v, float) else str(v)) for k, v in result.config.to_dict().items()]
    rows += [
        ("data", f"{symbol}: {len(bars):,} bars, {d.when(bars.index[0])} to {d.when(bars.index[-1])}"),
        ("data hash", data_mod.fingerprint({symbol: bars})),
        ("code version", manifest.code_version()),
        ("seed", "none (a backtest is deterministic)"),
    ]
    return rows
