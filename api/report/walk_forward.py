"""The report of a walk-forward run (``cluster.WalkForwardResult``): did the
optimisation hold up out of sample, window by window?

The windows on a timeline (train / embargo / test), the parameters chosen per window,
in-sample against out-of-sample metric per window, the stitched out-of-sample equity
against buy-and-hold over the same bars, and the efficiency. Every number is the
result's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from api.report import _display as d
from api.report._page import Report, Section, Table
from api.report.sweep import _provenance

KEY_METRICS = ("total_return", "annual_return", "sharpe", "max_drawdown", "total_trades")


def _params(result: Any) -> list[str]:
    spec = (result.manifest or {}).get("spec", {})
    space = spec.get("space") or {}
    searched = space.get("search") if isinstance(space, dict) else None
    names = list(searched) if isinstance(searched, dict) else []
    skip = {"window", "train_start", "train_end", "test_start", "test_end", "efficiency"}
    return [
        c
        for c in (names or result.windows.columns)
        if c in result.windows and c not in skip and not c.startswith(("is_", "oos_"))
    ]


def build(result: Any, *, title: str | None = None) -> Report:
    """The report of ``result`` (a ``cluster.WalkForwardResult``)."""
    spec = (result.manifest or {}).get("spec", {})
    w = result.windows
    metric = result.metric
    rep = Report(
        "walk_forward",
        title or f"Walk-forward — {spec.get('strategy', 'strategy')}",
        f"{len(w):,} windows, chosen by in-sample {metric}; out-of-sample parts stitched into one curve",
    )
    rep.headline = [(f"out-of-sample {k}", d.fmt(result.stats.get(k), k)) for k in KEY_METRICS]
    rep.headline.append(("efficiency", d.fmt(result.efficiency)))
    params = _params(result)
    rep.sections.append(
        Section(
            "Windows",
            timeline(result),
            key="timeline",
            note="Each row is a window: the parameters are chosen on the train part and "
            "traded on the test part; the embargo is skipped.",
        )
    )
    rep.sections.append(Section(f"In-sample against out-of-sample {metric}", in_vs_out(result), key="is_oos"))
    rep.sections.append(
        Section(
            "Stitched out-of-sample equity",
            equity(result),
            key="equity",
            note=f"Walk-forward efficiency {d.fmt(result.efficiency)}: the out-of-sample "
            "annual return over the mean in-sample annual return of the chosen "
            "parameters (near 1 holds up; near 0 or below does not).",
        )
    )
    if params:
        rep.sections.append(Section("Parameters chosen per window", chosen(result, params), key="params"))
    rows = []
    for _, r in w.iterrows():
        rows.append(
            [int(r["window"]), d.when(r["train_start"]), d.when(r["test_start"]), d.when(r["test_end"])]
            + [d.fmt(r[p]) for p in params]
            + [
                d.fmt(r.get(f"is_{metric}"), metric),
                d.fmt(r.get(f"oos_{metric}"), metric),
                d.fmt(r.get("oos_total_return"), "total_return"),
                d.fmt(r.get("efficiency")),
            ]
        )
    rep.sections.append(
        Section(
            "Windows table",
            table=Table(
                [
                    "window",
                    "train from",
                    "test from",
                    "test to",
                    *params,
                    f"in-sample {metric}",
                    f"out-of-sample {metric}",
                    "out-of-sample return",
                    "efficiency",
                ],
                rows,
            ),
            key="windows",
        )
    )
    rep.sections.append(
        Section("Out-of-sample statistics", table=Table(("metric", "value"), d.stats_rows(result.stats)), key="stats")
    )
    rep.sections.append(Section("Provenance", table=Table(("field", "value"), _provenance(result)), key="provenance"))
    return rep


def timeline(result: Any) -> go.Figure:
    w = result.windows
    fig = go.Figure()
    labels = [f"window {int(n)}" for n in w["window"]]
    ms = lambda a, b: (pd.to_datetime(b) - pd.to_datetime(a)).dt.total_seconds() * 1000  # noqa: E731
    fig.add_trace(
        go.Bar(
            y=labels,
            base=w["train_start"],
            x=ms(w["train_start"], w["train_end"]),
            orientation="h",
            name="train",
            marker_color="#9fb3c8",
        )
    )
    skipped = embargo_bars(result)
    if (skipped > 0).any():
        # from the last train bar to the first test bar, for the windows that skip bars
        gap = ms(w["train_end"], w["test_start"]).where(skipped > 0, 0.0)
        fig.add_trace(
            go.Bar(
                y=labels,
                base=w["train_end"],
                x=gap,
                orientation="h",
                name="embargo",
                marker_color="#f0b429",
                customdata=skipped,
                hovertemplate="%{y}: %{customdata} bars skipped<extra></extra>",
            )
        )
    fig.add_trace(
        go.Bar(
            y=labels,
            base=w["test_start"],
            x=ms(w["test_start"], w["test_end"]),
            orientation="h",
            name="test",
            marker_color="#2680c2",
        )
    )
    fig.update_layout(
        barmode="overlay",
        height=max(240, 26 * len(w) + 90),
        template=d.TEMPLATE,
        xaxis={"type": "date"},
        yaxis={"autorange": "reversed"},
        margin={"l": 90, "r": 20, "t": 20, "b": 30},
    )
    return fig


def embargo_bars(result: Any) -> pd.Series:
    """Bars skipped between each window's last train bar and its first test bar (the
    embargo), counted on the bars the run used, else read from its manifest's windows
    (0 when it has neither). Adjacent bars are apart in time, so the window's times
    alone cannot tell an embargo."""
    w = result.windows
    index = getattr(getattr(result, "bars", None), "index", None)
    if index is not None and len(index):
        last_train = np.searchsorted(index, pd.DatetimeIndex(w["train_end"]))
        first_test = np.searchsorted(index, pd.DatetimeIndex(w["test_start"]))
        return pd.Series(first_test - last_train - 1, index=w.index)
    spans = ((result.manifest or {}).get("spec") or {}).get("windows") or []
    if len(spans) == len(w):
        return pd.Series([s["test_start"] - s["train_end"] for s in spans], index=w.index)
    return pd.Series(0, index=w.index)  # a result that knows neither: none drawn


def in_vs_out(result: Any) -> go.Figure:
    w = result.windows
    m = result.metric
    fig = go.Figure()
    for prefix, name, colour in (("is_", "in-sample", "#9fb3c8"), ("oos_", "out-of-sample", "#2680c2")):
        col = f"{prefix}{m}"
        if col in w:
            fig.add_trace(go.Bar(x=[str(int(n)) for n in w["window"]], y=w[col], name=name, marker_color=colour))
    fig.update_layout(
        barmode="group",
        height=300,
        template=d.TEMPLATE,
        xaxis={"title": "window"},
        yaxis={"title": m},
        margin={"l": 60, "r": 20, "t": 20, "b": 50},
    )
    return fig


def equity(result: Any) -> go.Figure:
    eq = result.equity
    fig = go.Figure()
    if len(eq):
        v = eq.to_numpy()
        idx = d.thin(v)
        fig.add_trace(
            go.Scatter(
                x=d.times(eq.index)[idx], y=v[idx], name="walk-forward (out of sample)", line={"color": "#2680c2"}
            )
        )
        bars = getattr(result, "bars", None)
        if bars is not None:
            hold = _initial(result) * np.cumprod(1.0 + held_returns(bars, eq.index))
            panel = np.ndim(bars.close) == 2
            fig.add_trace(
                go.Scatter(
                    x=d.times(eq.index)[idx],
                    y=hold[idx],
                    name="equal-weight buy and hold (same bars)" if panel else "buy and hold (same bars)",
                    line={"color": "#9aa5b1", "dash": "dot"},
                )
            )
    fig.update_layout(
        height=360, template=d.TEMPLATE, margin={"l": 60, "r": 20, "t": 20, "b": 30}, hovermode="x unified"
    )
    return fig


def held_returns(bars: Any, at: pd.Index) -> np.ndarray:
    """Each bar's close-to-close move at the times ``at``: of the series held (``engine.Bars``),
    or for a universe (``engine.Panel``) the mean move of the symbols tradable on both bars
    (an equal-weight basket rebalanced every bar; 0 where none is)."""
    close = np.asarray(bars.close, dtype=np.float64)
    pos = np.clip(np.searchsorted(bars.index, at), 0, len(close) - 1)
    now, prev = close[pos], close[np.maximum(pos - 1, 0)]
    ok = np.isfinite(now) & np.isfinite(prev) & (prev > 0)
    moves = np.where(ok, now / np.where(ok, prev, 1.0) - 1.0, 0.0)
    if moves.ndim == 1:
        return moves
    counted = ok.sum(axis=1)
    return np.where(counted > 0, moves.sum(axis=1) / np.maximum(counted, 1), 0.0)


def _initial(result: Any) -> float:
    cfg = ((result.manifest or {}).get("spec") or {}).get("config") or {}
    return float(cfg.get("initial_capital", 10_000.0))


def chosen(result: Any, params: list[str]) -> go.Figure:
    from plotly.subplots import make_subplots

    w = result.windows
    fig = make_subplots(rows=len(params), cols=1, shared_xaxes=True, subplot_titles=params)
    for i, p in enumerate(params, start=1):
        fig.add_trace(
            go.Scatter(x=w["window"], y=w[p], mode="lines+markers", name=p, line={"shape": "hv"}), row=i, col=1
        )
    fig.update_layout(
        height=140 * len(params) + 80,
        template=d.TEMPLATE,
        showlegend=False,
        margin={"l": 60, "r": 20, "t": 30, "b": 30},
    )
    fig.update_xaxes(title_text="window", row=len(params), col=1)
    return fig
