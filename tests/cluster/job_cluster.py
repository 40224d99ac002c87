"""A two-node Ray cluster with its job server, driven by the ``ray job`` command line.

What the README's cloud section does after ``ray up``, on this machine: a head node
(127.0.0.2) running Ray's dashboard and job server, a worker node (127.0.0.3), token
authentication on, every port picked free, each node its own ``ray start --block``
process tree in a fresh temp dir (``tests.cluster.two_nodes`` starts and stops them;
never ``ray stop``). Jobs go in with ``ray job submit`` as a user types it.

Each node has its own home folder (``HOME``), as a cloud machine does. Where the data
is: only the head has a store, at the default path under its home (where the README's
``ray rsync-up`` puts one; filled with the shipped sample on first use); the worker
node's ``ANVIL_DB`` names a file that cannot be created, so a worker that tried to open
a store would fail. A job's ``--out '~/runs.parquet'`` lands in the head's home.

    def test_x(job_cluster):
        done = job_cluster.submit(["anvil", "sweep", ...], working_dir=folder)
        assert done.status == "SUCCEEDED"
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

from tests.cluster.two_nodes import HEAD_IP, HEALTH_CHECK, RAY, Node, _node_env, _start_node, free_port

JOB_TIMEOUT = 240.0  # a `ray job` command, or a job, taking longer than this fails the test
VENV_BIN = str(Path(sys.executable).parent)  # where `anvil` is installed, as on every cloud node
NO_STORE = "/proc/anvil-has-no-store-here/anvil.duckdb"  # a path no process can create
_SUBMITTED = re.compile(r"Job '([^']+)' submitted successfully")


def node_env(token: str) -> dict[str, str]:
    """A node's environment: token auth on, ``anvil`` on the PATH (as ``pip install`` puts
    it on a cloud node), no store named (``ANVIL_DB``, ``XDG_DATA_HOME`` unset)."""
    env = {k: v for k, v in _node_env(token).items() if k not in ("ANVIL_DB", "XDG_DATA_HOME")}
    env["PATH"] = VENV_BIN + os.pathsep + env.get("PATH", "")
    return env


@dataclass
class Submitted:
    """A finished ``ray job submit``: its exit status, output and the job's id."""

    returncode: int
    output: str
    job_id: str


