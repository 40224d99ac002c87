"""The hostile hold-out set (``tests/data/hostile``) through the real service.

One uvicorn on 127.0.0.1 with short jail limits. Every source is uploaded and,
if the loader lets it through, backtested (and the crashing and endless ones
swept too). Throughout, a thread asks ``/health`` every 50 ms: it must always
answer (the latencies are printed, not judged: the machine is shared). Each job
must end failed or cancelled with its reason; nothing may appear outside the
jail: no marker file, no connection to the loopback listener, the service's
token in no answer.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time
from typing import Any

import httpx
import pytest

from tests.api.conftest import TOKEN, submit, wait_for
from tests.strategies.jail_fixtures import HOSTILE_SOURCES, hostile, hostile_port, markers_on_host, require_jail

LIMITS = {
    "ANVIL_JAIL_CALL_SECONDS": "4",
    "ANVIL_JAIL_LOAD_SECONDS": "4",
    "ANVIL_JAIL_MEMORY_MB": "1024",
    "ANVIL_WORKERS": "2",
}


class HealthWatch:
    """Asks /health every 50 ms on its own thread; keeps each answer's latency or failure."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    r = client.get(f"{self.url}/health")
                    if r.status_code != 200:
                        self.failures.append(f"status {r.status_code}")
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                self.latencies.append(time.perf_counter() - started)
                self._stop.wait(0.05)

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.fixture(scope="module")
def listener() -> Any:
    """A loopback listener on the port the socket source phones."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", hostile_port()))
    except OSError:
        s.close()
        pytest.skip(f"port {hostile_port()} is taken on this machine; the socket source needs it")
    s.listen(8)
    s.settimeout(0.2)
    yield s
    s.close()


def backtest(sid: str) -> dict[str, Any]:
    return {"kind": "backtest", "strategy": sid, "data": {"symbol": "SPX"}}


def sweep(sid: str) -> dict[str, Any]:
    return {
        "kind": "sweep",
        "strategy": sid,
        "data": {"symbol": "SPX"},
        "space": {},
        "method": "random",
        "n_trials": 40,
    }


def test_the_hostile_set_stays_in_its_jails_and_the_service_keeps_answering(launch_server, listener) -> None:
    require_jail()
    server = launch_server(**LIMITS)
    answers: list[str] = []
    outcomes: dict[str, str] = {}
    with HealthWatch(server.url) as health, server.client(timeout=120) as api:
        jobs: dict[str, str] = {}
        sids: dict[str, str] = {}
        for name in HOSTILE_SOURCES:
            r = api.post("/strategies", json={"source": hostile(name)})
            answers.append(r.text)
            if r.status_code == 422:
                outcomes[name] = "refused: " + r.json()["detail"][0]["msg"][:120]
                continue
            assert r.status_code == 201, (name, r.text)
            sid = sids[name] = r.json()["id"]
            jobs[name] = submit(api, backtest(sid))["id"]
            if name in ("map_chain", "infinite_loop"):
                jobs[name + " (sweep)"] = submit(api, sweep(sid))["id"]
        for name, job_id in jobs.items():
            job = wait_for(api, job_id, timeout=300)
            answers.append(str(job))
            assert job["status"] in ("failed", "cancelled"), (name, job)
            if job["status"] == "failed":
                assert job["error"], (name, job)
            outcomes[name] = f"{job['status']}: {(job['error'] or '')[:120]}"
        if "infinite_loop" in sids:  # cancel a sweep while its items run in jails (nothing else queued)
            job_id = submit(api, sweep(sids["infinite_loop"]))["id"]
            wait_for(api, job_id, lambda j: j["status"] != "queued")
            assert api.delete(f"/jobs/{job_id}").status_code == 202
            job = wait_for(api, job_id)
            assert job["status"] == "cancelled", job
            outcomes["infinite_loop (cancelled sweep)"] = "cancelled"
        if "map_chain (sweep)" in jobs:
            assert "crashed its jail twice" in outcomes["map_chain (sweep)"], outcomes
        if "object_buffer" in jobs:  # resuming a job that crashed its jails fails again, and only it
            assert api.post(f"/jobs/{jobs['object_buffer']}/resume").status_code == 202
            again = wait_for(api, jobs["object_buffer"], timeout=300)
            assert again["status"] == "failed" and "crashed its jail twice" in again["error"], again
        # and the service still does its job
        done = wait_for(
            api, submit(api, {"kind": "backtest", "strategy": "sma_cross", "data": {"symbol": "SPX"}})["id"]
        )
        assert done["status"] == "done", done
    for name in HOSTILE_SOURCES:
        assert any(n == name or n.startswith(name + " ") for n in outcomes), f"{name} neither refused nor run"
    print("\nhostile outcomes:\n  " + "\n  ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())))
    lat = sorted(health.latencies)
    print(
        f"/health: {len(lat)} answers, median {statistics.median(lat) * 1e3:.1f} ms, "
        f"p99 {lat[int(len(lat) * 0.99)] * 1e3:.1f} ms, max {lat[-1] * 1e3:.1f} ms"
    )
    assert health.failures == [], health.failures[:5]
    assert markers_on_host() == []
    with pytest.raises(socket.timeout):
        listener.accept()
    assert not any(TOKEN in a for a in answers)


TREND = """
import numpy as np
from strategies import Strategy, Int, indicators


class Trend(Strategy):
    \"\"\"Long while the close is above its SMA.\"\"\"

    window = Int(20, low=2, high=400)

    def signals(self, bars, window):
        return np.where(bars.close > indicators.sma(bars.close, window), 1, 0).astype(np.int8)
"""


def test_without_a_jail_uploads_are_refused_unless_the_operator_opts_out(launch_server) -> None:
    server = launch_server(ANVIL_BWRAP="/nonexistent/bwrap")
    with server.client() as api:
        r = api.post("/strategies", json={"source": TREND})
        assert r.status_code == 503, r.text
        assert "bubblewrap" in r.text and "ANVIL_UNSAFE_INPROCESS_UPLOADS" in r.text
        assert api.get("/health").status_code == 200
    unsafe = launch_server(ANVIL_BWRAP="/nonexistent/bwrap", ANVIL_UNSAFE_INPROCESS_UPLOADS="1")
    with unsafe.client() as api:
        r = api.post("/strategies", json={"source": TREND})
        assert r.status_code == 201, r.text
        job = wait_for(api, submit(api, backtest(r.json()["id"]))["id"])
        assert job["status"] == "done", job
