"""A real two-node Ray cluster on this machine: a head and one worker node, token auth on.

Each node is its own ``ray start --block`` process tree, so the tests can stop
or kill one node without touching any other Ray on the machine (never
``ray stop``, never a kill by name). Every address is a loopback one: the head
node is 127.0.0.2, the worker node 127.0.0.3, every port is picked free on
them, and the node's temp dir is a fresh folder this module removes.

Token authentication: both nodes and this driver get ``RAY_AUTH_MODE=token``
and a fresh ``RAY_AUTH_TOKEN`` through the environment, so nothing depends on
``~/.ray``; a driver without the token is refused.

    def test_x(ray_cluster):            # the fixtures below; import both into the test module
        cluster.sweep(..., address=ray_cluster.address)
        ray_cluster.worker.kill()
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest
import ray

HEAD_IP = "127.0.0.2"
WORKER_IP = "127.0.0.3"
OBJECT_STORE_BYTES = 100 * 1024 * 1024
# The GCS declares a node dead after this many missed health checks, a second apart
# (Ray's default is minutes on a busy machine; a killed node should be noticed in seconds).
HEALTH_CHECK = {"health_check_period_ms": 1000, "health_check_timeout_ms": 2000, "health_check_failure_threshold": 5}
START_TIMEOUT = 90.0
RAY = [sys.executable, "-m", "ray.scripts.scripts"]  # the `ray` command of this interpreter
_prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here, not in a forked child
PR_SET_PDEATHSIG = 1


def free_port(ip: str) -> int:
    """A TCP port nobody listens on at ``ip`` right now."""
    with socket.socket() as s:
        s.bind((ip, 0))
        return int(s.getsockname()[1])


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (children first found, then theirs), from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # gone meanwhile
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    out: list[int] = []
    todo = [pid]
    while todo:
        kids = parents.get(todo.pop(), [])
        out.extend(kids)
        todo.extend(kids)
    return out


def _stop_with_this_process() -> None:
    """Run in a node's ``ray start`` before it execs: SIGTERM it (which stops the whole
    node) if the test process dies without stopping it, e.g. killed by a strategy."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


