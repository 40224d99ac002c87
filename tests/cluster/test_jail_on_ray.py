"""The same jail on every Ray node: an uploaded strategy's chunks run in jails its Ray workers start.

A local Ray of 2 CPUs (``local_ray``). The jailed stand-in travels to the workers
as it is (its source, not its code); each worker process starts and pools its own
bubblewrap jails, under the same limits as on the service's machine. Skipped loudly
where no jail can be built (under CI=true, a failure).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import ray

import cluster
from cluster.jobs import chunked
from cluster.ray_executor import RayExecutor
from cluster.scheduler import run_job
from cluster.space import Space
from cluster.sweep import _items as sweep_items
from cluster.work import SweepWork
from strategies import jail
from strategies.loader import load_strategy
from tests.cluster.conftest import COST
from tests.strategies.jail_fixtures import hostile, require_jail
from tests.strategies.test_jail import TREND

SPACE = {"fast": [5, 10, 20], "slow": [40, 80]}
LIMITS = jail.Limits(call_seconds=60, load_seconds=60, memory_bytes=1 << 30, pool_size=1)

pytestmark = pytest.mark.usefixtures("jail_ok")


@pytest.fixture(scope="module")
def jail_ok() -> None:
    require_jail()


def jails_of(parents: set[int]) -> set[int]:
    """Pids of the jailed workers' bwrap processes whose parent is one of ``parents``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            status = (entry / "status").read_text()
        except OSError:
            continue
        ppid = int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))
        if ppid in parents and argv and argv[0].endswith(b"bwrap") and any(b"jail._worker" in a for a in argv):
            found.add(int(entry.name))
    return found


def test_the_chunks_of_an_uploaded_strategy_run_in_jails_its_ray_workers_start(small_bars, local_ray) -> None:
    job = "ray-jails"
    cls = jail.jailed(TREND, jail.describe(TREND, LIMITS), job=job, limits=LIMITS)
    items = list(sweep_items("grid", Space.of(cls, SPACE), ["SPX"], 0, 0))
    stats: list[object] = []
    executor = RayExecutor(workers=2)
    with executor:
        executor.start(SweepWork(cls, {"SPX": small_bars}, COST))
        actors = set(ray.get([actor.pid.remote() for actor in executor.actors]))
        run = run_job(executor, chunked(iter(items), 2), len(items), lambda r, c: stats.append(r))
        jailed_on_ray = jails_of(actors)  # the pools keep their processes until the job unloads
    assert run.done_items == len(items) and run.failed_items == 0, run
    assert jailed_on_ray, f"no bwrap process under the Ray workers {actors}"
    assert jails_of({os.getpid()}) == set() and job not in jail._pool._pools  # none ran here


def test_a_jailed_sweep_on_ray_gives_the_table_it_gives_in_process(small_bars, local_ray) -> None:
    cls = jail.jailed(TREND, jail.describe(TREND, LIMITS), job="ray-table", limits=LIMITS)
    try:
        on_ray = cluster.sweep(cls, small_bars, SPACE, COST, chunk_size=2, workers=2)
    finally:
        jail.release("ray-table")
    here = cluster.sweep(load_strategy(TREND), small_bars, SPACE, COST, chunk_size=2, address="local-threads")
    assert on_ray.table["error"].isna().all(), on_ray.table["error"].dropna().tolist()
    pd.testing.assert_frame_equal(on_ray.table, here.table)


def test_the_jails_limits_hold_on_ray_workers(small_bars, local_ray) -> None:
    """An endless loop and a segfault, on Ray: each item ends with the jail's reason, the job ends."""
    short = jail.Limits(call_seconds=2, load_seconds=60, memory_bytes=1 << 30, pool_size=1)
    roomy = jail.Limits(call_seconds=300, load_seconds=60, memory_bytes=1 << 30, pool_size=1)  # a crash, not a timeout
    errors = {}
    for name, limits in (("infinite_loop", short), ("map_chain", roomy)):
        source = hostile(name)
        cls = jail.jailed(source, jail.describe(source, limits), job=f"ray-{name}", limits=limits)
        try:
            result = cluster.sweep(cls, small_bars, {}, COST, method="random", n_trials=4, chunk_size=1, workers=2)
        finally:
            jail.release(f"ray-{name}")
        errors[name] = result.table["error"].tolist()
    assert all(e and "longer than its limit of 2 s" in e for e in errors["infinite_loop"]), errors
    assert all(e and ("SIGSEGV" in e or jail.BROKEN in e) for e in errors["map_chain"]), errors
    assert any(jail.BROKEN in e for e in errors["map_chain"]), errors
