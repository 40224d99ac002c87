"""The skeleton every job kind runs through: sweeps, walk-forward and Monte Carlo.

In this order: the manifest (what reproduces the job), the output claimed for it
(a rerun with the same output resumes), the executor, the chunk size calibrated
on a few items here, the progress report, the chunks run (``run_job``), then the
rows read back from the output. Each job kind says only what differs: its
``Work``, its items and how a chunk's rows are recorded.

``Options`` are how a job runs (not what it computes, except ``seed``): the three
entry points take them as the same keyword-only arguments, in the same order.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from cluster import jobs, manifest, portable
from cluster.executor import Executor
from cluster.scheduler import JobRun, Objective, run_job
from cluster.sinks import Sink, claim, open_sink
from cluster.tasks import Chunk, ChunkResult, Progress, Work


@dataclass(frozen=True)
class Options:
    """How a job runs; the keyword-only arguments of ``sweep``, ``walk_forward`` and
    ``monte_carlo``, in this order.

    Attributes:
        seed: drives random points, samplers and simulated paths; in the manifest.
        address: None for a local Ray; "auto" or "ray://host:port" for a cluster;
            "local-threads" for this process only.
        workers: actors (or threads); 0 means one per CPU.
        executor: run on this executor instead (the caller closes it).
        progress: True for a progress bar, ``"lines"`` for log lines, or a callable
            receiving ``Progress``.
        cancel: set this event to stop the job (finished runs are kept).
        out: a folder (or a ``cluster.sinks.Sink``) keeping results as they arrive;
            a rerun with the same output resumes, running only the missing chunks.
    """

    seed: int = 0
    address: str | None = None
    workers: int = 0
    executor: Executor | None = None
    progress: jobs.ProgressArg = None
    cancel: threading.Event | None = None
    out: str | Path | Sink | None = None


def make_manifest(spec: Mapping[str, Any], seed: int, data_fingerprint: str) -> dict[str, Any]:
    """What reproduces a job: its spec's hash, the spec, the seed, the data and the code."""
    return {
        "job": manifest.spec_hash(dict(spec)),
        "spec": dict(spec),
        "seed": seed,
        "data": data_fingerprint,
        "code": manifest.code_version(),
    }


def shippable(strategy: Any) -> Any:
    """The strategy a job hands its workers (see ``cluster.portable``)."""
    return portable.shippable(strategy)


class Job:
    """One job's run, as a context manager (the executor is closed on the way out).

    Args:
        kind: "sweep", "walk_forward", "monte_carlo" (the plan's name).
        spec: what the job computes (hashed into the manifest).
        data_fingerprint: ``cluster.data.fingerprint`` of its data.
        work: what every chunk runs against (shipped to the workers once).
        options: how it runs.
        total: items in all, for the progress report.
        desc: the progress bar's label.
        out: overrides ``options.out`` (a sampler sweep keeps its rows in memory).
    """

    def __init__(
        self,
        kind: str,
        spec: Mapping[str, Any],
        data_fingerprint: str,
        work: Work,
        options: Options,
        total: int,
        desc: str,
        out: Any = None,
    ) -> None:
        self.kind, self.work, self.options, self.total = kind, work, options, total
        self.sink = open_sink(options.out if out is None else out)
        self.manifest = claim(self.sink, make_manifest(spec, options.seed, data_fingerprint))
        self.executor, self._owned = jobs.make_executor(options.executor, options.address, options.workers)
        self.plan: jobs.Plan | None = None
        self._desc = desc
        self.report: Callable[[Progress], None] | None = None
        self._finish: Callable[[], None] = lambda: None
        self._started = False
        self._own_report = False

    def __enter__(self) -> Job:
        return self

    def __exit__(self, *exc: object) -> None:
        self._finish()
        if self._owned:
            self.executor.close()

    def chunk_size(
        self,
        sample: list[tuple[int, Any]],
        n_items: int,
        given: int | None = None,
        grid_size: int | None = None,
        valid_fraction: float | None = None,
    ) -> int:
        """Items per chunk: ``given``, else the size this output was first run with, else
        calibrated on ``sample`` (timed here) for ``n_items`` on the executor's workers.
        The size is kept in the manifest, so a resumed job chunks the same way."""
        per_item = jobs.calibrate(self.work, sample)
        size = int(
            given or self.manifest.get("chunk_size") or jobs.chunk_size_for(per_item, n_items, self.executor.capacity)
        )
        if self.manifest.get("chunk_size") != size:
            self.manifest = {**self.manifest, "chunk_size": size}
            self.sink.save_manifest(self.manifest)
        self.plan = jobs.Plan(self.kind, self.total, size, self.executor.capacity, per_item, grid_size, valid_fraction)
        return size

    def start(self) -> None:
        """The progress report, and the work shipped to the workers (once)."""
        if self._started:
            return
        progress = self.options.progress
        self.report, self._finish = jobs.progress_fn(progress, self.total, self._desc)
        self._own_report = progress is True or progress == jobs.LINES  # a caller's callback adds its own base
        if self.plan is not None and (progress is True or progress == jobs.LINES):
            print(self.plan, file=sys.stderr)
        self.executor.start(self.work)
        self._started = True

    def run(
        self,
        chunks: Iterable[Chunk],
        record: Callable[[ChunkResult, Chunk], None],
        objective: Objective | None = None,
        offset: int = 0,
        total: int | None = None,
    ) -> JobRun:
        """Run ``chunks`` (those the output already holds are skipped); ``offset`` items
        done before them count in the progress report."""
        self.start()
        report = self.report
        skip = self.sink.done_chunks()
        stored = [0]  # items of the chunks the output holds already, counted as they are passed over
        counting = report is not None and bool(skip) and self._own_report
        if counting:  # a resumed job's bar starts at what is done, not at 0
            chunks = _count_stored(chunks, skip, stored)
        if report is not None and (offset or counting):
            inner = report

            def report(p: Progress) -> None:
                inner(Progress(offset + stored[0] + p.done, p.total, p.failed, p.best))

        return run_job(
            self.executor,
            chunks,
            self.total if total is None else total,
            record,
            skip=skip,
            objective=objective,
            progress=report,
            cancel=self.options.cancel,
        )


def _count_stored(chunks: Iterable[Chunk], skip: set[int] | frozenset[int], stored: list[int]) -> Iterable[Chunk]:
    """``chunks`` as they are, adding the items of those in ``skip`` (the output holds
    them) to ``stored[0]`` as the scheduler passes over them."""
    for chunk in chunks:
        if chunk.id in skip:
            stored[0] += len(chunk.item_ids)
        yield chunk
