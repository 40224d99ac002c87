"""Server-Sent Events: progress while a job runs, then one final event, then the end."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.api.conftest import submit, upload_slow, wait_for


def read_events(client: httpx.Client, job_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Every event of the job's stream, until the server ends it."""
    events: list[tuple[str, dict[str, Any]]] = []
    name = None
    with client.stream("GET", f"/jobs/{job_id}/events", timeout=120) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                assert name is not None
                events.append((name, json.loads(line[len("data: ") :])))
                name = None
    return events


def test_progress_arrives_before_the_job_is_done(api):
    slow = upload_slow(api)
    spec = {
        "kind": "sweep",
        "strategy": slow,
        "data": {"symbol": "SPX", "start": "2008-01-01"},
        "space": {"window": {"low": 10, "high": 100, "step": 2}},
    }
    job = submit(api, spec)
    events = read_events(api, job["id"])

    names = [n for n, _ in events]
    assert names[-1] == "done" and names.count("done") == 1
    assert set(names[:-1]) == {"progress"}
    progress = [e for n, e in events if n == "progress"]
    partial = [p for p in progress if 0 < p["done"] < p["total"]]
    assert partial, f"no progress event came while the job ran: {progress}"
    assert all(p["status"] in ("queued", "running") for p in progress)
    assert [p["done"] for p in progress] == sorted(p["done"] for p in progress)
    assert any(p["best"] and "sharpe" in p["best"] and "window" in p["best"]["params"] for p in partial)

    final = events[-1][1]
    assert final["id"] == job["id"] and final["status"] == "done"
    assert final["progress"]["done"] == final["progress"]["total"] == 46
    assert final["rows"] == 46


def test_a_finished_job_streams_its_final_event_at_once(api):
    job = wait_for(api, submit(api, {"kind": "backtest", "strategy": "sma_cross", "data": {"symbol": "SPX"}})["id"])
    events = read_events(api, job["id"])
    assert [n for n, _ in events] == ["done"]
    assert events[0][1]["summary"]["stats"]["sharpe"] == job["summary"]["stats"]["sharpe"]


def test_events_of_an_unknown_job_are_404(api):
    assert api.get("/jobs/0123456789abcdef0123456789abcdef/events").status_code == 404
    assert api.get("/jobs/not-a-job/events").status_code == 404
