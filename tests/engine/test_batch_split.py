"""How run_batch cuts a batch for its threads and runs it (issue 14, two cores): chunks
that cover every run once, in order, small enough to balance uneven runs, large enough
that their doors stay cheap; threads started once per process, and again in a fork."""

from __future__ import annotations

import multiprocessing
import threading

import numpy as np
import pytest

import engine
from engine._run import _CHUNK_STEPS, _CHUNKS_PER_THREAD, batch_edges


@pytest.mark.parametrize(
    ("n_runs", "n_bars", "workers"),
    [(1_000, 100_000, 2), (1_000, 10_000, 2), (7, 100_000, 2), (3, 10, 4), (100_003, 2_520, 8)],
)
def test_chunks_cover_every_run_once_in_order(n_runs: int, n_bars: int, workers: int) -> None:
    edges = batch_edges(n_runs, n_bars, workers)
    assert edges[0] == 0 and edges[-1] == n_runs
    sizes = np.diff(edges)
    assert (sizes >= 1).all()
    assert sizes.max() - sizes.min() <= 1  # even cuts
    assert len(sizes) <= workers * _CHUNKS_PER_THREAD


def test_a_large_batch_gets_many_chunks_a_thread() -> None:
    """1,000 runs x 100,000 bars on 2 threads: 16 chunks a thread, so the thread that
    draws the costly runs is not left alone at the end."""
    assert len(batch_edges(1_000, 100_000, 2)) - 1 == 2 * _CHUNKS_PER_THREAD


def test_a_small_batch_keeps_chunks_of_a_million_bar_steps() -> None:
    edges = batch_edges(1_000, 10_000, 2)  # 10M bar-steps: 10 chunks, not 32
    assert len(edges) - 1 == 10
    assert (np.diff(edges) * 10_000 >= _CHUNK_STEPS).all()


def test_a_tiny_batch_still_gives_each_thread_a_chunk() -> None:
    assert len(batch_edges(3, 10, 4)) - 1 == 3  # never more chunks than runs
    assert len(batch_edges(40, 10, 4)) - 1 == 4  # and at least one a thread


def _sweep() -> tuple[engine.Bars, np.ndarray]:
    bars = engine.synthetic.bars(2_000, seed=3, timeframe="1m")
    close = bars.close
    signals = np.array(
        [np.where(np.convolve(close, np.ones(w) / w, "same") < close, 1, 0) for w in range(2, 42)], dtype=np.int8
    )
    return bars, signals


def _batch_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("anvil-batch")}


def test_batches_run_on_threads_started_once() -> None:
    bars, signals = _sweep()
    first = engine.run_batch(bars, signals, threads=2)
    threads = _batch_threads()
    assert len(threads) >= 2  # still there after the call (other tests' pools may be too)
    again = engine.run_batch(bars, signals, threads=2)
    assert _batch_threads() == threads  # the same thread objects: none started, none ended
    assert first.equals(again)
    assert first.equals(engine.run_batch(bars, signals, threads=1))


def _in_child(queue: multiprocessing.Queue) -> None:
    bars, signals = _sweep()
    queue.put(engine.run_batch(bars, signals, threads=2)["total_return"].to_numpy())


# Python 3.12+ warns on any fork of a process with threads: that is this test's case.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_starts_its_own_threads() -> None:
    """The parent's batch threads do not exist in a fork: the child's batch must not
    wait for them forever."""
    bars, signals = _sweep()
    expected = engine.run_batch(bars, signals, threads=2)["total_return"].to_numpy()  # the parent's pool exists
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_in_child, args=(queue,))
    child.start()
    try:
        got = queue.get(timeout=60)
    finally:
        child.join(timeout=60)
        if child.is_alive():
            child.kill()
    assert child.exitcode == 0
    np.testing.assert_array_equal(got, expected)
