"""Fault tolerance on a real two-node Ray cluster: a worker process or the whole worker
node killed mid-sweep costs retries, never results; a chunk that fails for a reason of
its own is reported with its items and error and the job goes on.

The cluster (``tests.cluster.two_nodes``) is a head and a worker node of 1 CPU each on
this machine's loopback addresses; only processes of that cluster are ever signalled.
"""

from __future__ import annotations

import os
import signal
import time

import pandas as pd
import pytest
import ray

import cluster
from cluster.ray_executor import RayExecutor
from cluster.tasks import Chunk
from cluster.work import SweepWork
from tests.cluster.conftest import COST, Fragile, SmaX
from tests.cluster.two_nodes import ray_cluster, two_nodes  # noqa: F401 (fixtures)

SPACE = {"fast": range(5, 60, 2), "slow": range(20, 200, 6)}
CHUNK = 8  # runs per chunk: about 80 ms of work, so the sweep is tens of chunks long
POISON = {"fast": 20, "slow": 50}  # beyond the first 16 runs, which calibration times in this process


class Unhurried(SmaX):
    """SmaX taking 10 ms a run (asleep, so no CPU): a sweep lasts long enough to be hit."""

    def signals(self, bars, fast, slow):
        time.sleep(0.01)
        return super().signals(bars, fast=fast, slow=slow)


class Poisonous(SmaX):
    """SmaX, except that one parameter set takes down the worker process running it."""

    def signals(self, bars, fast, slow):
        if {"fast": fast, "slow": slow} == POISON:
            os._exit(1)
        return super().signals(bars, fast=fast, slow=slow)


@pytest.fixture(scope="module")
def undisturbed(small_bars):
    """The sweep every test disturbs, run once on threads of this process."""
    return cluster.sweep(Unhurried, small_bars, SPACE, COST, chunk_size=CHUNK, address="local-threads", workers=2)


def a_quarter_in(act):
    """A progress callback: from a quarter of the way through, calls ``act()`` until it
    returns something (None: not yet); what it returned is kept in ``.done``."""
    done: list = []

    def progress(p):
        if not done and p.done >= p.total // 4:
            got = act()
            if got is not None:
                done.append(got)

    progress.done = done
    return progress


def assert_complete_and_identical(result, undisturbed):
    table = result.table
    assert table["item_id"].is_unique and table["error"].isna().all()
    assert result.run.done_items == len(undisturbed.table) and result.run.failed_items == 0
    pd.testing.assert_frame_equal(table, undisturbed.table)


def test_the_sweep_is_tens_of_chunks_long(undisturbed):
    assert len(undisturbed.table) // CHUNK >= 50 and undisturbed.table["error"].isna().all()


def test_a_worker_process_killed_mid_sweep_costs_a_retry_not_a_result(ray_cluster, small_bars, undisturbed):
    def kill_a_worker():
        pids = ray_cluster.worker.processes_titled("ray::ChunkWorker")
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            return pids[0]
        return None  # its worker has not started yet

    kill = a_quarter_in(kill_a_worker)
    result = cluster.sweep(
        Unhurried, small_bars, SPACE, COST, chunk_size=CHUNK, progress=kill, address=ray_cluster.address
    )
    assert kill.done, "the sweep ended before the kill"
    assert result.run.retried_chunks >= 1
    assert_complete_and_identical(result, undisturbed)
    assert ray_cluster.worker.alive and sum(n["Alive"] for n in ray.nodes()) == 2


def test_a_strategy_exception_fails_its_items_and_the_job_goes_on(ray_cluster, small_bars):
    space = {"fast": [10, 13, 15], "slow": range(30, 90, 10)}
    result = cluster.sweep(Fragile, small_bars, space, COST, chunk_size=2, address=ray_cluster.address)
    alone = cluster.sweep(SmaX, small_bars, space, COST, chunk_size=2, address="local-threads", workers=1)
    bad = result.table["fast"] == 13
    assert bad.sum() == 6 and result.run.failed_items == 6
    assert result.table.loc[bad, "error"].str.contains("RuntimeError: thirteen is unlucky").all()
    assert result.table.loc[bad, "sharpe"].isna().all()
    pd.testing.assert_frame_equal(result.table[~bad], alone.table[~bad])


def test_a_chunk_that_kills_every_worker_it_meets_is_given_up_alone(ray_cluster, small_bars):
    space = {"fast": [10, 16, 20], "slow": range(30, 130, 10)}
    result = cluster.sweep(Poisonous, small_bars, space, COST, chunk_size=5, address=ray_cluster.address)
    alone = cluster.sweep(SmaX, small_bars, space, COST, chunk_size=5, address="local-threads", workers=1)
    table = result.table
    poison_id = table.loc[(table["fast"] == POISON["fast"]) & (table["slow"] == POISON["slow"]), "item_id"].item()
    poisoned = table["item_id"] // 5 == poison_id // 5  # the chunk of 5 holding it
    assert poisoned.sum() == 5 and len(table) == 30 and table["item_id"].is_unique
    assert table.loc[poisoned, "error"].str.startswith("lost 3 times").all()
    # Its 2 retries, and one more for any chunk whose answer died unsent with a worker.
    assert result.run.failed_items == 5 and result.run.retried_chunks >= 2
    pd.testing.assert_frame_equal(table[~poisoned], alone.table[~poisoned])


def test_a_crash_costs_a_try_only_to_the_chunk_that_was_running(ray_cluster, small_bars):
    poisoned = Chunk(0, (0,), (("SPX", POISON),))
    behind = Chunk(1, (1, 2), (("SPX", {"fast": 10, "slow": 50}), ("SPX", {"fast": 16, "slow": 50})))
    outcomes: list = []
    with RayExecutor(address=ray_cluster.address, workers=1, depth=2) as executor:
        executor.start(SweepWork(Poisonous, {"SPX": small_bars}, COST))
        ray.get([actor.pid.remote() for actor in executor.actors])  # up: both chunks go to it at once
        executor.submit(poisoned)
        executor.submit(behind)
        deadline = time.monotonic() + 120
        while not any(o.chunk_id == 1 for o in outcomes) and time.monotonic() < deadline:
            outcomes.extend(executor.poll(1.0))
    # The worker ran the poisoned chunk and died of it; the chunk queued behind never
    # started, so it is run by the next worker without being counted as lost.
    assert [(type(o).__name__, o.chunk_id) for o in outcomes] == [("Lost", 0), ("ChunkResult", 1)]


def test_the_worker_node_killed_mid_sweep_costs_retries_not_results(ray_cluster, small_bars, undisturbed):
    def kill_the_node():
        if ray_cluster.worker.processes_titled("ray::ChunkWorker"):
            ray_cluster.worker.kill()
            return ray_cluster.worker.ip
        return None  # its worker has not started yet

    kill = a_quarter_in(kill_the_node)
    # A chunk stalled for 30 s (300 times its work) is taken back: were a chunk left waiting
    # for a worker that cannot start, this test would fail in minutes rather than hang.
    with RayExecutor(address=ray_cluster.address, stall_after=30) as executor:
        result = cluster.sweep(Unhurried, small_bars, SPACE, COST, chunk_size=CHUNK, progress=kill, executor=executor)
    assert kill.done, "the sweep ended before the kill"
    assert not ray_cluster.worker.alive
    ray_cluster.wait_for_nodes()  # the head's GCS has seen the worker node die
    assert [n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"]] == [ray_cluster.head.ip]
    assert result.run.retried_chunks >= 1
    assert_complete_and_identical(result, undisturbed)
