"""The report of a sweep (``cluster.SweepResult``): where the good region is and how
likely the best run is luck.

A heatmap over any two parameters (the others fixed at the best run's values, or the
mean or best over them — picked in the chart's menu), the metric against each
parameter, parallel coordinates when there are more than two, the Pareto front of a
multi-objective search, the optimisation history of a sampler, the top runs, and the
Deflated Sharpe and PBO read in one plain sentence. Every number is the result's.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from api.report import _display as d
from api.report._page import Report, Section, Table

TOP = 20
MAX_PAIRS = 10
SAMPLERS = ("tpe", "cmaes", "nsga2")
MODES = ("fixed", "mean", "best")


def frame_of(result: Any) -> pd.DataFrame:
    """The rows the charts draw: pooled over symbols when there are several, else the
    successful runs."""
    frame = result.pooled if result.pooled is not None else result.table
    if "error" in frame:
        frame = frame[frame["error"].isna()]
    return frame[frame[result.metric].notna()]


def build(result: Any, *, title: str | None = None) -> Report:
    """The report of ``result`` (a ``cluster.SweepResult``)."""
    metric = result.metric
    spec = (result.manifest or {}).get("spec", {})
    method = spec.get("method", "grid")
    strategy = spec.get("strategy", "strategy")
    frame = frame_of(result)
    n, failed = len(result.table), int(result.table["error"].notna().sum()) if "error" in result.table else 0
    rep = Report(
        "sweep",
        title or f"Sweep — {strategy}",
        f"{n:,} runs ({failed:,} failed), {method} search, ranked by {metric} "
        f"({'higher' if result.maximize else 'lower'} is better)",
    )
    try:
        best = result.best
    except ValueError:
        best = None
        rep.sections.append(Section("No successful run", note="Every run failed; see the error column of the table."))
    if best is not None:
        rep.headline = [(f"best {metric}", d.fmt(best[metric], metric))]
        rep.headline += [(p, d.fmt(best[p])) for p in result.params]
    params = [p for p in result.params if p in frame and frame[p].nunique(dropna=True) > 1]
    rep.sections.append(_diagnostics(result))
    if best is not None and len(params) >= 2:
        rep.sections.append(
            Section(
                "Heatmap over two parameters",
                heatmap(result, frame, params, best),
                key="heatmap",
                note="Pick the pair and how the other parameters are treated in the menus: "
                "fixed at the best run's values, or the mean or best over them.",
            )
        )
    if params:
        rep.sections.append(
            Section(
                f"{metric} against each parameter",
                marginals(result, frame, params),
                key="marginals",
                note="Each point is a run; the line is the mean per value.",
            )
        )
    if len(params) > 2:
        rep.sections.append(Section("Parallel coordinates", parallel(result, frame, params), key="parallel"))
    if result.pareto is not None and len(result.pareto):
        rep.sections.append(Section("Pareto front", pareto(result), key="pareto"))
    if method in SAMPLERS:
        rep.sections.append(Section("Optimisation history", history(result), key="history"))
    rep.sections.append(Section(f"Top {TOP} runs by {metric}", table=top_table(result, frame), key="top"))
    rep.sections.append(Section("Provenance", table=Table(("field", "value"), _provenance(result)), key="provenance"))
    return rep


def _diagnostics(result: Any) -> Section:
    diag = result.diagnostics or {}
    dsr = (diag.get("deflated_sharpe") or {}).get("dsr")
    pbo = (diag.get("pbo") or {}).get("pbo")
    rows = []
    sentences = []
    if dsr is not None and not math.isnan(dsr):
        rows.append(("Deflated Sharpe (probability the best run's true Sharpe is above zero)", f"{dsr:.3f}"))
        trials = diag.get("trials", len(result.table))
        if dsr >= 0.95:
            sentences.append(
                f"After allowing for the {trials:,} trials searched, the best run's Sharpe is very "
                f"unlikely to be luck ({dsr:.0%} confidence it is real)."
            )
        elif dsr >= 0.5:
            sentences.append(
                f"After allowing for the {trials:,} trials searched, the best run's Sharpe may be "
                f"luck: only {dsr:.0%} confidence it is above zero."
            )
        else:
            sentences.append(
                f"After allowing for the {trials:,} trials searched, the best run's Sharpe is "
                f"probably luck ({dsr:.0%} confidence it is above zero)."
            )
    if pbo is not None and not math.isnan(pbo):
        rows.append(("PBO (probability of backtest overfitting)", f"{pbo:.3f}"))
        sentences.append(
            f"In {pbo:.0%} of the in-sample/out-of-sample splits the in-sample winner did worse "
            f"than the median out of sample" + (" — a sign of overfitting." if pbo >= 0.5 else ".")
        )
    if not rows:
        sentences.append(
            "No deflated Sharpe or PBO: the sweep had fewer than two successful runs "
            "(PBO also needs keep_returns=True)."
        )
    elif pbo is None:
        sentences.append("PBO needs the runs' per-bar returns: run the sweep with keep_returns=True.")
    return Section(
        "Is the best run luck?",
        table=Table(("diagnostic", "value"), rows) if rows else None,
        note=" ".join(sentences),
        key="diagnostics",
    )


def _grid(
    frame: pd.DataFrame, metric: str, a: str, b: str, mode: str, best: dict[str, Any], others: list[str], maximize: bool
) -> tuple[list[Any], list[Any], np.ndarray]:
    sub = frame
    if mode == "fixed":
        for o in others:
            sub = sub[sub[o] == best[o]]
    g = sub.groupby([b, a], sort=True)[metric]
    agg = g.mean() if mode == "mean" else (g.max() if maximize else g.min()) if mode == "best" else g.first()
    table = agg.unstack(a)
    xs, ys = list(table.columns), list(table.index)
    return xs, ys, table.to_numpy(dtype=np.float64)


def heatmap(result: Any, frame: pd.DataFrame, params: list[str], best: dict[str, Any]) -> go.Figure:
    """One heatmap trace per (pair, mode); menus show one at a time. The first trace is
    the first pair with the others fixed at the best run's values."""
    metric = result.metric
    pairs = list(itertools.combinations(params, 2))[:MAX_PAIRS]
    fig = go.Figure()
    labels = []
    for a, b in pairs:
        others = [p for p in params if p not in (a, b)]
        for mode in MODES if others else ("fixed",):
            xs, ys, z = _grid(frame, metric, a, b, mode, best, others, result.maximize)
            fig.add_trace(
                go.Heatmap(
                    x=[str(x) for x in xs],
                    y=[str(y) for y in ys],
                    z=z,
                    colorscale="Viridis",
                    reversescale=not result.maximize,
                    visible=not labels,
                    name=f"{a} × {b} ({mode})",
                    hovertemplate=f"{a}=%{{x}}<br>{b}=%{{y}}<br>{metric}=%{{z:.4g}}<extra></extra>",
                    colorbar={"title": metric},
                    meta={"x": a, "y": b, "mode": mode},
                )
            )
            labels.append((a, b, mode))
    fig.add_trace(
        go.Scatter(
            x=[str(best[pairs[0][0]])],
            y=[str(best[pairs[0][1]])],
            mode="markers",
            name="best run",
            marker={"symbol": "star", "size": 16, "color": "#f7c948", "line": {"width": 1}},
        )
    )
    buttons = []
    for i, (a, b, mode) in enumerate(labels):
        vis = [j == i for j in range(len(labels))] + [True]
        buttons.append(
            {
                "label": f"{a} × {b} — {mode}",
                "method": "update",
                "args": [
                    {
                        "visible": vis,
                        "x": [None] * len(labels) + [[str(best[a])]],
                        "y": [None] * len(labels) + [[str(best[b])]],
                    },
                    {"xaxis.title.text": a, "yaxis.title.text": b},
                ],
            }
        )
    fig.update_layout(
        height=520,
        template=d.TEMPLATE,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        xaxis={"title": pairs[0][0], "type": "category"},
        yaxis={"title": pairs[0][1], "type": "category"},
        updatemenus=[{"buttons": buttons, "x": 0, "y": 1.12, "xanchor": "left"}] if len(buttons) > 1 else [],
    )
    return fig


