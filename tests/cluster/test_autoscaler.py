"""``ray-cluster.yaml``'s autoscaler settings, run by Ray's own autoscaler on this machine.

A test-only copy of the file has its AWS provider swapped for Ray's fake multi-node
provider (``type: fake_multinode``: the autoscaler "launches" a worker by starting a Ray
node process on this machine), its idle timeout shortened to seconds and its workers
capped at two; the autoscaling settings (``upscaling_speed``, the worker type's
``min_workers``, the head node type, the rest of the file) are the real file's. A job
asking for more workers than the head has makes the autoscaler add nodes, the job's
chunks run on them as they come, and once the job is stopped the idle nodes go away.

The fake provider runs inside the head's autoscaler process: every node it starts is a
descendant of the head's ``ray start``, in the head's temp dir, at 127.0.0.1
(``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` makes Ray pick the loopback address).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Iterator

import jsonschema
import pytest
import ray.autoscaler
import yaml
from ray.autoscaler._private.fake_multi_node.node_provider import FAKE_HEAD_NODE_ID

from tests.cluster.job_cluster import JOB_TIMEOUT, VENV_BIN, JobCluster
from tests.cluster.test_job_submit import STRATEGIES, SWEEP, ray_job_id, ray_list
from tests.cluster.two_nodes import HEAD_IP, HEALTH_CHECK, Node, _node_env, _start_node, free_port

CONFIG = Path(__file__).resolve().parents[2] / "ray-cluster.yaml"
SCHEMA = Path(ray.autoscaler.__file__).with_name("ray-schema.json")
IDLE_MINUTES = 0.25  # 15 s instead of the file's 10 minutes
MAX_NODES = 2  # workers the test lets the autoscaler start (the file says 100)


def fake_config(gcs_address: str) -> dict:
    """ray-cluster.yaml with the fake provider in place of AWS, for this machine."""
    real = yaml.safe_load(CONFIG.read_text())
    out = copy.deepcopy(real)
    # A fake node is started ready (nothing to update over ssh) and known by its node id.
    out["provider"] = {
        "type": "fake_multinode",
        "gcs_address": gcs_address,
        "launch_multiple": True,
        "disable_node_updaters": True,
        "disable_launch_config_check": True,
        "use_node_id_as_ip": True,
    }
    out["idle_timeout_minutes"] = IDLE_MINUTES
    out["max_workers"] = MAX_NODES
    head, worker = real["head_node_type"], next(n for n in real["available_node_types"] if n != real["head_node_type"])
    types = real["available_node_types"]
    out["available_node_types"] = {
        # The fake provider knows its head as "ray.head.default"; a node's CPUs are what
        # AWS would report for the instance type, one each here.
        "ray.head.default": {**types[head], "resources": {"CPU": 1}, "node_config": {}},
        worker: {**types[worker], "resources": {"CPU": 1}, "node_config": {}, "max_workers": MAX_NODES},
    }
    out["head_node_type"] = "ray.head.default"
    # Nothing to install or copy: the nodes are processes of this machine, anvil is in this venv.
    for key in (
        "file_mounts",
        "initialization_commands",
        "setup_commands",
        "head_setup_commands",
        "worker_setup_commands",
        "head_start_ray_commands",
        "worker_start_ray_commands",
    ):
        out[key] = {} if key == "file_mounts" else []
    return out


def test_the_fake_config_keeps_the_files_autoscaling_settings():
    real = yaml.safe_load(CONFIG.read_text())
    fake = fake_config("127.0.0.2:6379")
    # Ray's schema (``prepare_config`` would need the fake provider's example.yaml, which
    # Ray's wheel does not ship; the autoscaler itself reads the file as written).
    jsonschema.validate(fake, json.loads(SCHEMA.read_text()))
    assert fake["upscaling_speed"] == real["upscaling_speed"]
    worker = next(n for n in real["available_node_types"] if n != real["head_node_type"])
    assert fake["available_node_types"][worker]["min_workers"] == real["available_node_types"][worker]["min_workers"]


def alive_nodes(c: JobCluster) -> dict[str, str]:
    """node_id -> ip of the nodes the GCS counts alive."""
    return {n["node_id"]: n["node_ip"] for n in ray_list(c, "nodes") if n["state"] == "ALIVE"}


@pytest.fixture(scope="module")
def autoscaling() -> Iterator[JobCluster]:
    """A head node (1 CPU, the job server) whose autoscaler runs the fake config; no workers yet."""
    temp_dir = Path(tempfile.mkdtemp(prefix="anvil-scale-"))
    token = os.urandom(32).hex()
    env = _node_env(token)
    env["PATH"] = VENV_BIN + os.pathsep + env.get("PATH", "")
    store = temp_dir / "head-data" / "anvil.duckdb"
    store.parent.mkdir()
    port, dashboard_port = free_port(HEAD_IP), free_port(HEAD_IP)
    config = temp_dir / "ray-cluster-fake.yaml"
    config.write_text(yaml.safe_dump(fake_config(f"{HEAD_IP}:{port}")))
    head_env = {
        **env,
        "ANVIL_DB": str(store),
        "RAY_FAKE_CLUSTER": "1",
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "AUTOSCALER_UPDATE_INTERVAL_S": "2",
        # the node id the fake provider knows the head by
        "RAY_OVERRIDE_NODE_ID_FOR_TESTING": FAKE_HEAD_NODE_ID,
        "RAY_CLOUD_INSTANCE_ID": FAKE_HEAD_NODE_ID,
    }
    head: Node | None = None
    try:
        head = _start_node(
            "head",
            HEAD_IP,
            temp_dir,
            head_env,
            [
                "--head",
                f"--port={port}",
                "--include-dashboard=true",
                f"--dashboard-host={HEAD_IP}",
                f"--dashboard-port={dashboard_port}",
                f"--ray-client-server-port={free_port(HEAD_IP)}",
                f"--autoscaling-config={config}",
                "--disable-usage-stats",
                f"--system-config={json.dumps(HEALTH_CHECK)}",
            ],
        )
        # The head is the "worker" too as far as stopping goes: the fake nodes are its descendants.
        c = JobCluster(temp_dir, token, port, dashboard_port, store, head, head, env)
        c.wait_for_job_server()
        yield c
    finally:
        if head is not None:
            head.stop()
        stragglers(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)


def stragglers(temp_dir: Path) -> None:
    """Kill what is left of the fake nodes: a node the autoscaler was starting while the
    head stopped can outlive it (reparented, so not among the head's descendants). They
    are found by this cluster's own temp dir in their command line, nothing else."""
    mark = str(temp_dir).encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            if mark in Path(f"/proc/{entry}/cmdline").read_bytes():
                os.kill(int(entry), signal.SIGKILL)
        except (OSError, ProcessLookupError):  # gone meanwhile, or not ours to read
            continue


def test_a_job_wanting_more_workers_gets_nodes_and_idle_nodes_go_away(autoscaling):
    c = autoscaling
    head_id = next(iter(alive_nodes(c)))
    assert len(alive_nodes(c)) == 1
    long = [w if w != "my_strategy.py" else "slow_cross.py" for w in SWEEP[:-3]]
    long += ["--space", "fast=2:100", "slow=5:400"]  # 39,204 runs of 0.2 s each: running until stopped
    long = [w if w != "2" else str(1 + MAX_NODES) for w in long]  # --workers 3: the head has 1 CPU
    job = c.submit(long, working_dir=STRATEGIES, wait=False)
    job_id = None
    deadline = time.monotonic() + JOB_TIMEOUT
    # Nodes appear, and chunks run on them while the job goes on.
    while True:
        assert c.status(job.job_id) in ("PENDING", "RUNNING"), c.logs(job.job_id)[-3000:]
        assert time.monotonic() < deadline, (alive_nodes(c), c.logs(job.job_id)[-3000:])
        job_id = job_id or ray_job_id(c, job.job_id)  # None until the driver has started
        if job_id:
            ran = ray_list(c, "tasks", "func_or_class_name=ChunkWorker.run", f"job_id={job_id}", "state=FINISHED")
            if len({t["node_id"] for t in ran} - {head_id}) == MAX_NODES:
                break
        time.sleep(2.0)
    assert len(alive_nodes(c)) == 1 + MAX_NODES
    logs = c.logs(job.job_id)
    assert "3 workers asked, the cluster has 1 CPUs now" in logs and "3 of 3 workers up" in logs, logs[-3000:]
    # Stopped, the job leaves idle nodes, which the autoscaler removes after the timeout.
    assert c.ray("job", "stop", "--address", c.job_address, job.job_id).returncode == 0
    assert c.wait_for_status(job.job_id, {"STOPPED", "FAILED", "SUCCEEDED"}) == "STOPPED"
    deadline = time.monotonic() + IDLE_MINUTES * 60 + JOB_TIMEOUT
    while (alive := alive_nodes(c)) != {head_id: HEAD_IP}:
        assert time.monotonic() < deadline, alive
        time.sleep(2.0)
