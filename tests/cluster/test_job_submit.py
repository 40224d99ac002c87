"""The README's cloud path, run for real: jobs go in with ``ray job submit`` as a user
types them, to a two-node cluster on this machine with token authentication and Ray's
job server (``tests.cluster.job_cluster``).

The README's own ``ray job submit`` line is read from README.md and run as written
(``tests.cluster.readme_cloud``); the other jobs are scaled down (30 parameter sets).
Each job's result table is compared with the same command run here on threads; only the
head node has a store, so every chunk a worker node ran shows that a node needs no data.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.cluster import readme_cloud
from tests.cluster.job_cluster import JOB_TIMEOUT, VENV_BIN, JobCluster, job_cluster  # noqa: F401 (fixture)

STRATEGIES = Path(__file__).resolve().parents[1] / "data" / "cloud_strategies"  # `cd my-strategies`
SPACE = ["--space", "fast=5:30:5", "slow=40:120:20"]  # 30 parameter sets
SWEEP = ["anvil", "sweep", "--address", "auto", "--workers", "2", "-s", "my_strategy.py", "--symbol", "SPX", *SPACE]
WALK_FORWARD = [
    "anvil",
    "walk-forward",
    "--address",
    "auto",
    "-s",
    "my_strategy.py",
    "--symbol",
    "SPX",
    "--space",
    "fast=5:20:5",
    "slow=40:100:20",
    "--train",
    "1000",
    "--test",
    "500",
]
MONTE_CARLO = [
    "anvil",
    "monte-carlo",
    "--address",
    "auto",
    "-s",
    "my_strategy.py",
    "--symbol",
    "SPX",
    "-p",
    "fast=10",
    "slow=50",
    "--paths",
    "40",
    "--seed",
    "7",
]


def here(c: JobCluster, command: list[str], out: Path) -> pd.DataFrame:
    """The same command run on this machine's threads, on the head's store: the reference."""
    local = [w if w != "auto" else "local-threads" for w in command]
    env = {**c.client_env(ANVIL_DB=str(c.store))}
    got = subprocess.run(
        [*local, "--out", str(out)],
        cwd=STRATEGIES,
        env=env,
        capture_output=True,
        text=True,
        timeout=JOB_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    assert got.returncode == 0, got.stderr
    return pd.read_parquet(out)


def without(command: list[str], name: str) -> list[str]:
    """``command`` without the option ``name`` and its value."""
    i = command.index(name)
    return command[:i] + command[i + 2 :]


def submitted(c: JobCluster, command: list[str], name: str) -> tuple[pd.DataFrame, str]:
    """``command --out '~/NAME'`` through ``ray job submit``; its table (written in the
    head's home) and its logs."""
    job = c.submit([*command, "--out", f"~/{name}"], working_dir=STRATEGIES)
    assert c.status(job.job_id) == "SUCCEEDED", job.output[-3000:]
    assert job.returncode == 0
    logs = c.logs(job.job_id)
    table = pd.read_parquet(c.home / name)
    assert f"wrote {len(table):,} rows to {c.home / name}" in logs
    return table, logs


def ray_list(c: JobCluster, what: str, *filters: str) -> list[dict]:
    return c.list(what, *filters)


def last_submission(c: JobCluster) -> str:
    """The submission id of the job submitted last."""
    jobs = [j for j in ray_list(c, "jobs") if j.get("submission_id")]
    return max(jobs, key=lambda j: j["start_time"])["submission_id"]


def ray_job_id(c: JobCluster, submission_id: str) -> str | None:
    """The Ray job id of a submission (None until its driver has started)."""
    jobs = ray_list(c, "jobs")
    return next(j["job_id"] for j in jobs if j.get("submission_id") == submission_id)


@pytest.fixture(scope="module")
def local_sweep(job_cluster, tmp_path_factory) -> pd.DataFrame:
    return here(job_cluster, SWEEP, tmp_path_factory.mktemp("local") / "runs.parquet")


def test_the_readmes_submit_command_as_written_gives_the_table_of_a_local_run(job_cluster, tmp_path):
    """The README's ``ray job submit`` line, read from README.md and run as written
    (``--workers 256`` on a cluster of 2 CPUs included); only the job server's address
    is this head's instead of the tunnel ``ray dashboard`` opens to an AWS head."""
    c = job_cluster
    words = readme_cloud.submit_command()
    assert readme_cloud.option(words, "--address") == readme_cloud.TUNNEL
    assert readme_cloud.option(words, "--working-dir") == "."
    words[words.index("--address") + 1] = c.job_address
    command = readme_cloud.entrypoint(words)
    assert (STRATEGIES / readme_cloud.option(command, "-s")).is_file()  # `cd my-strategies`
    out = readme_cloud.option(command, "--out")  # quoted in the README: the head expands it
    assert out.startswith("~/"), out
    job = c.submit_as_typed(words, cwd=STRATEGIES)
    assert job.returncode == 0 and c.status(job.job_id) == "SUCCEEDED", job.output[-3000:]
    assert f"Job '{job.job_id}' succeeded" in c.status_text(job.job_id)
    written = c.home / out[2:]
    table = pd.read_parquet(written)
    logs = c.logs(job.job_id)
    workers = int(readme_cloud.option(command, "--workers"))
    assert f"{workers} workers asked, the cluster has 2 CPUs now" in logs, logs[-3000:]
    assert f"sweep MyCross: {len(table):,} of {len(table):,} runs done (100%), 0 failed" in logs, logs[-3000:]
    assert f"wrote {len(table):,} rows to {written}" in logs and f"wrote {len(table):,} rows" in job.output
    assert len(table) > 1000 and table["error"].isna().all()
    # The same command here, on threads (how many workers ran it does not change the table).
    local = without(without(command, "--workers"), "--out")
    pd.testing.assert_frame_equal(table, here(c, local, tmp_path / "local.parquet"))
    # The data: `ray rsync-up` puts a store where the head's driver reads it; the worker
    # node has none.
    rsync = readme_cloud.only(readme_cloud.cloud_commands(), "ray", "rsync-up")
    assert rsync[-1].startswith("~/") and c.home / rsync[-1][2:] == c.store and c.store.is_file()
    assert not list((c.temp_dir / "worker-home").rglob("*.duckdb"))


def test_a_walk_forward_job_and_a_monte_carlo_job(job_cluster, tmp_path):
    c = job_cluster
    for name, command in (("walk_forward", WALK_FORWARD), ("monte_carlo", MONTE_CARLO)):
        table, _ = submitted(c, command, f"{name}.parquet")
        reference = here(c, command, tmp_path / f"{name}-local.parquet")
        assert len(table) > 1
        pd.testing.assert_frame_equal(table, reference)


def test_a_job_whose_strategy_file_is_refused_fails_with_the_loaders_message(job_cluster):
    c = job_cluster
    # A local file is the user's own code (it may import anything); --sandbox checks it
    # with the service's safe loader, which refuses this one.
    command = [*(w if w != "my_strategy.py" else "not_allowed.py" for w in SWEEP), "--sandbox"]
    job = c.submit(command, working_dir=STRATEGIES)
    assert job.returncode != 0
    assert c.wait_for_status(job.job_id, {"SUCCEEDED", "FAILED", "STOPPED"}) == "FAILED"
    logs = c.logs(job.job_id)
    assert "anvil: error: not_allowed.py" in logs and "subprocess" in logs, logs[-2000:]
    assert not (STRATEGIES / "owned").exists()


def test_a_job_whose_strategy_file_does_not_load_fails_with_the_loaders_message(job_cluster):
    c = job_cluster
    # Ordinary Python (no --sandbox): the driver imports the file on the head, which lacks
    # a package the file needs.
    command = [w if w != "my_strategy.py" else "needs_a_package.py" for w in SWEEP]
    job = c.submit(command, working_dir=STRATEGIES)
    assert job.returncode != 0
    assert c.wait_for_status(job.job_id, {"SUCCEEDED", "FAILED", "STOPPED"}) == "FAILED"
    logs = c.logs(job.job_id)
    said = r"anvil: error: \S*/needs_a_package\.py:\d+: ModuleNotFoundError: No module named 'not_installed_on_the_cluster'"
    assert re.search(said, logs), logs[-2000:]


def test_more_workers_than_the_cluster_has_wait_and_the_table_is_the_same(job_cluster, local_sweep):
    c = job_cluster
    command = [w if w != "2" else "5" for w in SWEEP]  # --workers 5 on a cluster of 2 CPUs
    table, logs = submitted(c, command, "wide.parquet")
    assert "5 workers asked, the cluster has 2 CPUs now" in logs, logs[-2000:]
    assert re.search(r"[12] of 5 workers up", logs) and "sweep MyCross: 30 of 30 runs done (100%), 0 failed" in logs
    pd.testing.assert_frame_equal(table, local_sweep)


def test_a_worker_node_without_a_store_runs_chunks_and_a_stopped_job_leaves_no_actors(job_cluster):
    c = job_cluster
    long = [w if w != "my_strategy.py" else "slow_cross.py" for w in SWEEP[: -len(SPACE)]]
    long += ["--space", "fast=2:100", "slow=5:400"]  # 39,204 runs of 0.2 s each: running until stopped
    job = c.submit(long, working_dir=STRATEGIES, wait=False)
    deadline = time.monotonic() + JOB_TIMEOUT
    # Running on both nodes: the worker node, which has no store, runs chunks (the driver
    # shipped the bars). Which actor is up first varies, so wait for the worker node's.
    nodes = {n["node_id"]: n["node_ip"] for n in ray_list(c, "nodes")}
    on: set[str] = set()
    job_id = None
    while "127.0.0.3" not in on:
        assert c.status(job.job_id) in ("PENDING", "RUNNING"), c.logs(job.job_id)[-3000:]
        assert time.monotonic() < deadline, (on, c.logs(job.job_id)[-3000:])
        time.sleep(1.0)
        job_id = job_id or ray_job_id(c, job.job_id)  # None until the driver has started
        if job_id:
            ran = ray_list(c, "tasks", "func_or_class_name=ChunkWorker.run", f"job_id={job_id}", "state=FINISHED")
            on = {nodes.get(t["node_id"], "?") for t in ran}
    assert not Path("/proc/anvil-has-no-store-here").exists()
    assert not list((c.temp_dir / "worker-home").rglob("*.duckdb"))
    assert ray_list(c, "actors", "class_name=ChunkWorker", "state=ALIVE", f"job_id={job_id}")
    got = c.ray("job", "stop", "--address", c.job_address, job.job_id)
    assert got.returncode == 0, got.stderr
    assert c.wait_for_status(job.job_id, {"STOPPED", "FAILED", "SUCCEEDED"}) == "STOPPED"
    while alive := ray_list(c, "actors", "class_name=ChunkWorker", "state=ALIVE"):
        assert time.monotonic() < deadline, alive
        time.sleep(1.0)
    while titled := c.head.processes_titled("ray::ChunkWorker") + c.worker.processes_titled("ray::ChunkWorker"):
        assert time.monotonic() < deadline, titled
        time.sleep(1.0)
    assert os.path.isdir(VENV_BIN)