def marginals(result: Any, frame: pd.DataFrame, params: list[str]) -> go.Figure:
    from plotly.subplots import make_subplots

    metric = result.metric
    fig = make_subplots(rows=1, cols=len(params), shared_yaxes=True, subplot_titles=params)
    sample = frame if len(frame) <= 5000 else frame.sample(5000, random_state=0)
    for i, p in enumerate(params, start=1):
        fig.add_trace(
            go.Scatter(
                x=sample[p],
                y=sample[metric],
                mode="markers",
                showlegend=False,
                marker={"size": 4, "color": "#9aa5b1", "opacity": 0.5},
            ),
            row=1,
            col=i,
        )
        mean = frame.groupby(p, sort=True)[metric].mean()
        fig.add_trace(
            go.Scatter(
                x=mean.index, y=mean.to_numpy(), mode="lines+markers", showlegend=False, line={"color": "#2680c2"}
            ),
            row=1,
            col=i,
        )
    fig.update_yaxes(title_text=metric, col=1)
    fig.update_layout(height=320, template=d.TEMPLATE, margin={"l": 60, "r": 20, "t": 40, "b": 30})
    return fig


def parallel(result: Any, frame: pd.DataFrame, params: list[str]) -> go.Figure:
    metric = result.metric
    dims = []
    for p in params:
        v = frame[p]
        if pd.api.types.is_numeric_dtype(v):
            dims.append({"label": p, "values": v.to_numpy(dtype=np.float64)})
        else:
            cats = sorted(v.astype(str).unique())
            dims.append(
                {
                    "label": p,
                    "values": v.astype(str).map({c: i for i, c in enumerate(cats)}).to_numpy(),
                    "tickvals": list(range(len(cats))),
                    "ticktext": cats,
                }
            )
    m = frame[metric].to_numpy(dtype=np.float64)
    dims.append({"label": metric, "values": m})
    fig = go.Figure(
        go.Parcoords(
            dimensions=dims,
            line={"color": m, "colorscale": "Viridis", "reversescale": not result.maximize, "showscale": True},
        )
    )
    fig.update_layout(height=420, template=d.TEMPLATE, margin={"l": 60, "r": 60, "t": 50, "b": 30})
    return fig


