"""A real service for the API tests: uvicorn in a subprocess on 127.0.0.1, spoken to with httpx.

Each server has a store of its own (``ANVIL_DB`` in a temporary folder, filled with
the shipped S&P 500 sample on first start) and runs jobs on threads of its own
process (``ANVIL_ADDRESS=local-threads``) unless a test asks for Ray.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.sources import SLOW_TREND

REPO = Path(__file__).resolve().parents[2]
TOKEN = "test-token-0123456789"
FINAL = ("done", "failed", "cancelled", "interrupted")

# A bar-by-bar strategy, uploaded by tests that need a job to last long enough to watch,
# cancel or interrupt.
SLOW_SOURCE = SLOW_TREND


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """One uvicorn process serving ``api.app:create_app`` on a store folder."""

    folder: Path
    env: dict[str, str]
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.folder / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    def start(self, timeout: float = 120) -> Server:
        """Start uvicorn and wait until /health answers."""
        self.port = free_port()
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "api.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
        ]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"the server did not answer /health within {timeout} s:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL: the process dies at once, mid-job if need be."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM (a graceful shutdown), then SIGKILL if it lingers."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def client(self, token: str | None = TOKEN, timeout: float = 30) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)


def store_env(folder: Path, **extra: str) -> dict[str, str]:
    """The environment of an anvil process with a store of its own: its database and token
    file in ``folder``, none of this process's ``ANVIL_*`` or ``RAY_ADDRESS``; ``extra`` on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANVIL_", "RAY_ADDRESS"))}
    env.update(
        ANVIL_DB=str(folder / "anvil.duckdb"),
        ANVIL_TOKEN_FILE=str(folder / "api-token"),
        PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    env.update(extra)
    return env


def server_env(folder: Path, **extra: str) -> dict[str, str]:
    """A server's environment: its own store, token and token file, jobs on local threads;
    an ``extra`` value of "" drops that variable."""
    defaults = {"ANVIL_API_TOKEN": TOKEN, "ANVIL_ADDRESS": "local-threads", "ANVIL_WORKERS": "2"}
    env = store_env(folder, **{**defaults, **extra})
    return {k: v for k, v in env.items() if v != ""}


@pytest.fixture
def launch_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Server]]:
    """Start servers with settings of the test's choosing (``ANVIL_*`` keywords); all are
    killed at the end. ``folder=`` reuses a store folder (a restart)."""
    started: list[Server] = []

    def launch(folder: Path | None = None, **extra: str) -> Server:
        folder = folder or tmp_path_factory.mktemp("service")
        server = Server(folder, server_env(folder, **extra)).start()
        started.append(server)
        return server

    yield launch
    for server in started:
        server.kill()


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server per test module, on a fresh store."""
    folder = tmp_path_factory.mktemp("service")
    server = Server(
        folder, server_env(folder, ANVIL_MAX_UPLOAD_BYTES="300000", ANVIL_MAX_ITEMS_PER_JOB="20000")
    ).start()
    yield server
    server.kill()


@pytest.fixture
def api(api_server: Server) -> Iterator[httpx.Client]:
    """An authorised client of the module's server."""
    with api_server.client() as client:
        yield client


def submit(client: httpx.Client, spec: dict[str, Any]) -> dict[str, Any]:
    """Submit a job; fails the test unless the service accepted it."""
    r = client.post("/jobs", json=spec)
    assert r.status_code == 202, r.text
    return dict(r.json())


def wait_for(
    client: httpx.Client, job_id: str, until: Callable[[dict[str, Any]], bool] | None = None, timeout: float = 120
) -> dict[str, Any]:
    """Poll a job until ``until(job)`` (default: a final status); fails after ``timeout``."""
    until = until or (lambda job: job["status"] in FINAL)
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(f"/jobs/{job_id}")
        assert r.status_code == 200, r.text
        job = dict(r.json())
        if until(job):
            return job
        if time.monotonic() > deadline:
            pytest.fail(f"job {job_id} never got there; it is {job['status']} with {job['progress']}")
        time.sleep(0.05)


def upload_slow(client: httpx.Client) -> str:
    """Upload SLOW_SOURCE; returns its strategy id."""
    r = client.post("/strategies", json={"source": SLOW_SOURCE})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def all_rows(client: httpx.Client, job_id: str, page: int = 1000) -> list[dict[str, Any]]:
    """Every result row of a job, page by page."""
    rows: list[dict[str, Any]] = []
    while True:
        r = client.get(f"/jobs/{job_id}/results", params={"offset": len(rows), "limit": page})
        assert r.status_code == 200, r.text
        body = r.json()
        rows += body["data"]
        if len(rows) >= body["count"] or not body["data"]:
            return rows