@dataclass
class Node:
    """One Ray node: the ``ray start --block`` process this module started, and its log."""

    name: str
    ip: str
    process: subprocess.Popen
    log: Path

    @property
    def pids(self) -> list[int]:
        """The node's processes: ``ray start`` itself, its raylet, agents and workers."""
        if self.process.poll() is not None:
            return []
        return [self.process.pid, *descendants(self.process.pid)]

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def processes_titled(self, prefix: str) -> list[int]:
        """The node's processes whose title starts with ``prefix`` (Ray titles an actor's
        process ``ray::<ClassName>``)."""
        out = []
        for pid in self.pids:
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:  # gone meanwhile
                continue
            if title.startswith(prefix.encode()):
                out.append(pid)
        return out

    def kill(self) -> None:
        """Kill the whole node at once (SIGKILL to every process of it), like a machine lost."""
        pids = self.pids
        _signal(pids, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, timeout: float = 45.0) -> None:
        """Stop the node gracefully, then kill whatever of it is left."""
        if not self.alive:
            return
        pids = self.pids
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + 5
        left = [p for p in pids if Path(f"/proc/{p}").exists()]
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = [p for p in left if Path(f"/proc/{p}").exists()]
        _signal(left, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


@dataclass
class TwoNodeCluster:
    """A head node and a worker node of 1 CPU each, joined with a shared token."""

    temp_dir: Path
    token: str
    port: int
    head: Node
    worker: Node
    env: dict[str, str] = field(repr=False)

    @property
    def address(self) -> str:
        """What a driver passes as ``address`` to join this cluster."""
        return f"{HEAD_IP}:{self.port}"

    @classmethod
    def start(cls) -> TwoNodeCluster:
        """Start the head, then the worker node, and wait until both are up."""
        temp_dir = Path(tempfile.mkdtemp(prefix="anvil-ray-"))  # short: Ray's socket paths
        token = secrets.token_hex(32)
        env = _node_env(token)
        port = free_port(HEAD_IP)
        nodes: list[Node] = []
        try:
            nodes.append(
                _start_node(
                    "head",
                    HEAD_IP,
                    temp_dir,
                    env,
                    [
                        "--head",
                        f"--port={port}",
                        "--include-dashboard=false",
                        "--disable-usage-stats",
                        f"--system-config={json.dumps(HEALTH_CHECK)}",
                    ],
                )
            )
            nodes.append(_start_worker(temp_dir, env, f"{HEAD_IP}:{port}"))
        except BaseException:
            for node in reversed(nodes):
                node.stop()
            shutil.rmtree(temp_dir, ignore_errors=True)
            raise
        head, worker = nodes
        return cls(temp_dir, token, port, head, worker, env)

    def add_worker(self) -> Node:
        """Start a new worker node that joins the head (after the first one was killed)."""
        return _start_worker(self.temp_dir, self.env, self.address)

    def wait_for_nodes(self, timeout: float = START_TIMEOUT) -> None:
        """Wait, as a connected driver, until the GCS counts exactly our running nodes alive."""
        want = self.head.alive + self.worker.alive
        _wait(lambda: sum(n["Alive"] for n in ray.nodes()) == want, f"{want} nodes alive", self.head, timeout)

    def stop(self) -> None:
        """Stop both nodes (the worker first) and remove the temp dir."""
        for node in (self.worker, self.head):
            node.stop()
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> TwoNodeCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _node_env(token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token, RAY_USAGE_STATS_ENABLED="0")
    return env


def _start_worker(temp_dir: Path, env: dict[str, str], head_address: str) -> Node:
    return _start_node("worker", WORKER_IP, temp_dir, env, [f"--address={head_address}"])


def _start_node(name: str, ip: str, temp_dir: Path, env: dict[str, str], extra: list[str]) -> Node:
    log = temp_dir / f"{name}.log"
    args = [
        *RAY,
        "start",
        "--block",
        f"--node-ip-address={ip}",
        "--num-cpus=1",
        f"--object-store-memory={OBJECT_STORE_BYTES}",
        f"--temp-dir={temp_dir}",
        f"--dashboard-agent-listen-port={free_port(ip)}",
        f"--dashboard-agent-grpc-port={free_port(ip)}",
        f"--runtime-env-agent-port={free_port(ip)}",
        f"--metrics-export-port={free_port(ip)}",
        *extra,
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            args,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_stop_with_this_process,
        )
    node = Node(name, ip, process, log)
    try:
        _wait(lambda: b"Ray runtime started" in log.read_bytes(), f"the {name} node to start (see {log})", node)
    except BaseException:
        node.stop()
        raise
    return node


def _wait(ready, what: str, node: Node, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if not node.alive:
            raise RuntimeError(f"{node.name} node exited while waiting for {what}:\n{node.log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(0.5)


@contextlib.contextmanager
def driver(c: TwoNodeCluster) -> Iterator[None]:
    """Connect this process to ``c`` as a driver with the cluster's token; disconnect after.

    A process talks to one Ray at a time: a session-local Ray this process was
    connected to is shut down first (``cluster.runtime.ensure`` starts it again
    on demand). Ray caches the auth mode and token per process, so both are
    reloaded on the way in and restored on the way out.
    """
    from cluster import runtime

    runtime.shutdown()
    saved = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")}
    os.environ.pop("RAY_AUTH_TOKEN_PATH", None)
    os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=c.token)
    _reload_auth()
    try:
        runtime.ensure(c.address)
        c.wait_for_nodes()
        yield
    finally:
        runtime.shutdown()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        _reload_auth()


def _reload_auth() -> None:
    """Make Ray re-read RAY_AUTH_MODE / RAY_AUTH_TOKEN (it caches both per process)."""
    from ray._raylet import AuthenticationTokenLoader, Config

    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[TwoNodeCluster]:
    """A two-node cluster for one test module, this process connected to it as a driver."""
    with TwoNodeCluster.start() as c, driver(c):
        yield c


@pytest.fixture
def ray_cluster(two_nodes: TwoNodeCluster) -> TwoNodeCluster:
    """The module's two-node cluster, its worker node restarted if a test killed it."""
    if not two_nodes.worker.alive:
        two_nodes.worker = two_nodes.add_worker()
        two_nodes.wait_for_nodes()
    return two_nodes
