"""``SweepResult``: what a sweep gives back, and its overfitting diagnostics.

Its own module, so that the grid and random sweep (``cluster.sweep``) and the
Optuna sweep (``cluster.optuna_search``) both build it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import engine
from cluster import diagnostics, jobs
from cluster.scheduler import JobRun
from cluster.sinks import Sink
from cluster.space import Space
from engine.reportable import Reportable


@dataclass
class SweepResult(Reportable):
    """The outcome of a sweep.

    Attributes:
        table: one row per run: ``symbol``, the parameters, every metric, ``error``.
        metric, maximize: what ``best`` ranks by.
        pooled: with several symbols, metrics averaged per parameter set.
        best: the best parameter set and its metrics (pooled over symbols).
        pareto: for ``nsga2``, the non-dominated rows.
        diagnostics: deflated Sharpe of the best result, and PBO when returns were kept.
        plan, run, manifest: what was planned, what happened, what reproduces it.
        study: the Optuna study, for the sampler methods.
    """

    table: pd.DataFrame
    metric: str
    maximize: bool
    params: tuple[str, ...]
    pooled: pd.DataFrame | None = None
    pareto: pd.DataFrame | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)
    plan: jobs.Plan | None = None
    run: JobRun | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    study: Any = None

    @property
    def best(self) -> dict[str, Any]:
        """The best row (parameters and metrics) by ``metric``."""
        frame = self.pooled if self.pooled is not None else self.table
        ok = frame[frame[self.metric].notna()]
        if ok.empty:
            raise ValueError(f"no run produced a {self.metric}; see the table's error column")
        row = ok.sort_values(self.metric, ascending=not self.maximize, kind="stable").iloc[0]
        return {k: jobs.np_py(v) for k, v in row.items() if k not in ("item_id", "error")}

    @property
    def best_params(self) -> dict[str, Any]:
        best = self.best
        return {k: best[k] for k in self.params}

    def to_parquet(self, path: str | Path) -> None:
        self.table.to_parquet(path, index=False)

    def to_csv(self, path: str | Path) -> None:
        self.table.to_csv(path, index=False)

    def __repr__(self) -> str:
        n, failed = len(self.table), int(self.table["error"].notna().sum())
        try:
            best = ", ".join(f"{k}={v}" for k, v in self.best_params.items())
            head = f"best {self.metric}={self.best[self.metric]:.4g} at {best}"
        except ValueError:
            head = "no successful run"
        return f"<SweepResult {n} runs ({failed} failed): {head}>"


def assemble(
    work: Any,
    sp: Space,
    symbols: list[str],
    sink: Sink,
    metric: str,
    maximize: bool,
    plan: jobs.Plan | None,
    run: JobRun | None,
    job_manifest: dict[str, Any],
    study: Any = None,
) -> SweepResult:
    frames = sink.frames()
    params = tuple(sp.strategy._params)
    if frames:
        table = pd.concat(frames, ignore_index=True).sort_values("item_id", kind="stable")
        table = table.reset_index(drop=True)
    else:
        table = pd.DataFrame(columns=["item_id", "symbol", *params, *engine.METRICS, "error"])
    pooled = None
    if len(symbols) > 1 and not table.empty:
        ok = table[table["error"].isna()]
        pooled = ok.groupby(list(params), sort=False, dropna=False)[list(engine.METRICS)].mean()
        pooled = pooled.reset_index()
    result = SweepResult(
        table, metric, maximize, params, pooled, plan=plan, run=run, manifest=job_manifest, study=study
    )
    result.diagnostics = _diagnostics(work, sp, symbols, table, sink, result)
    return result


def _diagnostics(
    work: Any, sp: Space, symbols: list[str], table: pd.DataFrame, sink: Sink, result: SweepResult
) -> dict[str, Any]:
    """Deflated Sharpe of the best run; PBO when per-bar returns were kept."""
    ok = table[table["error"].isna() & table["sharpe"].notna()]
    if len(ok) < 2:
        return {}
    symbol = symbols[0]
    first = ok[ok["symbol"] == symbol]
    if first.empty:
        return {}
    bars = work.bars[symbol]
    ppy = work.config.periods_per_year or bars.periods_per_year()
    per_bar_sharpe = first["sharpe"].to_numpy() / np.sqrt(ppy)
    best = first.sort_values(result.metric, ascending=not result.maximize, kind="stable").iloc[0]
    params = {k: jobs.np_py(best[k]) for k in result.params}
    returns = work.returns_of(symbol, params)
    out: dict[str, Any] = {"symbol": symbol, "trials": int(len(first)), "best_params": params}
    out["deflated_sharpe"] = diagnostics.deflated_sharpe(returns, len(first), float(np.var(per_bar_sharpe, ddof=1)))
    extras = [e for e in sink.extras() if e is not None]
    if work.keep_returns and extras:
        syms = np.concatenate([f["symbol"].to_numpy() for f in sink.frames()])
        matrix = np.concatenate(extras, axis=0)[syms == symbol]
        keep = np.isfinite(matrix).all(axis=1)
        if keep.sum() >= 2 and matrix.shape[1] >= 32:
            blocks = 16 if matrix.shape[1] >= 64 else 8
            out["pbo"] = diagnostics.probability_of_overfitting(matrix[keep].T, blocks=blocks)
    return out
