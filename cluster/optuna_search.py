"""Optuna-driven sweeps ("tpe", "cmaes", "nsga2") through ask-and-tell.

Trials are asked in generations of ``batch_size`` (by default one per worker,
so every CPU has a trial in flight), run as chunks on the executor, and told
back in trial order once the generation is in — so for a given seed and batch
size the sequence of trials does not depend on which worker finished first.
A parameter set that breaks the strategy's constraints is told as failed
without running. With ``study_path`` the study lives in Optuna's journal file
and a rerun resumes it: finished trials are kept (their metrics travel in the
trial's user attributes), trials left running by a dead driver are marked
failed and asked again.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import optuna
import pandas as pd
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import TrialState

from cluster import data, jobs
from cluster.job import Job, Options
from cluster.scheduler import JobRun, Objective, run_job
from cluster.sinks import MemorySink
from cluster.space import Range, Space
from cluster.sweep_result import SweepResult, assemble
from cluster.tasks import Chunk, ChunkResult, Progress
from cluster.work import SweepWork

SAMPLERS = ("tpe", "cmaes", "nsga2")


def distributions(space: Space) -> dict[str, BaseDistribution]:
    """Optuna distributions of the searched parameters."""
    out: dict[str, BaseDistribution] = {}
    for name, cand in zip(space.names, space.candidates):
        if isinstance(cand, Range):
            out[name] = FloatDistribution(cand.low, cand.high, log=cand.log)
            continue
        values = cand
        if len(values) > 1 and values.dtype.kind in "iuf":
            steps = np.diff(values)
            if np.all(steps > 0) and np.allclose(steps, steps[0]):
                lo, hi, step = values[0].item(), values[-1].item(), steps[0].item()
                if values.dtype.kind in "iu":
                    out[name] = IntDistribution(int(lo), int(hi), step=int(step))
                else:
                    out[name] = FloatDistribution(float(lo), float(hi), step=float(step))
                continue
        out[name] = CategoricalDistribution([jobs.np_py(v) for v in values])
    return out


def _sampler(method: str, seed: int) -> optuna.samplers.BaseSampler:
    if method == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if method == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    return optuna.samplers.NSGAIISampler(seed=seed)


def _storage(study_path: str | Path | None) -> Any:
    if study_path is None:
        return None
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    Path(study_path).parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(study_path)))


def nsga2_objectives(metric: str, metrics: Sequence[str] | str | None) -> list[str]:
    """The objectives of an NSGA-II sweep: ``metrics`` as given, by default ``metric``
    and ``max_drawdown`` (``sharpe`` and ``max_drawdown`` when ``metric`` is
    ``max_drawdown``): return against risk, the usual trade-off.

    Raises:
        ValueError: ``metrics`` is not a list of metric names, names one twice, or
            names an unknown metric (with a did-you-mean).
    """
    if metrics is None or (not isinstance(metrics, str) and len(metrics) == 0):
        return [metric, "max_drawdown"] if metric != "max_drawdown" else ["sharpe", "max_drawdown"]
    if isinstance(metrics, str) or not all(isinstance(m, str) for m in metrics):
        raise ValueError(
            f"metrics={metrics!r}: give NSGA-II's objectives as a list of metric names, "
            "e.g. metrics=['sharpe', 'max_drawdown']"
        )
    names = list(metrics)
    twice = sorted({m for m in names if names.count(m) > 1})
    if twice:
        raise ValueError(f"metrics names {', '.join(twice)} twice; give each objective once")
    for m in names:
        jobs.maximize_default(m)  # an unknown name is refused with the metrics there are
    return names


def optuna_sweep(
    work: SweepWork,
    sp: Space,
    symbols: list[str],
    metric: str,
    maximize: bool,
    method: str,
    metrics: Sequence[str] | None,
    n_trials: int,
    options: Options,
    study_path: str | Path | None,
    batch_size: int | None,
) -> SweepResult:
    """Run an Optuna sweep through the job skeleton (``cluster.job``); the study, not
    ``options.out``, keeps its trials."""
    seed = options.seed
    objectives = nsga2_objectives(metric, metrics) if method == "nsga2" else [metric]
    directions = [
        "maximize" if (jobs.maximize_default(m) if m != metric else maximize) else "minimize" for m in objectives
    ]
    spec = {
        "kind": "sweep",
        "strategy": work.strategy.name,
        "method": method,
        "objectives": objectives,
        "space": sp.describe(),
        "symbols": symbols,
        "config": work.config.to_dict(),
        "seed": seed,
    }
    n_sym = len(symbols)
    total = n_trials * n_sym
    with Job(
        "sweep",
        spec,
        data.fingerprint(work.bars),
        work,
        options,
        total,
        f"{method} {work.strategy.name}",
        out=MemorySink(),
    ) as job:
        return _optimise(
            job, work, sp, symbols, metric, maximize, method, objectives, directions, n_trials, study_path, batch_size
        )


def _optimise(
    job: Job,
    work: SweepWork,
    sp: Space,
    symbols: list[str],
    metric: str,
    maximize: bool,
    method: str,
    objectives: list[str],
    directions: list[str],
    n_trials: int,
    study_path: str | Path | None,
    batch_size: int | None,
) -> SweepResult:
    job_manifest, sink, ex = job.manifest, job.sink, job.executor
    seed, cancel = job.options.seed, job.options.cancel
    n_sym, total = len(symbols), job.total
    dists = distributions(sp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study = optuna.create_study(
            study_name=f"anvil-{job_manifest['job']}",
            storage=_storage(study_path),
            sampler=_sampler(method, seed),
            directions=directions,
            load_if_exists=True,
        )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING)):
        study.tell(t.number, state=TrialState.FAIL)  # left behind by a driver that died

    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        rows = t.user_attrs.get("anvil_rows")
        if rows:
            sink.write(t.number, pd.DataFrame(rows))
    done_trials = sum(1 for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE)
    batch = batch_size or ex.capacity
    run = JobRun(total, done_items=done_trials * n_sym)
    job.start()
    report = job.report
    asked = 0
    while done_trials < n_trials and not (cancel is not None and cancel.is_set()):
        trials = []
        while len(trials) < min(batch, n_trials - done_trials) and asked < 20 * n_trials:
            trial = study.ask(dists)
            asked += 1
            params = {**sp.fixed, **trial.params}
            if not sp.strategy.satisfies(params):
                study.tell(trial, state=TrialState.FAIL)
                continue
            trials.append((trial, params))
        if not trials:
            break
        chunks = [
            Chunk(t.number * n_sym + s, (t.number * n_sym + s,), ((sym, p),))
            for t, p in trials
            for s, sym in enumerate(symbols)
        ]
        got: dict[int, tuple[ChunkResult, Chunk]] = {}

        def on_result(result: ChunkResult, chunk: Chunk) -> None:
            got[chunk.id] = (result, chunk)

        offset = run.done_items

        def shifted(p: Progress) -> None:
            if report is not None:
                report(Progress(offset + p.done, total, run.failed_items + p.failed, p.best))

        gen = run_job(
            ex,
            chunks,
            len(chunks),
            on_result,
            objective=Objective(objectives[0], directions[0] == "maximize"),
            progress=shifted,
            cancel=cancel,
        )
        run.done_items += gen.done_items
        run.failed_items += gen.failed_items
        run.retried_chunks += gen.retried_chunks
        if gen.cancelled:
            run.cancelled = True
        for trial, params in trials:
            rows = []
            for s, sym in enumerate(symbols):
                pair = got.get(trial.number * n_sym + s)
                if pair is None:
                    continue
                result, chunk = pair
                frame = jobs.stats_frame(result, {"symbol": [sym], **{k: [params[k]] for k in sp.strategy._params}})
                rows.append(frame)
            if len(rows) < n_sym:
                study.tell(trial, state=TrialState.FAIL)
                continue
            frame = pd.concat(rows, ignore_index=True)
            sink.write(trial.number, frame)
            values = [float(frame[m].mean()) if frame["error"].isna().all() else float("nan") for m in objectives]
            if any(np.isnan(v) for v in values):
                study.tell(trial, state=TrialState.FAIL)
                continue
            trial.set_user_attr("anvil_rows", _jsonable(frame))
            study.tell(trial, values if len(values) > 1 else values[0])
            done_trials += 1
    plan = jobs.Plan(method, total, 1, ex.capacity, 0.0)
    result = assemble(work, sp, symbols, sink, metric, maximize, plan, run, job_manifest, study)
    if method == "nsga2":
        numbers = {t.number for t in study.best_trials}
        front = [f for k, f in sorted(sink._frames.items()) if k in numbers]
        result.pareto = pd.concat(front, ignore_index=True) if front else result.table.iloc[:0]
    return result


def _jsonable(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = frame.to_dict(orient="records")
    return [{k: (None if isinstance(v, float) and np.isnan(v) else jobs.np_py(v)) for k, v in r.items()} for r in rows]
