"""The job service under load, with a sweep running: ``GET /jobs/{id}`` and ``POST /jobs``.

    python -m bench api [--quick]

Starts the service (uvicorn in a subprocess on 127.0.0.1, a store in a temporary
folder), submits a long RSI+MACD sweep and, while it runs, measures over loopback:

- one client, one request after another: ``GET /jobs/{id}``, then ``POST /jobs``
  (a 100-point sweep, checked at the door and queued behind the running one);
- 50 concurrent clients, each behaving like a real one: submit a job, poll it
  every 250 ms for a second, submit the next (50 POST/s and 200 GET/s in all);
- 50 clients sending back to back (saturation: latency is then 50 / throughput),
  for reference.

Targets: GET p99 < 20 ms with a sweep running, POST p99 < 50 ms at 50 concurrent
clients. The sweep runs on a local Ray (the service's default: its workers are
other processes) and, in a second pass, on threads of the service's own process
(``ANVIL_ADDRESS=local-threads``). Every loop is bounded in time and count; the
sweep is cancelled and the server stopped at the end.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
TOKEN = "bench-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CLIENTS = 50
LONG_SWEEP = {
    "kind": "sweep",
    "strategy": "rsi_macd",
    "data": {"symbol": "SPX"},
    "space": {
        "fast": {"low": 5, "high": 30, "step": 1},
        "slow": {"low": 20, "high": 120, "step": 2},
        "signal": [5, 9, 14],
        "rsi_period": [7, 14, 21],
        "entry_rsi": [25, 30, 35, 40],
        "exit_rsi": [50, 60, 70],
        "short": [False, True],
    },
    "config": {"allow_short": True},
}
SMALL_SWEEP = {
    "kind": "sweep",
    "strategy": "sma_cross",
    "data": {"symbol": "SPX", "start": "2010-01-01"},
    "space": {"fast": {"low": 5, "high": 50, "step": 5}, "slow": {"low": 60, "high": 240, "step": 20}},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(folder: Path, address: str | None, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANVIL_")}
    env.update(
        ANVIL_DB=str(folder / "anvil.duckdb"),
        ANVIL_API_TOKEN=TOKEN,
        ANVIL_MAX_ITEMS_PER_JOB="10000000",
        PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    if address:
        env["ANVIL_ADDRESS"] = address
    env["ANVIL_WORKERS"] = str(workers)
    log = open(folder / "server.log", "ab")  # noqa: SIM115 - the server writes to it until killed
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/api/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the service exited: {(folder / 'server.log').read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the service did not start within 120 s")


def _cpu_ms(pid: int) -> float:
    """CPU time (user + system) the process has used, in ms (Linux; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") * 1e3


def _stats(ms: list[float]) -> str:
    a = np.asarray(ms)
    return (
        f"{len(a):6d} req  p50 {np.percentile(a, 50):7.2f}  p90 {np.percentile(a, 90):7.2f}  "
        f"p99 {np.percentile(a, 99):7.2f}  max {a.max():7.2f} ms"
    )


def _clients(url: str, timeout: float) -> list[httpx.AsyncClient]:
    """CLIENTS clients, made before any clock starts and sharing one TLS context: each
    httpx client otherwise loads the CA bundle (~25 ms of the load generator's CPU),
    which landed in the first requests' times."""
    tls = ssl.create_default_context()
    return [httpx.AsyncClient(base_url=url, headers=AUTH, timeout=timeout, verify=tls) for _ in range(CLIENTS)]


async def _realistic(url: str, seconds: float) -> tuple[list[float], list[float], int]:
    """CLIENTS clients for ``seconds``: submit a job, poll it every 250 ms for a second, again."""
    posts: list[float] = []
    gets: list[float] = []
    errors = 0
    clients = _clients(url, 30)
    stop = time.monotonic() + seconds

    async def one(n: int) -> None:
        nonlocal errors
        async with clients[n] as client:
            await asyncio.sleep(n / CLIENTS)  # spread the clients over one cycle
            while time.monotonic() < stop:
                started = time.perf_counter()
                r = await client.post("/jobs", json=SMALL_SWEEP)
                posts.append((time.perf_counter() - started) * 1e3)
                if r.status_code != 202:
                    errors += 1
                    continue
                for _ in range(4):
                    await asyncio.sleep(0.25)
                    started = time.perf_counter()
                    g = await client.get(f"/jobs/{r.json()['id']}")
                    gets.append((time.perf_counter() - started) * 1e3)
                    errors += g.status_code != 200

    await asyncio.gather(*(one(n) for n in range(CLIENTS)))
    return gets, posts, errors


async def _flood(url: str, request: str, seconds: float, job_id: str) -> tuple[list[float], int]:
    """CLIENTS clients for ``seconds``, each sending its next request as soon as the last answers."""
    times: list[float] = []
    errors = 0
    clients = _clients(url, 60)
    stop = time.monotonic() + seconds

    async def one(n: int) -> None:
        nonlocal errors
        async with clients[n] as client:
            while time.monotonic() < stop:
                started = time.perf_counter()
                if request == "GET":
                    r = await client.get(f"/jobs/{job_id}")
                else:
                    r = await client.post("/jobs", json=SMALL_SWEEP)
                times.append((time.perf_counter() - started) * 1e3)
                errors += r.status_code not in (200, 202)

    await asyncio.gather(*(one(n) for n in range(CLIENTS)))
    return times, errors


def _sequential(api: httpx.Client, request: str, seconds: float, job_id: str) -> list[float]:
    times: list[float] = []
    stop = time.monotonic() + seconds
    while time.monotonic() < stop and len(times) < 5000:
        started = time.perf_counter()
        if request == "GET":
            api.get(f"/jobs/{job_id}")
        else:
            api.post("/jobs", json=SMALL_SWEEP)
        times.append((time.perf_counter() - started) * 1e3)
    return times


def _pass(address: str | None, workers: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory(prefix="anvil-bench-api-") as tmp:
        proc, url = _start(Path(tmp), address, workers)
        try:
            with httpx.Client(base_url=url, headers=AUTH, timeout=30) as api:
                job = api.post("/jobs", json=LONG_SWEEP).json()
                deadline = time.monotonic() + 120
                while api.get(f"/jobs/{job['id']}").json()["progress"]["done"] == 0:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the sweep did not start")
                    time.sleep(0.1)
                print(f"sweep running: {job['items']:,} runs of rsi_macd on SPX")
                rows = []
                for request in ("GET", "POST"):
                    cpu = _cpu_ms(proc.pid)
                    times = _sequential(api, request, seconds, job["id"])
                    rows.append(
                        (
                            f"{request:4} /jobs{'/{id}' if request == 'GET' else ''}",
                            "1 client, back to back",
                            times,
                            0,
                            (_cpu_ms(proc.pid) - cpu) / len(times),
                        )
                    )
                cpu = _cpu_ms(proc.pid)
                gets, posts, errors = asyncio.run(_realistic(url, seconds))
                per = (_cpu_ms(proc.pid) - cpu) / (len(gets) + len(posts))
                rows += [
                    ("GET  /jobs/{id}", f"{CLIENTS} clients, polling", gets, errors, per),
                    ("POST /jobs", f"{CLIENTS} clients, submitting", posts, errors, per),
                ]
                for request in ("GET", "POST"):
                    cpu = _cpu_ms(proc.pid)
                    times, errors = asyncio.run(_flood(url, request, seconds, job["id"]))
                    rows.append(
                        (
                            f"{request:4} /jobs{'/{id}' if request == 'GET' else ''}",
                            f"{CLIENTS} clients, saturating",
                            times,
                            errors,
                            (_cpu_ms(proc.pid) - cpu) / len(times),
                        )
                    )
                for what, how, times, errors, cpu_per in rows:
                    print(
                        f"  {what:16} {how:26} {_stats(times)}  server CPU {cpu_per:5.2f} ms/req"
                        f"{f'  ERRORS {errors}' if errors else ''}"
                    )
                job = api.get(f"/jobs/{job['id']}").json()
                print(
                    f"  (the sweep was {job['status']} all along: {job['progress']['done']:,} of "
                    f"{job['progress']['total']:,} runs done by the end)"
                )
                api.delete(f"/jobs/{job['id']}")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(30)


def main(quick: bool = False) -> None:
    seconds = 3.0 if quick else 10.0
    cores = os.cpu_count() or 1
    passes = [("local Ray", None, 0), ("local Ray", None, max(1, cores - 1)), ("local-threads", "local-threads", 0)]
    for name, address, workers in passes[:1] if quick else passes:
        print(f"\n-- sweep on {name}, {workers or cores} of {cores} cores --")
        _pass(address, workers, seconds)


if __name__ == "__main__":
    main("--quick" in sys.argv)
