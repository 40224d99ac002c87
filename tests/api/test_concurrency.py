"""Fifty clients at once, each submitting jobs and polling them: no error, no job lost."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from tests.api.conftest import FINAL

CLIENTS = 50
JOBS_EACH = 2


def test_fifty_concurrent_clients_submit_and_poll_without_error_or_loss(api_server):
    start = threading.Barrier(CLIENTS)
    problems: list[str] = []

    def client(n: int) -> list[str]:
        ids = []
        with api_server.client(timeout=60) as api:
            start.wait()
            for k in range(JOBS_EACH):
                spec = {
                    "kind": "backtest",
                    "strategy": "sma_cross",
                    "params": {"fast": 5 + n % 20, "slow": 50 + k},
                    "data": {"symbol": "SPX", "start": "2015-01-01"},
                }
                r = api.post("/jobs", json=spec)
                if r.status_code != 202:
                    problems.append(f"client {n}: POST /jobs answered {r.status_code}: {r.text}")
                    continue
                ids.append(r.json()["id"])
            pending = set(ids)
            deadline = time.monotonic() + 120
            while pending and time.monotonic() < deadline:
                for job_id in list(pending):
                    r = api.get(f"/jobs/{job_id}")
                    if r.status_code != 200:
                        problems.append(f"client {n}: GET /jobs/{job_id} answered {r.status_code}")
                        pending.discard(job_id)
                    elif r.json()["status"] in FINAL:
                        if r.json()["status"] != "done":
                            problems.append(f"client {n}: job {job_id} ended {r.json()['status']}")
                        pending.discard(job_id)
                time.sleep(0.2)
            if pending:
                problems.append(f"client {n}: jobs {sorted(pending)} never finished")
        return ids

    with ThreadPoolExecutor(CLIENTS) as pool:
        submitted = [job_id for ids in pool.map(client, range(CLIENTS)) for job_id in ids]

    assert problems == []
    assert len(submitted) == len(set(submitted)) == CLIENTS * JOBS_EACH
    with api_server.client() as api:
        listed = api.get("/jobs", params={"limit": 1000}).json()
        assert set(submitted) <= {j["id"] for j in listed["data"] if j["status"] == "done"}
        for job_id in submitted[::17]:
            assert api.get(f"/jobs/{job_id}/results").json()["count"] > 0
