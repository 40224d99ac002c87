"""A job's results as people read them: one layout per job kind.

Works from plain data — the ``summary`` dict of ``api.specs.summary`` and the
result table (a DataFrame; rows as dicts work too) — so a job run here and a job
fetched from a service look the same. Only the rows shown become dicts: ranking
and counting are vectorized (``api.cli.tables``), so a million-run sweep reports
as fast as a small one.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import pandas as pd

from api.cli import tables
from api.cli.output import cell, pairs, plain, table
from engine.records import METRICS

Rows = pd.DataFrame | Sequence[Mapping[str, Any]]

KEY_METRICS = ("total_return", "annual_return", "sharpe", "max_drawdown", "total_trades", "win_rate")
SWEEP_TOP = 10


def kind_name(kind: str) -> str:
    return kind.replace("_", "-")


def text(
    kind: str,
    summary: Mapping[str, Any],
    rows: Rows,
    *,
    metric: str = "sharpe",
    top: int | None = None,
    title: str = "",
    pooled: Rows | None = None,
    view: tables.SweepView | None = None,
    spread: Mapping[str, Sequence[float]] | None = None,
) -> str:
    """The report of a finished job of ``kind`` (``backtest``, ``sweep``, ...).

    ``view`` (a sweep) and ``spread`` (Monte Carlo percentiles) may come ready-made,
    say from a Parquet file on disk; otherwise they are computed from ``rows``.
    """
    frame = tables.frame_of(rows)
    if kind == "sweep":
        if view is None:
            n = top or SWEEP_TOP
            view = tables.sweep_view(frame, metric, n, tables.frame_of(pooled) if pooled is not None else None)
        body = _sweep(summary, view, metric, top)
    elif kind == "monte_carlo":
        body = _monte_carlo(summary, frame, metric, spread)
    elif kind == "walk_forward":
        body = _walk_forward(summary, frame, metric, top)
    else:
        body = _backtest(summary, frame, top)
    return f"{title}\n{body}" if title else body


def _backtest(summary: Mapping[str, Any], trades: pd.DataFrame, top: int | None) -> str:
    stats = summary.get("stats") or {}
    lines = [pairs((k, stats.get(k)) for k in METRICS if k in stats)]
    held = summary.get("buy_and_hold")
    if held:
        lines.append("buy and hold: " + ", ".join(f"{k} {cell(k, v)}" for k, v in held.items()))
    count = int(summary.get("trades", len(trades)))
    if top and len(trades):
        shown = trades.tail(top).to_dict("records")
        lines += ["", table(shown, _trade_columns(trades.columns))]
    lines.append("")
    lines.append(
        f"{count:,} closed trade{'s' if count != 1 else ''}"
        + ("" if top else " (--top N shows the last N; --out FILE writes them all)")
    )
    return "\n".join(lines)


def _trade_columns(columns: Sequence[str]) -> list[str]:
    wanted = (
        "entry_time",
        "exit_time",
        "direction",
        "units",
        "entry_price",
        "exit_price",
        "pnl",
        "return",
        "exit_reason",
    )
    return [c for c in wanted if c in columns]


def param_columns(rows: Rows, extra: Sequence[str] = ()) -> list[str]:
    """The parameter columns of sweep rows: whatever is not a metric or bookkeeping."""
    frame = tables.frame_of(rows)
    return tables.param_columns(frame.columns, METRICS, extra)


def has_error(row: Mapping[str, Any]) -> bool:
    """Whether a result row records a failure (its ``error`` is text, not null / NaN)."""
    err = plain(row.get("error"))
    return isinstance(err, str) and bool(err)


def ranked(rows: Rows, metric: str, n: int | None = None) -> pd.DataFrame:
    """Rows best first by ``metric`` (runs without it last); with ``n``, the first ``n``."""
    return tables.best_first(tables.frame_of(rows), metric, n)


def _sweep(summary: Mapping[str, Any], view: tables.SweepView, metric: str, top: int | None) -> str:
    runs = int(summary.get("runs", view.runs))
    n = top or SWEEP_TOP
    best_rows = view.best.to_dict("records")
    params = tables.param_columns(view.best.columns, METRICS)
    cols = ([] if view.pooled or view.symbols <= 1 else ["symbol"]) + params
    cols += [m for m in dict.fromkeys([metric, *KEY_METRICS])]
    if any(has_error(r) for r in best_rows):
        cols.append("error")
    where = "averaged over symbols, " if view.pooled else ""
    head = f"{runs:,} runs, {view.failed:,} failed; top {min(n, len(best_rows))} by {metric} ({where}best first)"
    lines = [head, table(best_rows, cols)] if best_rows else [head]
    best = summary.get("best")
    lines.append("")
    if best:
        at = " ".join(f"{p}={cell(p, best.get(p))}" for p in params if p in best)
        lines.append(f"best: {metric} {cell(metric, best.get(metric))} at {at}")
        others = ", ".join(f"{k} {cell(k, best.get(k))}" for k in KEY_METRICS if k != metric and k in best)
        lines.append(f"      {others}")
    else:
        lines.append(f"best: none ({why_no_best(runs, view.failed, metric, view.first_error)})")
    if summary.get("deflated_sharpe") is not None:
        lines.append(
            f"deflated Sharpe ratio of the best run: {cell('dsr', summary['deflated_sharpe'])} "
            "(the chance its Sharpe is not luck, given how many were tried)"
        )
    return "\n".join(lines)


def why_no_best(runs: int, failed: int, metric: str, first_error: str | None = None) -> str:
    """Why a sweep has no best run, in words that say what to look at."""
    if runs == 0:
        return "the space has no point that meets the strategy's constraints; widen it"
    if failed >= runs:
        said = f"; the first error: {first_error}" if first_error else ""
        return f"every one of the {runs:,} runs failed{said}"
    return f"no run produced a {metric}; {failed:,} of {runs:,} failed and the rest have no {metric}"


def _walk_forward(summary: Mapping[str, Any], windows: pd.DataFrame, metric: str, top: int | None) -> str:
    params = param_columns(windows, ("window", "train_start", "train_end", "test_start", "test_end", "efficiency"))
    cols = [
        "window",
        "test_start",
        "test_end",
        *params,
        f"is_{metric}",
        f"oos_{metric}",
        "oos_total_return",
        "efficiency",
    ]
    shown = (windows.head(top) if top else windows).to_dict("records")
    lines = [
        f"{len(windows)} windows (parameters chosen on each train window, traded on its test window)",
        table(shown, [c for c in cols if windows.empty or c in windows.columns]),
        "",
        "out of sample, windows stitched:",
    ]
    stats = summary.get("stats") or {}
    keys = list(dict.fromkeys([metric, *KEY_METRICS]))
    items = [(k, stats.get(k)) for k in keys if k in stats]
    items.append(("efficiency", summary.get("efficiency")))
    lines.append(_indent(pairs(items)))
    return "\n".join(lines)


def _monte_carlo_head(summary: Mapping[str, Any], metric: str, n: int) -> str:
    """The first line: paths, the real value, the p-value of a permutation test (or why
    there is none), and how many paths had no value of ``metric``."""
    real = plain((summary.get("real") or {}).get(metric))
    p = plain(summary.get("p_value"))
    head = f"{n:,} paths; real {metric} {cell(metric, real) if real is not None else 'NaN'}"
    if p is not None:
        head += f", p-value {p:.4f} (the share of paths that do as well)"
    elif summary.get("method") == "permutation":
        head += f", p-value NaN (the real run's {metric} is NaN, e.g. it never traded)"
    nan_paths = int(plain(summary.get("nan_paths")) or 0)
    if nan_paths:
        head += f"; {nan_paths:,} path{'s' if nan_paths != 1 else ''} with {metric} NaN, left out"
    return head


def _monte_carlo(
    summary: Mapping[str, Any], paths: pd.DataFrame, metric: str, spread: Mapping[str, Sequence[float]] | None
) -> str:
    real = summary.get("real") or {}
    intervals = summary.get("intervals") or {}
    n = summary.get("paths", len(paths))
    lines = [_monte_carlo_head(summary, metric, n)]
    keys = list(dict.fromkeys([metric, *intervals] if intervals else [metric, *KEY_METRICS]))
    if spread is None:  # a bootstrap has no trades
        spread = tables.quantiles(paths, keys)
    out: list[dict[str, Any]] = []
    for k in keys:
        row: dict[str, Any] = {"metric": k, "real": real.get(k)}
        if k in intervals:
            row["low"], row["high"] = intervals[k][0], intervals[k][1]
        if k in spread:
            row["p5"], row["median"], row["p95"] = spread[k]
        out.append(row)
    cols = ["metric", "real"] + (["low", "high"] if intervals else []) + ["p5", "median", "p95"]
    heads = {"p5": "paths p5", "median": "paths median", "p95": "paths p95"}
    if intervals:
        heads.update(low="interval low", high="interval high")
    lines.append(_by_row_table(out, cols, heads))
    return "\n".join(lines)


def spread_keys(summary: Mapping[str, Any], metric: str) -> list[str]:
    """The metrics a Monte Carlo report gives percentiles of."""
    intervals = summary.get("intervals") or {}
    return list(dict.fromkeys([metric, *intervals] if intervals else [metric, *KEY_METRICS]))


def _by_row_table(rows: list[dict[str, Any]], cols: list[str], heads: Mapping[str, str]) -> str:
    """A table whose rows are metrics: each row's numbers formatted as its metric."""
    shown = [{c: (r["metric"] if c == "metric" else cell(r["metric"], r.get(c))) for c in cols} for r in rows]
    return table(shown, cols, heads, right=cols[1:])


def _indent(block: str, by: str = "  ") -> str:
    return "\n".join(by + line for line in block.split("\n"))


def document(kind: str, summary: Mapping[str, Any], *, count: int, **extra: Any) -> dict[str, Any]:
    """The head of the ``--json`` document: kind, anything in ``extra``, summary, count;
    ``output.print_document`` adds the rows."""
    return {"kind": kind, **extra, "summary": dict(summary), "count": count}