@dataclass
class JobCluster:
    """A head with the job server and a worker node of 1 CPU each, one shared token."""

    temp_dir: Path
    token: str
    port: int
    dashboard_port: int
    home: Path  # the head's home folder
    head: Node
    worker: Node
    env: dict[str, str] = field(repr=False)

    @property
    def address(self) -> str:
        """The cluster's GCS address (what a driver on a node calls ``auto``)."""
        return f"{HEAD_IP}:{self.port}"

    @property
    def store(self) -> Path:
        """The head's store: anvil's default path under the head's home."""
        return self.home / ".local" / "share" / "anvil" / "anvil.duckdb"

    @property
    def job_address(self) -> str:
        """The job server's address: ``ray job submit --address`` (the README's 127.0.0.1:8265)."""
        return f"http://{HEAD_IP}:{self.dashboard_port}"

    @classmethod
    def start(cls) -> JobCluster:
        """Start the head (with the dashboard), then the worker node; wait for the job server."""
        temp_dir = Path(tempfile.mkdtemp(prefix="anvil-job-"))
        token = os.urandom(32).hex()
        env = node_env(token)
        home, worker_home = temp_dir / "head-home", temp_dir / "worker-home"
        home.mkdir(), worker_home.mkdir()
        port, dashboard_port = free_port(HEAD_IP), free_port(HEAD_IP)
        nodes: list[Node] = []
        try:
            nodes.append(
                _start_node(
                    "head",
                    HEAD_IP,
                    temp_dir,
                    {**env, "HOME": str(home)},
                    [
                        "--head",
                        f"--port={port}",
                        "--include-dashboard=true",
                        f"--dashboard-host={HEAD_IP}",
                        f"--dashboard-port={dashboard_port}",
                        f"--ray-client-server-port={free_port(HEAD_IP)}",
                        "--disable-usage-stats",
                        f"--system-config={json.dumps(HEALTH_CHECK)}",
                    ],
                )
            )
            nodes.append(
                _start_node(
                    "worker",
                    "127.0.0.3",
                    temp_dir,
                    {**env, "HOME": str(worker_home), "ANVIL_DB": NO_STORE},
                    [f"--address={HEAD_IP}:{port}"],
                )
            )
            c = cls(temp_dir, token, port, dashboard_port, home, nodes[0], nodes[1], env)
            c.wait_for_job_server()
        except BaseException:
            for node in reversed(nodes):
                node.stop()
            shutil.rmtree(temp_dir, ignore_errors=True)
            raise
        return c

    def client_env(self, **extra: str) -> dict[str, str]:
        """The laptop's environment: the token exported, as the README says."""
        return {**self.env, **extra}

    def ray(self, *words: str, timeout: float = JOB_TIMEOUT, cwd: Path | None = None) -> subprocess.CompletedProcess:
        """Run ``ray <words>`` as a user would (this interpreter's ``ray`` command)."""
        return subprocess.run(
            [*RAY, *words],
            env=self.client_env(),
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def wait_for_job_server(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            got = self.ray("job", "list", "--address", self.job_address, timeout=60)
            if got.returncode == 0:
                return
            if not self.head.alive:
                raise RuntimeError(f"head node exited:\n{self.head.log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no job server at {self.job_address} after {timeout:.0f} s:\n{got.stderr[-2000:]}")
            time.sleep(1.0)

    def submit(self, entrypoint: list[str], working_dir: Path, wait: bool = True) -> Submitted:
        """``ray job submit --address ... --working-dir DIR [--no-wait] -- ENTRYPOINT``, run
        from ``working_dir`` as the README does (``cd my-strategies``)."""
        args = ["job", "submit", "--address", self.job_address, "--working-dir", "."]
        if not wait:
            args.append("--no-wait")
        return self.submit_as_typed(["ray", *args, "--", *entrypoint], working_dir)

    def submit_as_typed(self, words: list[str], cwd: Path) -> Submitted:
        """A ``ray job submit ...`` command line as a user types it (``words[0]`` is
        ``ray``), run from ``cwd``."""
        assert words[:3] == ["ray", "job", "submit"], words
        got = self.ray(*words[1:], cwd=cwd)
        text = got.stdout + got.stderr
        found = _SUBMITTED.search(text)
        if found is None:
            raise AssertionError(f"`ray job submit` did not submit (exit {got.returncode}):\n{text[-3000:]}")
        return Submitted(got.returncode, text, found.group(1))

    def status(self, job_id: str) -> str:
        """The job's status (PENDING, RUNNING, SUCCEEDED, FAILED, STOPPED): ``ray job status``
        answers the user (see ``status_text``); the word is read from ``ray list jobs``."""
        jobs = self.list("jobs", f"submission_id={job_id}")
        assert len(jobs) == 1, jobs
        return jobs[0]["status"]

    def status_text(self, job_id: str) -> str:
        """What ``ray job status ID`` prints (colours and all)."""
        got = self.ray("job", "status", "--address", self.job_address, job_id, timeout=60)
        assert got.returncode == 0, got.stderr
        return got.stdout + got.stderr

    def list(self, what: str, *filters: str) -> list[dict]:
        """``ray list <what> --format json`` through the job server (Ray's state API)."""
        args = ["list", what, "--address", self.job_address, "--format", "json", "--limit", "10000", "--detail"]
        for f in filters:
            args += ["--filter", f]
        got = self.ray(*args, timeout=60)
        assert got.returncode == 0, got.stderr
        start = got.stdout.find("[")  # past any notice Ray prints first (e.g. of a partial answer)
        if start < 0:
            assert not got.stdout.strip() or "No resource in the cluster" in got.stdout, got.stdout
            return []
        return json.loads(got.stdout[start:])

    def logs(self, job_id: str) -> str:
        """What the job printed, from ``ray job logs``."""
        got = self.ray("job", "logs", "--address", self.job_address, job_id, timeout=60)
        assert got.returncode == 0, got.stderr
        return got.stdout

    def wait_for_status(self, job_id: str, want: set[str], timeout: float = JOB_TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while (status := self.status(job_id)) not in want:
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {status} after {timeout:.0f} s:\n{self.logs(job_id)[-3000:]}")
            time.sleep(1.0)
        return status

    def stop(self) -> None:
        for node in (self.worker, self.head):
            node.stop()
        shutil.rmtree(self.temp_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def job_cluster() -> Iterator[JobCluster]:
    """A two-node cluster with its job server, for one test module."""
    c = JobCluster.start()
    try:
        yield c
    finally:
        c.stop()
