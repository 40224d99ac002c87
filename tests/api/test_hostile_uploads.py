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
from tests.strategies.jail_fixtures import (
    HOSTILE_SOURCES,
    hostile,
    hostile_port,
    markers_on_host,
    require_jail,
    skip_unless_ci,
)

LIMITS = {
    "ANVIL_JAIL_CALL_SECONDS": "4",
    "ANVIL_JAIL_LOAD_SECONDS": "4",
    "ANVIL_JAIL_MEMORY_MB": "1024",
    "ANVIL_WORKERS": "2",
}


# Sources the loader cannot refuse (plain numpy and Python): they reach a jail, and only it stops them.
RUN_IN_JAILS = {"map_chain", "infinite_loop", "big_alloc"}


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

    def summary(self) -> str:
        """The latencies in words (printed, never judged)."""
        lat = sorted(self.latencies)
        return (
            f"/health: {len(lat)} answers, median {statistics.median(lat) * 1e3:.1f} ms, "
            f"p99 {lat[int(len(lat) * 0.99)] * 1e3:.1f} ms, max {lat[-1] * 1e3:.1f} ms"
        )

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
        skip_unless_ci(f"port {hostile_port()} is taken on this machine; the socket source needs it")
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
        # The loader lets these through (nothing in their source is refused): they must run, in jails.
        assert RUN_IN_JAILS <= set(sids), (RUN_IN_JAILS - set(sids), outcomes)
        # cancel a sweep while its items run in jails (nothing else queued)
        job_id = submit(api, sweep(sids["infinite_loop"]))["id"]
        wait_for(api, job_id, lambda j: j["status"] == "running")
        asked = time.perf_counter()
        assert api.delete(f"/jobs/{job_id}").status_code == 202
        job = wait_for(api, job_id)
        cancel_seconds = time.perf_counter() - asked
        assert job["status"] == "cancelled", job
        outcomes["infinite_loop (cancelled sweep)"] = f"cancelled, {cancel_seconds:.2f} s after DELETE"
        assert "crashed its jail twice" in outcomes["map_chain"], outcomes
        assert "crashed its jail twice" in outcomes["map_chain (sweep)"], outcomes
        assert "longer than its limit" in outcomes["infinite_loop"], outcomes
        # resuming a job that crashed its jails fails again with the reason, and crashes nothing else
        assert api.post(f"/jobs/{jobs['map_chain']}/resume").status_code == 202
        again = wait_for(api, jobs["map_chain"], timeout=300)
        assert again["status"] == "failed" and "crashed its jail twice" in again["error"], again
        assert again["attempts"] == 2, again
        # and the service still does its job
        done = wait_for(
            api, submit(api, {"kind": "backtest", "strategy": "sma_cross", "data": {"symbol": "SPX"}})["id"]
        )
        assert done["status"] == "done", done
    for name in HOSTILE_SOURCES:
        assert any(n == name or n.startswith(name + " ") for n in outcomes), f"{name} neither refused nor run"
    print("\nhostile outcomes:\n  " + "\n  ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())))
    print(health.summary())
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


def test_a_job_past_its_time_limit_is_failed_with_the_reason(launch_server) -> None:
    """Each call may take 10 minutes, the job only a few seconds: the job's limit ends it."""
    require_jail()
    server = launch_server(ANVIL_JAIL_CALL_SECONDS="600", ANVIL_JAIL_JOB_SECONDS="3", ANVIL_WORKERS="1")
    with server.client(timeout=60) as api:
        r = api.post("/strategies", json={"source": hostile("infinite_loop")})
        assert r.status_code == 201, r.text
        for spec in (backtest(r.json()["id"]), sweep(r.json()["id"])):
            job = wait_for(api, submit(api, spec)["id"], timeout=120)
            assert job["status"] == "failed", job
            assert "longer than its limit of 3 s (ANVIL_JAIL_JOB_SECONDS)" in job["error"], job
        assert api.get("/health").status_code == 200


def test_a_flood_of_hung_uploads_stalls_nothing_and_sigterm_still_stops_the_service(launch_server) -> None:
    """The stall of issue 16: 45 uploads whose is_vectorized never returns took every worker
    thread (and /health, and SIGTERM). Now a few checker threads load them in jails with
    a time limit, the rest past a short queue (MAX_WAITING) are told 503 at once, and the service answers."""
    from concurrent.futures import ThreadPoolExecutor

    from api.service.strategies import CHECKERS

    require_jail()
    server = launch_server(ANVIL_JAIL_LOAD_SECONDS="2")
    n = 45
    sources = [hostile("hung_is_vectorized") + f"\n# upload {i}\n" for i in range(n)]

    def upload(source: str) -> int:
        with server.client(timeout=300) as api:
            return api.post("/strategies", json={"source": source}).status_code

    # Clients made first: making 45 at once holds this process's GIL long enough to show
    # up as /health latency of the watcher, which runs here too.
    clients = [server.client(timeout=300) for _ in range(n)]
    with HealthWatch(server.url) as health, ThreadPoolExecutor(n) as pool:
        codes = list(pool.map(lambda c, src: c.post("/strategies", json={"source": src}).status_code, clients, sources))
        with server.client() as api:  # and a good upload goes through once they are done
            assert api.post("/strategies", json={"source": TREND}).status_code == 201
    for c in clients:
        c.close()
    print(f"\n{n} hung uploads: {codes.count(422)} x 422, {codes.count(503)} x 503; {health.summary()}")
    assert health.failures == [], health.failures[:5]
    assert set(codes) <= {422, 503} and codes.count(422) >= CHECKERS, codes
    assert 503 in codes, codes  # past MAX_WAITING uploads being checked, the rest are refused at once
    for source in sources[:CHECKERS]:  # keep the checkers busy, then stop the service under them
        threading.Thread(target=upload, args=(source,), daemon=True).start()
    time.sleep(1)
    server.stop(timeout=60)
    assert server.proc is not None and server.proc.returncode in (0, -15), server.log.read_text()[-2000:]
