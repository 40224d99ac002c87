"""``anvil serve`` leaves no Ray behind: not when stopped, not after a crash (at its next start).

Real servers with a local Ray (no ``ANVIL_ADDRESS``), started by a sweep; the Ray
processes the service started are listed beside its store.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cluster.runtime import _start_time
from tests.api.conftest import REPO, Server, free_port, server_env, submit, wait_for

SWEEP = {
    "kind": "sweep",
    "strategy": "sma_cross",
    "data": {"symbol": "SPX"},
    "space": {"fast": [5, 10], "slow": [50, 100]},
}


def ray_processes(folder: Path) -> list[tuple[int, int]]:
    record = json.loads((folder / "anvil.duckdb.ray-processes.json").read_text())
    return [(p, t) for p, t in record["processes"]]


def running(processes: list[tuple[int, int]]) -> list[int]:
    return [p for p, t in processes if _start_time(p) == t]


def gone_soon(processes: list[tuple[int, int]], wait: float = 60) -> list[int]:
    deadline = time.monotonic() + wait
    while running(processes) and time.monotonic() < deadline:
        time.sleep(0.2)
    return running(processes)


def with_ray(folder: Path) -> Server:
    server = Server(folder, server_env(folder, ANVIL_ADDRESS="", ANVIL_WORKERS="1")).start()
    with server.client(timeout=120) as api:
        job = wait_for(api, submit(api, SWEEP)["id"], timeout=300)
    assert job["status"] == "done", job
    return server


def test_sigterm_stops_every_ray_process_the_service_started(tmp_path: Path) -> None:
    server = with_ray(tmp_path)
    started = ray_processes(tmp_path)
    assert running(started), "the service recorded no running Ray process"
    server.stop()
    # uvicorn shuts down gracefully, then re-raises the signal it caught: -15 is a clean exit
    assert server.proc is not None and server.proc.returncode in (0, -signal.SIGTERM), server.log.read_text()[-2000:]
    assert "SIGTERM received" not in server.log.read_text()  # Ray's abort-on-SIGTERM handler is gone
    assert gone_soon(started) == []
    assert not (tmp_path / "anvil.duckdb.ray-processes.json").exists()


def test_anvil_serve_stops_its_ray_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    env = server_env(tmp_path, ANVIL_ADDRESS="", ANVIL_WORKERS="1")
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = Server(tmp_path, env, port=port, proc=proc)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "api-token").exists() and time.monotonic() < deadline:  # up once it answers
            try:
                import httpx

                if httpx.get(f"{server.url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        with server.client(timeout=120) as api:
            assert wait_for(api, submit(api, SWEEP)["id"], timeout=300)["status"] == "done"
        started = ray_processes(tmp_path)
        proc.send_signal(signal.SIGINT)
        proc.wait(120)
        assert gone_soon(started) == []
    finally:
        server.kill()
        log.close()


def test_a_crashed_services_ray_is_stopped_at_the_next_start(tmp_path: Path) -> None:
    server = with_ray(tmp_path)
    started = ray_processes(tmp_path)
    server.kill()  # SIGKILL: no chance to stop anything
    left = running(started)
    if not left:
        pytest.fail("Ray's processes all died with the service; this test needs them left behind")
    again = Server(tmp_path, server_env(tmp_path)).start()  # local threads: it starts no Ray of its own
    try:
        assert gone_soon(started) == []
    finally:
        again.stop()
