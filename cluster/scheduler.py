"""The loop every job shares: feed an executor chunks, collect what comes back.

- Chunks are generated lazily and kept ``2 x capacity`` in flight.
- Results are handed to ``on_result`` as they arrive (the caller persists
  them), each chunk id at most once: a retried chunk whose first run also
  answers is ignored; chunk ids in ``skip`` (already stored) are not run.
- A chunk lost with its worker is retried (up to ``max_attempts``); a chunk
  whose run raised as a whole is recorded with every item failed, and the job
  goes on.
- Progress goes to a callback ``(done, total, best_so_far)``, at most a few
  times a second; a cancel event stops scheduling and the running chunks.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from cluster.executor import Executor
from cluster.tasks import Chunk, ChunkResult, Failed, Lost, Progress, empty_stats


ProgressFn = Callable[[Progress], None]


@dataclass
class Objective:
    """Which metric ranks items for best-so-far, and which way."""

    metric: str
    maximize: bool = True

    def better(self, a: float, b: float) -> bool:
        if math.isnan(a):
            return False
        if math.isnan(b):
            return True
        return a > b if self.maximize else a < b


@dataclass
class JobRun:
    """What happened to a job's chunks."""

    total_items: int
    done_items: int = 0
    failed_items: int = 0
    retried_chunks: int = 0
    cancelled: bool = False
    seconds: float = 0.0
    best: dict[str, Any] | None = None
    errors: list[tuple[int, str]] = field(default_factory=list)


def failed_result(chunk: Chunk, error: str) -> ChunkResult:
    """A result for a chunk every item of which failed with ``error``."""
    ids = np.asarray(chunk.item_ids, dtype=np.int64)
    return ChunkResult(chunk.id, ids, empty_stats(len(ids)), tuple((i, error) for i in chunk.item_ids))


def run_job(
    executor: Executor,
    chunks: Iterable[Chunk],
    total_items: int,
    on_result: Callable[[ChunkResult, Chunk], None],
    *,
    skip: set[int] | frozenset[int] = frozenset(),
    objective: Objective | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    max_attempts: int = 3,
    progress_interval: float = 0.25,
) -> JobRun:
    """Run every chunk once on a started executor; see the module docstring for the rules."""
    run = JobRun(total_items)
    started = time.monotonic()
    pending: Iterator[Chunk] = (c for c in chunks if c.id not in skip)
    in_flight: dict[int, Chunk] = {}
    last_report = 0.0
    exhausted = False

    def report(force: bool = False) -> None:
        nonlocal last_report
        now = time.monotonic()
        if progress is not None and (force or now - last_report >= progress_interval):
            last_report = now
            progress(Progress(run.done_items, total_items, run.failed_items, run.best))

    def accept(result: ChunkResult, chunk: Chunk) -> None:
        on_result(result, chunk)
        n = len(result.item_ids)
        run.done_items += n
        run.failed_items += len(result.errors)
        run.errors.extend(result.errors[:20] if len(run.errors) < 100 else ())
        if objective is not None and n:
            vals = result.stats[objective.metric]
            order = np.argsort(-vals if objective.maximize else vals, kind="stable")
            k = int(order[0])
            v = float(vals[k])
            if run.best is None or objective.better(v, run.best[objective.metric]):
                item = chunk.items[k]
                run.best = {"item_id": int(result.item_ids[k]), "item": item, objective.metric: v}

    try:
        while True:
            if cancel is not None and cancel.is_set():
                executor.cancel()
                run.cancelled = True
                break
            while not exhausted and len(in_flight) < 2 * executor.capacity:
                chunk = next(pending, None)
                if chunk is None:
                    exhausted = True
                    break
                in_flight[chunk.id] = chunk
                executor.submit(chunk)
            if not in_flight:
                break
            for outcome in executor.poll(timeout=0.1):
                if isinstance(outcome, ChunkResult):
                    chunk = in_flight.pop(outcome.chunk_id, None)
                    if chunk is not None:  # else: a duplicate of a chunk already counted
                        accept(outcome, chunk)
                elif isinstance(outcome, Lost):
                    chunk = outcome.chunk
                    if chunk.id not in in_flight:
                        continue
                    if chunk.attempt + 1 < max_attempts:
                        run.retried_chunks += 1
                        in_flight[chunk.id] = chunk.retry()
                        executor.submit(in_flight[chunk.id])
                    else:
                        in_flight.pop(chunk.id)
                        msg = f"lost {max_attempts} times: {outcome.reason}"
                        accept(failed_result(chunk, msg), chunk)
                elif isinstance(outcome, Failed):
                    chunk = in_flight.pop(outcome.chunk.id, None)
                    if chunk is not None:
                        accept(failed_result(chunk, outcome.error), chunk)
            report()
    finally:
        run.seconds = time.monotonic() - started
        report(force=True)
    return run
