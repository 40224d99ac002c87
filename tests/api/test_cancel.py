"""Cancelling: a running job stops and keeps its rows; a queued one never starts; resume finishes."""

from __future__ import annotations

from tests.api.conftest import all_rows, submit, upload_slow, wait_for

LONG = {"kind": "sweep", "data": {"symbol": "SPX"}, "space": {"window": {"low": 2, "high": 200, "step": 1}}}


def test_cancel_a_running_job_keeps_its_rows_and_resume_computes_the_rest(api):
    spec = {**LONG, "strategy": upload_slow(api)}
    job = submit(api, spec)
    running = wait_for(api, job["id"], lambda j: j["status"] == "running" and j["progress"]["done"] > 0)
    assert running["progress"]["total"] == 199

    r = api.delete(f"/jobs/{job['id']}")
    assert r.status_code == 202, r.text
    cancelled = wait_for(api, job["id"])
    assert cancelled["status"] == "cancelled" and cancelled["error"] is None
    assert 0 < cancelled["rows"] < 199
    assert cancelled["progress"]["done"] == cancelled["rows"]
    kept = all_rows(api, job["id"])
    assert len(kept) == cancelled["rows"]

    again = api.delete(f"/jobs/{job['id']}")  # cancelling twice changes nothing
    assert again.status_code == 202 and again.json()["status"] == "cancelled"

    r = api.post(f"/jobs/{job['id']}/resume")
    assert r.status_code == 202, r.text
    done = wait_for(api, job["id"])
    assert done["status"] == "done" and done["attempts"] == 2
    rows = all_rows(api, job["id"])
    assert sorted(row["item_id"] for row in rows) == list(range(199))
    assert sorted(row["window"] for row in rows) == list(range(2, 201))
    before = {row["item_id"]: row["sharpe"] for row in kept}
    assert all(before[row["item_id"]] == row["sharpe"] for row in rows if row["item_id"] in before)


def test_cancel_a_queued_job_before_it_starts(api):
    spec = {**LONG, "strategy": upload_slow(api)}
    first = submit(api, spec)
    wait_for(api, first["id"], lambda j: j["status"] == "running")
    second = submit(api, spec)  # one job runs at a time: this one waits its turn
    assert second["status"] == "queued"

    r = api.delete(f"/jobs/{second['id']}")
    assert r.status_code == 202
    assert r.json()["status"] == "cancelled" and r.json()["started_at"] is None
    assert api.delete(f"/jobs/{first['id']}").status_code == 202
    assert wait_for(api, first["id"])["status"] == "cancelled"
    assert api.get(f"/jobs/{second['id']}").json()["rows"] == 0


def test_a_finished_job_cannot_be_cancelled_or_resumed(api):
    job = wait_for(api, submit(api, {"kind": "backtest", "strategy": "sma_cross", "data": {"symbol": "SPX"}})["id"])
    r = api.delete(f"/jobs/{job['id']}")
    assert r.status_code == 409 and "done" in r.json()["detail"]
    r = api.post(f"/jobs/{job['id']}/resume")
    assert r.status_code == 409 and "done" in r.json()["detail"]


def test_unknown_jobs_are_404_everywhere(api):
    unknown = "0123456789abcdef0123456789abcdef"
    for method, path in [
        ("GET", ""),
        ("GET", "/results"),
        ("GET", "/results?format=csv"),
        ("DELETE", ""),
        ("POST", "/resume"),
        ("GET", "/events"),
    ]:
        for job_id in (unknown, "no-such-job", "..%2F..%2Fetc"):
            r = api.request(method, f"/jobs/{job_id}{path}")
            assert r.status_code == 404, (method, path, job_id, r.text)
