"""A job's results as people read them: one layout per job kind.

Works from plain data — the ``summary`` dict of ``api.specs.summary`` and the
result rows as dicts — so a job run here and a job fetched from a service look
the same.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from api.cli.output import cell, pairs, plain, table

# engine.METRICS and cluster.jobs.MINIMIZED, copied so that the HTTP client
# commands need not import the engine; tests/api/test_cli_args.py keeps them equal.
METRICS = (
    "total_return", "annual_return", "net_pnl", "final_equity", "total_fees", "sharpe", "sortino",
    "calmar", "max_drawdown", "max_drawdown_duration", "volatility", "total_trades", "win_rate",
    "profit_factor", "avg_trade_return", "best_trade", "worst_trade", "avg_win", "avg_loss",
    "expectancy", "exposure", "avg_bars_held",
)  # fmt: skip
MINIMIZED = frozenset({"max_drawdown", "max_drawdown_duration", "volatility", "total_fees"})
KEY_METRICS = ("total_return", "annual_return", "sharpe", "max_drawdown", "total_trades", "win_rate")
NOT_PARAMS = frozenset({"item_id", "symbol", "error", "path", "window", *METRICS})
SWEEP_TOP = 10


def kind_name(kind: str) -> str:
    return kind.replace("_", "-")


def text(kind: str, summary: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], *,
         metric: str = "sharpe", top: int | None = None, title: str = "",
         pooled: Sequence[Mapping[str, Any]] | None = None) -> str:  # fmt: skip
    """The report of a finished job of ``kind`` (``backtest``, ``sweep``, ...)."""
    body = {
        "backtest": _backtest,
        "sweep": _sweep,
        "walk_forward": _walk_forward,
        "monte_carlo": _monte_carlo,
    }[kind](summary, rows, metric, top, pooled)
    return f"{title}\n{body}" if title else body


def _backtest(summary: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], metric: str, top: int | None,
              pooled: Any) -> str:  # fmt: skip
    stats = summary.get("stats") or {}
    lines = [pairs((k, stats.get(k)) for k in METRICS if k in stats)]
    trades = len(rows)
    if top and rows:
        lines += ["", table(rows[-top:], _trade_columns(rows))]
    lines.append("")
    lines.append(f"{trades:,} closed trade{'s' if trades != 1 else ''}"
                 + ("" if top else " (--top N shows the last N; --out FILE writes them all)"))  # fmt: skip
    return "\n".join(lines)


def _trade_columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    wanted = ("entry_time", "exit_time", "direction", "units", "entry_price", "exit_price", "pnl", "return",
              "exit_reason")  # fmt: skip
    return [c for c in wanted if c in rows[0]]


def param_columns(rows: Sequence[Mapping[str, Any]], extra: Sequence[str] = ()) -> list[str]:
    """The parameter columns of sweep rows: whatever is not a metric or bookkeeping."""
    if not rows:
        return []
    skip = NOT_PARAMS | set(extra)
    return [c for c in rows[0] if c not in skip and not c.startswith(("is_", "oos_"))]


def has_error(row: Mapping[str, Any]) -> bool:
    """Whether a result row records a failure (its ``error`` is text, not null / NaN)."""
    err = plain(row.get("error"))
    return isinstance(err, str) and bool(err)


def ranked(rows: Sequence[Mapping[str, Any]], metric: str) -> list[Mapping[str, Any]]:
    """Rows best first by ``metric`` (runs without it last)."""
    ok = [r for r in rows if plain(r.get(metric)) is not None and not isinstance(r.get(metric), str)]
    rest = [r for r in rows if r not in ok]
    ok.sort(key=lambda r: float(r[metric]), reverse=metric not in MINIMIZED)
    return ok + rest


def _sweep(summary: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], metric: str, top: int | None,
           pooled: Sequence[Mapping[str, Any]] | None) -> str:  # fmt: skip
    runs = summary.get("runs", len(rows))
    failed = sum(1 for r in rows if has_error(r))
    shown_from = list(pooled) if pooled else list(rows)
    params = param_columns(shown_from)
    symbols = {r.get("symbol") for r in rows}
    n = top or SWEEP_TOP
    best_rows = ranked(shown_from, metric)[:n]
    cols = ([] if pooled or len(symbols) <= 1 else ["symbol"]) + params
    cols += [m for m in dict.fromkeys([metric, *KEY_METRICS])]
    if any(has_error(r) for r in best_rows):
        cols.append("error")
    where = "averaged over symbols, " if pooled else ""
    head = f"{runs:,} runs, {failed:,} failed; top {min(n, len(best_rows))} by {metric} ({where}best first)"
    lines = [head, table(best_rows, cols)] if best_rows else [head]
    best = summary.get("best")
    lines.append("")
    if best:
        at = " ".join(f"{p}={cell(p, best.get(p))}" for p in params if p in best)
        lines.append(f"best: {metric} {cell(metric, best.get(metric))} at {at}")
        others = ", ".join(f"{k} {cell(k, best.get(k))}" for k in KEY_METRICS if k != metric and k in best)
        lines.append(f"      {others}")
    else:
        lines.append(f"best: none (no run produced a {metric}; see the error column)")
    if summary.get("deflated_sharpe") is not None:
        lines.append(f"deflated Sharpe ratio of the best run: {cell('dsr', summary['deflated_sharpe'])} "
                     "(the chance its Sharpe is not luck, given how many were tried)")  # fmt: skip
    return "\n".join(lines)


def _walk_forward(summary: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], metric: str,
                  top: int | None, pooled: Any) -> str:  # fmt: skip
    params = param_columns(rows, ("train_start", "train_end", "test_start", "test_end", "efficiency"))
    cols = ["window", "test_start", "test_end", *params, f"is_{metric}", f"oos_{metric}", "oos_total_return",
            "efficiency"]  # fmt: skip
    shown = list(rows)[:top] if top else list(rows)
    lines = [f"{len(rows)} windows (parameters chosen on each train window, traded on its test window)",
             table(shown, [c for c in cols if not rows or c in rows[0]]), "",
             "out of sample, windows stitched:"]  # fmt: skip
    stats = summary.get("stats") or {}
    keys = list(dict.fromkeys([metric, *KEY_METRICS]))
    items = [(k, stats.get(k)) for k in keys if k in stats]
    items.append(("efficiency", summary.get("efficiency")))
    lines.append(_indent(pairs(items)))
    return "\n".join(lines)


def _monte_carlo(summary: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], metric: str,
                 top: int | None, pooled: Any) -> str:  # fmt: skip
    import numpy as np

    real = summary.get("real") or {}
    intervals = summary.get("intervals") or {}
    n = summary.get("paths", len(rows))
    lines = []
    if summary.get("p_value") is not None:
        lines.append(f"{n:,} paths; real {metric} {cell(metric, real.get(metric))}, "
                     f"p-value {summary['p_value']:.4f} (the share of paths that do as well)")  # fmt: skip
    else:
        lines.append(f"{n:,} paths; real {metric} {cell(metric, real.get(metric))}")
    out: list[dict[str, Any]] = []
    keys = [metric, *intervals] if intervals else [metric, *KEY_METRICS]  # a bootstrap has no trades
    for k in dict.fromkeys(keys):
        vals = np.array([float(r[k]) for r in rows if isinstance(plain(r.get(k)), (int, float))], dtype=float)
        vals = vals[np.isfinite(vals)]
        row: dict[str, Any] = {"metric": k, "real": real.get(k)}
        if k in intervals:
            row["low"], row["high"] = intervals[k][0], intervals[k][1]
        if len(vals):
            row["p5"], row["median"], row["p95"] = (np.percentile(vals, q) for q in (5, 50, 95))
        out.append(row)
    cols = ["metric", "real"] + (["low", "high"] if intervals else []) + ["p5", "median", "p95"]
    heads = {"p5": "paths p5", "median": "paths median", "p95": "paths p95"}
    if intervals:
        heads.update(low="interval low", high="interval high")
    lines.append(_by_row_table(out, cols, heads))
    return "\n".join(lines)


def _by_row_table(rows: list[dict[str, Any]], cols: list[str], heads: Mapping[str, str]) -> str:
    """A table whose rows are metrics: each row's numbers formatted as its metric."""
    shown = [{c: (r["metric"] if c == "metric" else cell(r["metric"], r.get(c))) for c in cols} for r in rows]
    return table(shown, cols, heads, right=cols[1:])


def _indent(block: str, by: str = "  ") -> str:
    return "\n".join(by + line for line in block.split("\n"))


def document(kind: str, summary: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], *,
             total: int | None = None, **extra: Any) -> dict[str, Any]:  # fmt: skip
    """The ``--json`` document: kind, summary, rows (and anything in ``extra``)."""
    return {"kind": kind, **extra, "summary": dict(summary), "count": len(rows) if total is None else total,
            "rows": list(rows)}  # fmt: skip
