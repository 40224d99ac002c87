"""``cluster.sweep``: backtest a strategy over a parameter space, on every core or node.

Methods: ``"grid"`` (every combination that meets the strategy's constraints,
each exactly once, enumerated lazily), ``"random"`` (``n_trials`` points drawn
from ``(seed, i)``), and Optuna's ``"tpe"``, ``"cmaes"`` and ``"nsga2"`` (several
objectives at once; the Pareto front comes back) — see ``cluster.optuna_search``.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

import engine
from cluster import data as data_mod
from cluster import diagnostics, jobs, manifest
from cluster.executor import Executor
from cluster.scheduler import JobRun, Objective, run_job
from cluster.sinks import Sink, claim, open_sink
from cluster.space import Space
from cluster.tasks import Chunk, ChunkResult
from cluster.work import SweepWork, per_bar_returns
from strategies import Strategy
from strategies import run as run_strategy

METHODS = ("grid", "random", "tpe", "cmaes", "nsga2")


@dataclass
class SweepResult:
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

    def report(self, path: str | Path, **options: Any) -> Path:
        """Write a self-contained HTML report of this result to ``path`` (see ``report``)."""
        from api import report

        return report.write(self, path, **options)

    def _repr_html_(self) -> str:
        from api import report

        return report.notebook(self)


def _items(method: str, space: Space, symbols: Sequence[str], n_trials: int,
           seed: int) -> Iterator[tuple[int, tuple[str, dict[str, Any]]]]:  # fmt: skip
    """Lazy ``(item_id, (symbol, params))`` pairs of a grid or random sweep."""
    if method == "grid":
        size = space.size
        for s, symbol in enumerate(symbols):
            for block in space.grid_indices():
                for idx, params in zip(block.tolist(), space.params_at(block)):
                    yield s * size + idx, (symbol, params)
    else:
        for s, symbol in enumerate(symbols):
            for i in range(n_trials):
                yield s * n_trials + i, (symbol, space.sample(seed, i))


def sweep(
    strategy: type[Strategy],
    data: Any,
    space: Mapping[str, Any],
    config: engine.Config | None = None,
    metric: str = "sharpe",
    method: str = "grid",
    *,
    n_trials: int = 100,
    seed: int = 0,
    maximize: bool | None = None,
    metrics: Sequence[str] | None = None,
    address: str | None = None,
    workers: int = 0,
    executor: Executor | None = None,
    progress: jobs.ProgressArg = None,
    cancel: threading.Event | None = None,
    out: str | Path | Sink | None = None,
    study_path: str | Path | None = None,
    keep_returns: bool = False,
    chunk_size: int | None = None,
    batch_size: int | None = None,
) -> SweepResult:
    """Backtest ``strategy`` over ``space`` on ``data`` and rank the runs by ``metric``.

    Args:
        strategy: a Strategy class (vectorized or bar by bar).
        data: ``engine.Bars``, a symbol or store query ``{"symbol", "timeframe",
            "start", "end"}``, or a list of them (every combination then runs on
            every symbol; ``pooled`` averages over symbols).
        space: parameter -> values (range, list, one value), ``cluster.Range`` or
            None (the declared bounds). Unnamed parameters keep their default.
        config: the engine Config every run shares.
        metric: the metric that ranks runs (``engine.METRICS``).
        method: "grid", "random", "tpe", "cmaes" or "nsga2".
        n_trials: runs per symbol for random and Optuna methods.
        seed: drives random points and samplers; recorded in the manifest.
        maximize: rank direction; by default metrics like sharpe are maximised and
            drawdowns minimised.
        metrics: the objectives of "nsga2" (default: ``metric`` and max_drawdown).
        address: None for a local Ray; "auto" or "ray://host:port" for a cluster;
            "local-threads" for this process only.
        workers: actors (or threads); 0 means one per CPU.
        executor: run on this executor instead (the caller closes it).
        progress: True for a progress bar, or a callable receiving ``Progress``.
        cancel: set this event to stop the sweep (finished runs are kept).
        out: a folder (or a ``cluster.sinks.Sink``) to persist results in as they
            arrive; a sweep rerun with the same output resumes, running only the
            missing chunks.
        study_path: Optuna journal file, so a sampler study can be resumed.
        keep_returns: keep every run's per-bar returns and compute PBO.
        chunk_size: runs per chunk (default: calibrated to ~0.25 s of work).
        batch_size: Optuna trials in flight (default: the workers' count).

    Returns:
        A ``SweepResult``.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    maximize = jobs.maximize_default(metric) if maximize is None else maximize
    bars = data_mod.resolve(data)
    symbols = list(bars)
    cfg = config or engine.Config()
    sp = Space.of(strategy, space)
    sp.check_shorts(cfg.allow_short)
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ValueError(f"n_trials must be a whole number >= 1, not {n_trials!r}")
    work = SweepWork(strategy, bars, cfg, keep_returns)
    ex, owned = jobs.make_executor(executor, address, workers)
    try:
        if method in ("tpe", "cmaes", "nsga2"):
            from cluster.optuna_search import optuna_sweep

            return optuna_sweep(work, sp, symbols, ex, metric, maximize, method, metrics,
                                n_trials, seed, progress, cancel, study_path, batch_size)  # fmt: skip
        return _sweep(work, sp, symbols, ex, metric, maximize, method, n_trials, seed,
                      progress, cancel, out, chunk_size)  # fmt: skip
    finally:
        if owned:
            ex.close()


def _sweep(work: SweepWork, sp: Space, symbols: list[str], ex: Executor, metric: str,
           maximize: bool, method: str, n_trials: int, seed: int, progress: jobs.ProgressArg,
           cancel: threading.Event | None, out: str | Path | Sink | None,
           chunk_size: int | None) -> SweepResult:  # fmt: skip
    if method == "grid":
        grid_size = sp.size
        fraction = sp.valid_fraction(seed=seed)
        total = round(grid_size * fraction) * len(symbols)
    else:
        grid_size, fraction, total = None, None, n_trials * len(symbols)
    spec = {
        "kind": "sweep", "strategy": work.strategy.name, "method": method, "metric": metric,
        "space": sp.describe(), "symbols": symbols, "config": work.config.to_dict(),
        "n_trials": n_trials if method != "grid" else None, "seed": seed,
        "keep_returns": work.keep_returns,
    }  # fmt: skip
    job_manifest = {
        "job": manifest.spec_hash(spec), "spec": spec, "seed": seed,
        "data": data_mod.fingerprint(work.bars), "code": manifest.code_version(),
    }  # fmt: skip
    sink = open_sink(out)
    job_manifest = claim(sink, job_manifest)
    if chunk_size is None and "chunk_size" in job_manifest:
        chunk_size = int(job_manifest["chunk_size"])
    per_item = jobs.calibrate(work, jobs.first(16, _items(method, sp, symbols, n_trials, seed)))
    size = chunk_size or jobs.chunk_size_for(per_item, total, ex.capacity)
    if job_manifest.get("chunk_size") != size:
        job_manifest = {**job_manifest, "chunk_size": size}
        sink.save_manifest(job_manifest)
    plan = jobs.Plan("sweep", total, size, ex.capacity, per_item, grid_size, fraction)

    def record(result: ChunkResult, chunk: Chunk) -> None:
        cols: dict[str, list[Any]] = {"symbol": [it[0] for it in chunk.items]}
        for name in sp.strategy._params:
            cols[name] = [it[1][name] for it in chunk.items]
        sink.write(chunk.id, jobs.stats_frame(result, cols), result.extra)

    report, done = jobs.progress_fn(progress, total, f"sweep {work.strategy.name}")
    if progress is True or progress == jobs.LINES:
        print(plan, file=sys.stderr)
    ex.start(work)
    try:
        chunks = jobs.chunked(_items(method, sp, symbols, n_trials, seed), size)
        run = run_job(ex, chunks, total, record, skip=sink.done_chunks(),
                      objective=Objective(metric, maximize), progress=report, cancel=cancel)  # fmt: skip
    finally:
        done()
    return _result(work, sp, symbols, sink, metric, maximize, plan, run, job_manifest)


def _result(work: SweepWork, sp: Space, symbols: list[str], sink: Sink, metric: str,
            maximize: bool, plan: jobs.Plan | None, run: JobRun | None,
            job_manifest: dict[str, Any], study: Any = None) -> SweepResult:  # fmt: skip
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
    result = SweepResult(table, metric, maximize, params, pooled, plan=plan, run=run,
                         manifest=job_manifest, study=study)  # fmt: skip
    result.diagnostics = _diagnostics(work, sp, symbols, table, sink, result)
    return result


def _diagnostics(work: SweepWork, sp: Space, symbols: list[str], table: pd.DataFrame,
                 sink: Sink, result: SweepResult) -> dict[str, Any]:  # fmt: skip
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
    res = run_strategy(sp.strategy, bars, work.config, params, trades=False)
    returns = per_bar_returns(res.equity.to_numpy(), work.config.initial_capital)
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
