"""Determinism across nodes: a job on one thread and on a real two-node Ray cluster
gives identical tables, whatever ran where.

The cluster (``tests.cluster.two_nodes``) is a head and a worker node of 1 CPU
each on this machine's loopback addresses, joined with token authentication.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
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
from tests.cluster.conftest import COST, SmaX
from tests.cluster.two_nodes import HEAD_IP, WORKER_IP, ray_cluster, two_nodes  # noqa: F401 (fixtures)

SPACE = {"fast": range(5, 60, 5), "slow": range(20, 200, 20)}
PARAMS = {"fast": 10, "slow": 50}

# A process asks the head's GCS for its nodes, with whatever token its environment holds.
ASK_FOR_NODES = """
import sys
from ray._raylet import GcsClient
print(len(GcsClient(address=sys.argv[1]).get_all_node_info(timeout=20)))
"""


def one_thread(**kw):
    return {"address": "local-threads", "workers": 1, **kw}


def ask_for_nodes(ray_cluster, token: str | None) -> subprocess.CompletedProcess:
    env = dict(ray_cluster.env)
    if token is None:
        env.pop("RAY_AUTH_TOKEN")
        env["RAY_AUTH_MODE"] = "disabled"
    else:
        env["RAY_AUTH_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-c", ASK_FOR_NODES, ray_cluster.address], env=env, capture_output=True, text=True, timeout=120
    )


def test_the_cluster_is_two_nodes_of_one_cpu_on_loopback_addresses(ray_cluster):
    nodes = [n for n in ray.nodes() if n["Alive"]]
    assert sorted(n["NodeManagerAddress"] for n in nodes) == [HEAD_IP, WORKER_IP]
    assert [n["Resources"]["CPU"] for n in nodes] == [1.0, 1.0]
    assert ray_cluster.address.startswith(f"{HEAD_IP}:")


def test_the_cluster_refuses_a_process_without_its_token(ray_cluster):
    own = ask_for_nodes(ray_cluster, ray_cluster.token)
    assert own.returncode == 0, own.stderr
    assert own.stdout.strip() == "2"
    for token in ("0" * 64, None):  # a wrong token; token auth switched off
        refused = ask_for_nodes(ray_cluster, token)
        assert refused.returncode != 0
        assert "AuthenticationError" in refused.stderr and "InvalidAuthToken" in refused.stderr


def test_chunks_run_on_both_nodes(ray_cluster, small_bars):
    sp = Space.of(SmaX, SPACE)
    items = list(sweep_items("grid", sp, ["SPX"], 0, 0))
    ran_on: dict[int, str] = {}
    executor = RayExecutor(address=ray_cluster.address)
    assert executor.capacity == 2
    with executor:
        executor.start(SweepWork(SmaX, {"SPX": small_bars}, COST))
        ray.get([actor.pid.remote() for actor in executor.actors])  # both workers are up
        run = run_job(
            executor, chunked(iter(items), 3), len(items), lambda r, c: ran_on.setdefault(r.chunk_id, r.worker)
        )
    assert run.done_items == len(items) and run.failed_items == 0
    pids = {int(where.rsplit(":", 1)[1]) for where in ran_on.values()}
    on_head = pids & set(ray_cluster.head.pids)
    on_worker = pids & set(ray_cluster.worker.pids)
    assert on_head and on_worker, f"chunks ran in processes {pids}, not on both nodes"


@pytest.mark.parametrize(
    "method, extra",
    [
        ("grid", {}),
        ("random", {"n_trials": 60, "seed": 7}),
        ("tpe", {"n_trials": 24, "seed": 3, "batch_size": 4}),
    ],
)
def test_a_sweep_gives_the_same_table_on_one_thread_and_on_two_nodes(ray_cluster, small_bars, method, extra):
    space = SPACE if method == "grid" else {"fast": range(2, 60), "slow": range(20, 250)}
    kw = {"chunk_size": 4} if method != "tpe" else {}
    alone = cluster.sweep(SmaX, small_bars, space, COST, method=method, **extra, **kw, **one_thread())
    spread = cluster.sweep(SmaX, small_bars, space, COST, method=method, **extra, **kw, address=ray_cluster.address)
    assert len(spread.table) == len(alone.table) > 20
    assert spread.table["item_id"].is_unique and spread.table["error"].isna().all()
    pd.testing.assert_frame_equal(spread.table, alone.table)
    assert spread.best_params == alone.best_params


def test_a_walk_forward_gives_the_same_windows_and_curve_on_one_thread_and_on_two_nodes(ray_cluster, small_bars):
    args = (SmaX, small_bars, {"fast": [5, 10, 20, 30], "slow": [40, 80, 120]})
    kw = {"train": 500, "test": 200, "config": COST}
    alone = cluster.walk_forward(*args, **kw, **one_thread())
    spread = cluster.walk_forward(*args, **kw, address=ray_cluster.address)
    assert len(spread.windows) == 5
    pd.testing.assert_frame_equal(spread.windows, alone.windows)
    pd.testing.assert_frame_equal(spread.train_table, alone.train_table)
    pd.testing.assert_series_equal(spread.equity, alone.equity)
    assert spread.stats == pytest.approx(alone.stats, rel=0, abs=0, nan_ok=True)


@pytest.mark.parametrize("method", ["permutation", "block_bootstrap"])
def test_monte_carlo_gives_the_same_paths_on_one_thread_and_on_two_nodes(ray_cluster, small_bars, method):
    kw = {"n": 120, "method": method, "seed": 11, "config": COST}
    alone = cluster.monte_carlo(SmaX, PARAMS, small_bars, **kw, **one_thread())
    spread = cluster.monte_carlo(SmaX, PARAMS, small_bars, **kw, address=ray_cluster.address)
    assert len(spread.paths) == 120 and spread.paths["path"].tolist() == list(range(120))
    pd.testing.assert_frame_equal(spread.paths, alone.paths)
    assert spread.p_value == alone.p_value and spread.intervals == alone.intervals
    assert np.isfinite(spread.paths["sharpe"]).all()
