"""``cluster.sweep``: backtest a strategy over a parameter space, on every core or node.

Methods: ``"grid"`` (every combination that meets the strategy's constraints,
each exactly once, enumerated lazily), ``"random"`` (``n_trials`` points drawn
from ``(seed, i)``), and Optuna's ``"tpe"``, ``"cmaes"`` and ``"nsga2"`` (several
objectives at once; the Pareto front comes back) — see ``cluster.optuna_search``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Mapping, Sequence

import engine
from cluster import data as data_mod
from cluster import jobs
from cluster.executor import Executor
from cluster.job import Job, Options, shippable
from cluster.optuna_search import optuna_sweep
from cluster.scheduler import Objective
from cluster.sinks import Sink
from cluster.space import Space, items
from cluster.sweep_result import SweepResult, assemble
from cluster.tasks import Chunk, ChunkResult
from cluster.universe import UniverseWork
from cluster.work import SweepWork
from strategies import Strategy

METHODS = ("grid", "random", "tpe", "cmaes", "nsga2")


_items = items  # the name walk-forward and tests knew it by


def sweep(
    strategy: type[Strategy],
    data: Any,
    space: Mapping[str, Any],
    config: engine.Config | None = None,
    metric: str = "sharpe",
    method: str = "grid",
    *,
    n_trials: int = 100,
    maximize: bool | None = None,
    metrics: Sequence[str] | None = None,
    keep_returns: bool = False,
    chunk_size: int | None = None,
    batch_size: int | None = None,
    study_path: str | Path | None = None,
    seed: int = 0,
    address: str | None = None,
    workers: int = 0,
    executor: Executor | None = None,
    progress: jobs.ProgressArg = None,
    cancel: threading.Event | None = None,
    out: str | Path | Sink | None = None,
) -> SweepResult:
    """Backtest ``strategy`` over ``space`` on ``data`` and rank the runs by ``metric``.

    Args:
        strategy: a Strategy class (vectorized or bar by bar).
        data: ``engine.Bars``, a symbol or store query ``{"symbol", "timeframe",
            "start", "end"}``, or a list of them (every combination then runs on
            every symbol; ``pooled`` averages over symbols). A universe: an
            ``engine.Panel`` or ``{"symbols": [...], "timeframe": ...}`` (one
            portfolio per combination, see ``cluster.universe``); a list of symbols
            is one universe when ``strategy`` is a universe strategy.
        space: parameter -> values (range, list, one value), ``cluster.Range`` or
            None (the declared bounds). Unnamed parameters keep their default.
        config: the engine Config every run shares.
        metric: the metric that ranks runs (``engine.METRICS``).
        method: "grid", "random", "tpe", "cmaes" or "nsga2".
        n_trials: runs per symbol for random and Optuna methods.
        maximize: rank direction; by default metrics like sharpe are maximised and
            drawdowns minimised.
        metrics: the objectives of "nsga2" (default: ``metric`` and max_drawdown).
        keep_returns: keep every run's per-bar returns and compute PBO.
        chunk_size: runs per chunk (default: calibrated to ~0.25 s of work).
        batch_size: Optuna trials in flight (default: the workers' count).
        study_path: Optuna journal file, so a sampler study can be resumed.
        seed, address, workers, executor, progress, cancel, out: how the job runs,
            the same for every job kind (``cluster.job.Options``). ``out`` is not
            used by the Optuna methods (their study keeps the trials).

    Returns:
        A ``SweepResult``.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    maximize = jobs.maximize_default(metric) if maximize is None else maximize
    cfg = config or engine.Config()
    sp = Space.of(strategy, space)
    sp.check_shorts(cfg.allow_short)
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ValueError(f"n_trials must be a whole number >= 1, not {n_trials!r}")
    options = Options(seed, address, workers, executor, progress, cancel, out)
    work: SweepWork | UniverseWork
    if data_mod.is_universe(strategy, data):
        work = UniverseWork(shippable(strategy), data_mod.resolve_panel(data), cfg, keep_returns)
    else:
        work = SweepWork(shippable(strategy), data_mod.resolve(data), cfg, keep_returns)
    symbols = list(work.bars)
    if method in ("tpe", "cmaes", "nsga2"):
        return optuna_sweep(
            work, sp, symbols, metric, maximize, method, metrics, n_trials, options, study_path, batch_size
        )
    return _sweep(work, sp, symbols, metric, maximize, method, n_trials, options, chunk_size)


def _sweep(
    work: SweepWork,
    sp: Space,
    symbols: list[str],
    metric: str,
    maximize: bool,
    method: str,
    n_trials: int,
    options: Options,
    chunk_size: int | None,
) -> SweepResult:
    seed = options.seed
    if method == "grid":
        grid_size = sp.size
        fraction = sp.valid_fraction(seed=seed)
        total = round(grid_size * fraction) * len(symbols)
    else:
        grid_size, fraction, total = None, None, n_trials * len(symbols)
    spec = {
        "kind": "sweep",
        "strategy": work.strategy.name,
        "method": method,
        "metric": metric,
        "space": sp.describe(),
        "symbols": symbols,
        "config": work.config.to_dict(),
        "n_trials": n_trials if method != "grid" else None,
        "seed": seed,
        "keep_returns": work.keep_returns,
    }
    if isinstance(work, UniverseWork):  # only then, so that single-series jobs keep their hash
        spec["universe"] = list(work.panel.symbols)

    def record(result: ChunkResult, chunk: Chunk) -> None:
        cols: dict[str, list[Any]] = {"symbol": [it[0] for it in chunk.items]}
        for name in sp.strategy._params:
            cols[name] = [it[1][name] for it in chunk.items]
        job.sink.write(chunk.id, jobs.stats_frame(result, cols), result.extra)

    with Job(
        "sweep", spec, data_mod.fingerprint(work.bars), work, options, total, f"sweep {work.strategy.name}"
    ) as job:
        sample = jobs.first(16, items(method, sp, symbols, n_trials, seed))
        size = job.chunk_size(sample, total, chunk_size, grid_size, fraction)
        chunks = jobs.chunked(items(method, sp, symbols, n_trials, seed), size)
        run = job.run(chunks, record, Objective(metric, maximize))
    return assemble(work, sp, symbols, job.sink, metric, maximize, job.plan, run, job.manifest)
