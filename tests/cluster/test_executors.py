"""One contract, two executors: in-process threads and Ray actors."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from cluster.jobs import chunked
from cluster.scheduler import run_job
from cluster.tasks import Chunk, ChunkResult, Failed, Lost, empty_stats


@dataclass(frozen=True)
class Square:
    """Work whose items are numbers: total_return = item ** 2; item < 0 fails the item,
    item == 666 raises out of the chunk (a bug in the work), item > 1000 sleeps."""

    def run(self, chunk: Chunk) -> ChunkResult:
        if 666 in chunk.items:
            raise ValueError("the work itself broke")
        stats = empty_stats(len(chunk.items))
        errors = []
        for k, (i, x) in enumerate(zip(chunk.item_ids, chunk.items)):
            if x > 1000:
                time.sleep(x / 1000)
            if x < 0:
                errors.append((i, "negative"))
                continue
            stats[k]["total_return"] = float(x) ** 2
        return ChunkResult(chunk.id, np.asarray(chunk.item_ids), stats, tuple(errors))


def drain(executor, expected: int, timeout: float = 60.0) -> list:
    out: list = []
    deadline = time.monotonic() + timeout
    while len(out) < expected and time.monotonic() < deadline:
        out.extend(executor.poll(0.2))
    return out


def test_every_submitted_chunk_yields_one_outcome(executor):
    executor.start(Square())
    chunks = list(chunked(((i, i) for i in range(40)), 3))
    for c in chunks:
        executor.submit(c)
    outcomes = drain(executor, len(chunks))
    assert sorted(o.chunk_id for o in outcomes) == [c.id for c in chunks]
    values = np.concatenate([o.stats["total_return"] for o in outcomes])
    assert sorted(values.tolist()) == [float(i * i) for i in range(40)]
    assert executor.capacity == 2


def test_item_failures_stay_in_the_result_and_a_broken_chunk_is_reported(executor):
    executor.start(Square())
    executor.submit(Chunk(0, (0, 1, 2), (4, -1, 5)))
    executor.submit(Chunk(1, (3,), (666,)))
    outcomes = {o.chunk_id: o for o in drain(executor, 2)}
    ok = outcomes[0]
    assert isinstance(ok, ChunkResult) and ok.errors == ((1, "negative"),)
    assert np.isnan(ok.stats["total_return"][1]) and ok.stats["total_return"][2] == 25.0
    assert isinstance(outcomes[1], Failed) and "the work itself broke" in outcomes[1].error


def test_the_scheduler_runs_a_job_to_the_end_on_either_executor(executor):
    executor.start(Square())
    seen: dict[int, ChunkResult] = {}
    progress = []
    run = run_job(
        executor,
        chunked(((i, i) for i in range(100)), 7),
        100,
        lambda r, c: seen.setdefault(r.chunk_id, r),
        progress=progress.append,
    )
    assert run.done_items == 100 and run.failed_items == 0 and not run.cancelled
    assert sum(len(r.item_ids) for r in seen.values()) == 100
    assert progress[-1].done == 100 and progress[-1].total == 100


def test_cancel_stops_a_job_without_running_the_rest(executor):
    executor.start(Square())
    cancel = threading.Event()
    timer = threading.Timer(0.5, cancel.set)
    timer.start()
    run = run_job(executor, chunked(((i, 1500) for i in range(40)), 1), 40, lambda r, c: None, cancel=cancel)
    # What was run, not how long it took: only chunks already in flight when the cancel
    # came (the scheduler keeps 2 x capacity of them) may have finished; the rest never ran.
    assert run.cancelled
    assert run.done_items <= 2 * executor.capacity < 40


class LossyExecutor:
    """Wraps a real executor; loses the first try of every third chunk and answers one
    chunk twice, as a flaky cluster might."""

    def __init__(self, inner):
        self.inner = inner
        self.extra: list = []
        self.lost_once: set[int] = set()

    capacity = property(lambda self: self.inner.capacity)

    def start(self, work):
        self.inner.start(work)

    def submit(self, chunk):
        if chunk.id % 3 == 0 and chunk.id not in self.lost_once:
            self.lost_once.add(chunk.id)
            self.extra.append(Lost(chunk, "worker died"))
            return
        self.inner.submit(chunk)

    def poll(self, timeout):
        out, self.extra = self.extra, []
        got = self.inner.poll(timeout)
        out.extend(got)
        out.extend(o for o in got if isinstance(o, ChunkResult) and o.chunk_id == 4)  # a duplicate
        return out

    def cancel(self):
        self.inner.cancel()

    def close(self):
        self.inner.close()


def test_lost_chunks_are_retried_and_duplicates_counted_once(executor):
    lossy = LossyExecutor(executor)
    lossy.start(Square())
    seen: list[int] = []
    run = run_job(lossy, chunked(((i, i) for i in range(60)), 5), 60, lambda r, c: seen.extend(r.item_ids.tolist()))
    assert sorted(seen) == list(range(60))
    assert run.retried_chunks == 4 and run.done_items == 60
