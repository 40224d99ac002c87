"""The report of a Monte Carlo run (``cluster.MonteCarloResult``): what luck looks like
next to the real result.

The distribution of the metric over the simulated paths with the real value and the
p-value marked; for the bootstraps, a fan chart of equity (percentile bands of the
first paths, rebuilt exactly as the workers drew them from ``(seed, index)``) and the
intervals table. Every metric shown is the result's.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import plotly.graph_objects as go

from api.report import _display as d
from api.report._page import Report, Section, Table
from api.report.sweep import _provenance

FAN_PATHS = 500
BANDS = ((5, 95), (25, 75))


def build(result: Any, *, title: str | None = None) -> Report:
    """The report of ``result`` (a ``cluster.MonteCarloResult``)."""
    spec = (result.manifest or {}).get("spec", {})
    metric = result.metric
    real = result.real.get(metric, float("nan"))
    rep = Report(
        "monte_carlo",
        title or f"Monte Carlo — {spec.get('strategy', 'strategy')}",
        f"{result.method.replace('_', ' ')}, {len(result.paths):,} paths, about {metric}",
    )
    rep.headline = [(f"real {metric}", d.fmt(real, metric))]
    if result.p_value is not None:
        p = result.p_value
        rep.headline.append(("p-value", f"{p:.4f}" if not math.isnan(p) else "NaN (the real run has no value)"))
    for m, (lo, hi) in result.intervals.items():
        if m == metric:
            rep.headline.append((f"{result.confidence:.0%} interval", f"{d.fmt(lo, m)} … {d.fmt(hi, m)}"))
    rep.sections.append(
        Section(f"Distribution of {metric}", distribution(result), key="distribution", note=_reading(result))
    )
    fan = fan_chart(result)
    if fan is not None:
        rep.sections.append(
            Section(
                "Bootstrap fan chart",
                fan,
                key="fan",
                note=f"Percentile bands (5–95 %, 25–75 %) and the median of the first "
                f"{min(FAN_PATHS, len(result.paths)):,} resampled equity paths.",
            )
        )
    if result.intervals:
        rows = [
            (m, d.fmt(result.real.get(m), m), d.fmt(lo, m), d.fmt(hi, m)) for m, (lo, hi) in result.intervals.items()
        ]
        rep.sections.append(
            Section(
                f"{result.confidence:.0%} intervals",
                table=Table(("metric", "real", "low", "high"), rows),
                key="intervals",
            )
        )
    rep.sections.append(Section("Real run", table=Table(("metric", "value"), d.stats_rows(result.real)), key="real"))
    rep.sections.append(Section("Provenance", table=Table(("field", "value"), _provenance(result)), key="provenance"))
    return rep


def _reading(result: Any) -> str:
    p = result.p_value
    left_out = getattr(result, "nan_paths", 0)
    tail = (
        f" {left_out:,} path{'s' if left_out != 1 else ''} with {result.metric} NaN (e.g. never traded) "
        "are not drawn and count for nothing."
        if left_out
        else ""
    )
    if p is None:
        return "The bootstrap resamples the real run's returns: the spread shows how much the result could vary." + tail
    if math.isnan(p):
        return (
            f"No p-value: the real run's {result.metric} is NaN (e.g. it never traded), so there is nothing to test."
            + tail
        )
    verdict = "unlikely to be luck" if p < 0.05 else "could well be luck"
    return (
        f"p-value {p:.4f}: {p:.1%} of shuffled price paths did at least as well as the real run — "
        f"the result is {verdict}." + tail
    )


def distribution(result: Any) -> go.Figure:
    metric = result.metric
    v = result.paths[metric].to_numpy(dtype=np.float64) if len(result.paths) else np.array([])
    v = v[np.isfinite(v)]
    fig = go.Figure(go.Histogram(x=v, nbinsx=60, name="simulated paths", marker_color="#9fb3c8"))
    real = result.real.get(metric, float("nan"))
    if math.isfinite(real):
        label = f"real {metric} {d.fmt(real, metric)}"
        if result.p_value is not None:
            label += f" (p = {result.p_value:.4f})"
        fig.add_vline(
            x=real, line={"color": "#d64545", "width": 3}, annotation_text=label, annotation_position="top right"
        )
    for m, (lo, hi) in result.intervals.items():
        if m == metric:
            fig.add_vrect(x0=lo, x1=hi, fillcolor="#2680c2", opacity=0.08, line_width=0)
    fig.update_layout(
        height=340,
        template=d.TEMPLATE,
        xaxis={"title": metric},
        yaxis={"title": "paths"},
        margin={"l": 60, "r": 20, "t": 30, "b": 50},
        showlegend=False,
    )
    return fig


def fan_paths(result: Any, count: int = FAN_PATHS) -> np.ndarray | None:
    """``[count, steps]`` equity of the first bootstrap paths, rebuilt from the seed."""
    sample = getattr(result, "sample", None)
    if result.method == "permutation" or sample is None or len(result.paths) == 0:
        return None
    from cluster.monte_carlo import resample

    spec = (result.manifest or {}).get("spec", {})
    seed = int(spec.get("seed", 0))
    block = int(spec.get("block", 20)) if result.method == "block_bootstrap" else 1
    capital = float((spec.get("config") or {}).get("initial_capital", 10_000.0))
    paths = [
        capital * np.cumprod(1.0 + resample(sample, np.random.default_rng([seed, int(i)]), block))
        for i in result.paths["path"].to_numpy()[:count]
    ]
    return np.stack(paths)


def fan_chart(result: Any) -> go.Figure | None:
    paths = fan_paths(result)
    if paths is None:
        return None
    steps = paths.shape[1]
    x = np.arange(1, steps + 1)
    idx = d.thin(np.arange(steps, dtype=np.float64), 1000) if steps > 1000 else np.arange(steps)
    q = np.percentile(paths[:, idx], [5, 25, 50, 75, 95], axis=0)
    spec = (result.manifest or {}).get("spec", {})
    unit = "trade" if spec.get("of") == "trades" else "bar"
    fig = go.Figure()
    for (lo, hi), alpha in zip(BANDS, (0.18, 0.32)):
        i_lo, i_hi = [5, 25, 50, 75, 95].index(lo), [5, 25, 50, 75, 95].index(hi)
        fig.add_trace(go.Scatter(x=x[idx], y=q[i_hi], line={"width": 0}, showlegend=False, hoverinfo="skip"))
        fig.add_trace(
            go.Scatter(
                x=x[idx],
                y=q[i_lo],
                fill="tonexty",
                fillcolor=f"rgba(38,128,194,{alpha})",
                line={"width": 0},
                name=f"{lo}–{hi} %",
            )
        )
    fig.add_trace(go.Scatter(x=x[idx], y=q[2], name="median", line={"color": "#2680c2"}))
    real_eq = getattr(result, "real_equity", None)
    if real_eq is not None and unit == "bar" and len(real_eq) == steps:
        fig.add_trace(go.Scatter(x=x[idx], y=np.asarray(real_eq)[idx], name="real run", line={"color": "#d64545"}))
    fig.update_layout(
        height=380,
        template=d.TEMPLATE,
        xaxis={"title": unit},
        yaxis={"title": "equity"},
        margin={"l": 60, "r": 20, "t": 20, "b": 50},
    )
    return fig
