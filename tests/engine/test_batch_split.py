"""How run_batch cuts a batch for its threads (issue 14, two cores): chunks that
cover every run once, in order, small enough to balance uneven runs, large enough
that their doors stay cheap."""

from __future__ import annotations

import numpy as np
import pytest

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
