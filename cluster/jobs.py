"""Pieces every job kind shares: chunking, calibration, executors, progress, tables."""

from __future__ import annotations

import math
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import pandas as pd

from cluster.executor import Executor, InProcessExecutor
from cluster.tasks import Chunk, ChunkResult, Progress, Work
from engine.errors import did_you_mean
from engine.records import METRICS, MINIMIZED

TARGET_CHUNK_SECONDS = 0.25  # Ray's per-call cost (~1 ms) stays well under 5 % of this


def maximize_default(metric: str) -> bool:
    """Whether a higher value of ``metric`` is better."""
    if metric not in METRICS:
        more = did_you_mean(metric, METRICS, before="; ", after="")
        raise ValueError(f"unknown metric {metric!r}{more} (metrics: {', '.join(METRICS)})")
    return metric not in MINIMIZED


def chunked(items: Iterable[tuple[int, Any]], size: int, first_id: int = 0) -> Iterator[Chunk]:
    """Group ``(item_id, item)`` pairs into chunks of ``size`` with consecutive ids.

    A chunk never mixes items of two symbols when items are ``(symbol, ...)``
    tuples, so a worker always backtests one series per chunk.
    """
    ids: list[int] = []
    payload: list[Any] = []
    cid = first_id
    key = None
    for item_id, item in items:
        k = item[0] if isinstance(item, tuple) else None
        if ids and (len(ids) >= size or k != key):
            yield Chunk(cid, tuple(ids), tuple(payload))
            cid += 1
            ids, payload = [], []
        key = k
        ids.append(item_id)
        payload.append(item)
    if ids:
        yield Chunk(cid, tuple(ids), tuple(payload))


def calibrate(work: Work, sample: list[tuple[int, Any]], budget: float = 0.5) -> float:
    """Seconds one item takes, timed on up to ``len(sample)`` items in this process."""
    if not sample:
        return 0.0
    warm = getattr(getattr(work, "strategy", None), "warm", None)
    if callable(warm):  # an uploaded strategy starts its jail first: a cost per job, not per item
        warm()
    started = time.perf_counter()
    n = 0
    for item_id, item in sample:
        work.run(Chunk(-1, (item_id,), (item,)))
        n += 1
        if time.perf_counter() - started > budget:
            break
    return (time.perf_counter() - started) / n


def chunk_size_for(seconds_per_item: float, n_items: int, capacity: int) -> int:
    """Items per chunk: about TARGET_CHUNK_SECONDS of work, yet at least 4 chunks per worker."""
    by_time = max(1, int(TARGET_CHUNK_SECONDS / max(seconds_per_item, 1e-6)))
    by_balance = max(1, math.ceil(n_items / (4 * max(capacity, 1))))
    return max(1, min(by_time, by_balance, 100_000))


def make_executor(executor: Executor | None, address: str | None, workers: int) -> tuple[Executor, bool]:
    """The executor to use and whether this job owns it (and must close it)."""
    if executor is not None:
        return executor, False
    if address == "local-threads":
        return InProcessExecutor(workers), True
    from cluster.ray_executor import RayExecutor

    return RayExecutor(address=address, workers=workers), True


ProgressArg = Callable[[Progress], None] | bool | str | None
LINES = "lines"  # progress as plain lines on stderr: for logs (``ray job logs``), not a terminal
LINE_EVERY = 5.0  # seconds between two progress lines


class _Bar:
    """A tqdm progress bar fed by Progress reports."""

    def __init__(self, total: int, desc: str) -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(total=total, desc=desc, unit="run", file=sys.stderr, dynamic_ncols=True)
        self._lock = threading.Lock()

    def __call__(self, p: Progress) -> None:
        with self._lock:
            self._bar.total = p.total
            self._bar.update(p.done - self._bar.n)
            if p.best:
                metric = next(k for k in p.best if k not in ("item_id", "item"))
                self._bar.set_postfix({f"best {metric}": f"{p.best[metric]:.4g}", "failed": p.failed})

    def close(self) -> None:
        self._bar.close()


class _Lines:
    """Progress as plain lines on stderr, one every LINE_EVERY seconds and a last one:
    what a log shows (``ray job logs`` of a submitted job), where a bar would be noise."""

    def __init__(self, total: int, desc: str) -> None:
        self._desc, self._total, self._next = desc, total, 0.0
        self._last: Progress | None = None
        self._written: Progress | None = None
        self._lock = threading.Lock()

    def __call__(self, p: Progress) -> None:
        with self._lock:
            self._last = p
            if time.monotonic() >= self._next:
                self._write(p)
                self._next = time.monotonic() + LINE_EVERY

    def _write(self, p: Progress) -> None:
        share = p.done / p.total if p.total else 1.0
        sys.stderr.write(f"{self._desc}: {p.done:,} of {p.total:,} runs done ({share:.0%}), {p.failed:,} failed\n")
        sys.stderr.flush()
        self._written = p

    def close(self) -> None:
        with self._lock:
            if self._last is not None and self._last is not self._written:
                self._write(self._last)


def progress_fn(
    progress: ProgressArg, total: int, desc: str
) -> tuple[Callable[[Progress], None] | None, Callable[[], None]]:
    """A callback for ``run_job`` and a function to call when done (``True``: a bar,
    ``LINES``: plain lines, a callable: itself)."""
    if progress is True:
        bar = _Bar(total, desc)
        return bar, bar.close
    if progress == LINES:
        lines = _Lines(total, desc)
        return lines, lines.close
    if callable(progress):
        return progress, lambda: None
    return None, lambda: None


def stats_frame(result: ChunkResult, columns: dict[str, list[Any]]) -> pd.DataFrame:
    """One chunk's rows: ``item_id``, the job's own columns, every metric, ``error``."""
    errors = dict(result.errors)
    failed = [errors.get(i) for i in result.item_ids.tolist()] if errors else [None] * len(result.item_ids)
    return pd.DataFrame(
        {"item_id": result.item_ids, **columns, **{name: result.stats[name] for name in METRICS}, "error": failed}
    )


@dataclass(frozen=True)
class Plan:
    """What a job will do, said before it starts."""

    kind: str
    items: int
    chunk_size: int
    workers: int
    seconds_per_item: float
    grid_size: int | None = None
    valid_fraction: float | None = None

    @property
    def eta_seconds(self) -> float:
        return self.items * self.seconds_per_item / max(self.workers, 1)

    def __str__(self) -> str:
        size = f"{self.items:,} runs"
        if self.grid_size is not None and self.valid_fraction is not None and self.valid_fraction < 1:
            size = f"grid of {self.grid_size:,} points, about {self.items:,} meeting the constraints"
        elif self.grid_size is not None:
            size = f"grid of {self.grid_size:,} points"
        return (
            f"{self.kind}: {size}, {self.workers} workers, chunks of {self.chunk_size}, "
            f"~{self.seconds_per_item * 1e3:.2f} ms a run, about {_duration(self.eta_seconds)}"
        )


def _duration(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def first(n: int, items: Iterable[tuple[int, Any]]) -> list[tuple[int, Any]]:
    out = []
    for pair in items:
        out.append(pair)
        if len(out) >= n:
            break
    return out


def np_py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v