def pareto(result: Any) -> go.Figure:
    spec = (result.manifest or {}).get("spec", {})
    objectives = spec.get("objectives") or [result.metric, "max_drawdown"]
    a, b = objectives[0], objectives[1] if len(objectives) > 1 else "max_drawdown"
    runs = frame_of(result)
    front = result.pareto.sort_values(a)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=runs[a], y=runs[b], mode="markers", name="runs", marker={"color": "#cbd2d9", "size": 5}))
    fig.add_trace(
        go.Scatter(
            x=front[a], y=front[b], mode="lines+markers", name="Pareto front", marker={"color": "#d64545", "size": 8}
        )
    )
    fig.update_layout(
        height=420,
        template=d.TEMPLATE,
        xaxis={"title": a},
        yaxis={"title": b},
        margin={"l": 60, "r": 20, "t": 20, "b": 50},
    )
    return fig


def history(result: Any) -> go.Figure:
    metric = result.metric
    t = result.table.sort_values("item_id", kind="stable")
    y = t[metric].to_numpy(dtype=np.float64)
    filled = np.where(np.isfinite(y), y, -np.inf if result.maximize else np.inf)
    running = np.maximum.accumulate(filled) if result.maximize else np.minimum.accumulate(filled)
    running = np.where(np.isfinite(running), running, np.nan)
    trial = np.arange(len(t))
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=trial, y=y, mode="markers", name="trial", marker={"size": 5, "color": "#9aa5b1"}))
    fig.add_trace(go.Scatter(x=trial, y=running, mode="lines", name="best so far", line={"color": "#2680c2"}))
    fig.update_layout(
        height=320,
        template=d.TEMPLATE,
        xaxis={"title": "trial"},
        yaxis={"title": metric},
        margin={"l": 60, "r": 20, "t": 20, "b": 50},
    )
    return fig


def top_table(result: Any, frame: pd.DataFrame) -> Table:
    metric = result.metric
    cols = [c for c in ("symbol",) if c in frame and result.pooled is None] + list(result.params)
    shown = ["total_return", "annual_return", "sharpe", "sortino", "max_drawdown", "total_trades", "win_rate"]
    metrics = [metric] + [m for m in shown if m != metric and m in frame]
    top = frame.sort_values(metric, ascending=not result.maximize, kind="stable").head(TOP)
    rows = [
        [i + 1] + [d.fmt(r[c]) for c in cols] + [d.fmt(r[m], m) for m in metrics]
        for i, (_, r) in enumerate(top.iterrows())
    ]
    return Table(
        ["#", *cols, *metrics],
        rows,
        caption=f"{len(frame):,} successful runs" + (" (averaged over symbols)" if result.pooled is not None else ""),
    )


def _provenance(result: Any) -> list[tuple[str, str]]:
    from api.report._page import dumps

    m = result.manifest or {}
    spec = m.get("spec", {})
    rows = [(k, dumps(v) if not isinstance(v, str) else v) for k, v in spec.items() if k != "config"]
    rows += [(f"config.{k}", str(v)) for k, v in (spec.get("config") or {}).items()]
    rows += [
        ("data hash", str(m.get("data", "—"))),
        ("code version", str(m.get("code", "—"))),
        ("seed", str(m.get("seed", "—"))),
        ("job hash", str(m.get("job", "—"))),
    ]
    return rows
