"""Kill the service mid-job, start it again: nothing finished is lost, and resume completes the rest."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from tests.api.conftest import all_rows, submit, upload_slow, wait_for

SWEEP = {"kind": "sweep", "data": {"symbol": "SPX"}, "space": {"window": {"low": 2, "high": 60, "step": 1}}}
QUICK = {
    "kind": "sweep",
    "strategy": "sma_cross",
    "data": {"symbol": "SPX", "start": "2010-01-01"},
    "space": {"fast": [5, 10, 20], "slow": [50, 100]},
}


def test_a_killed_service_keeps_finished_jobs_and_resumes_interrupted_ones(launch_server):
    server = launch_server()
    with server.client() as api:
        finished = wait_for(api, submit(api, QUICK)["id"])
        assert finished["status"] == "done"
        finished_rows = all_rows(api, finished["id"])
        slow = upload_slow(api)
        running = submit(api, {**SWEEP, "strategy": slow})
        queued = submit(api, {**SWEEP, "strategy": slow, "space": {"window": [10, 20]}})
        seen = wait_for(api, running["id"], lambda j: j["progress"]["done"] >= 15)["progress"]["done"]
    server.kill()  # SIGKILL, mid-job: no chance to tidy up

    again = launch_server(folder=server.folder)
    with again.client() as api:
        assert api.get(f"/jobs/{finished['id']}").json()["status"] == "done"
        assert all_rows(api, finished["id"]) == finished_rows

        interrupted = api.get(f"/jobs/{running['id']}").json()
        assert interrupted["status"] == "interrupted" and "resume" in interrupted["error"]
        assert seen <= interrupted["rows"] < 59
        assert interrupted["progress"]["done"] == interrupted["rows"]
        kept = {row["item_id"]: row for row in all_rows(api, running["id"])}
        assert len(kept) == interrupted["rows"]
        never_started = api.get(f"/jobs/{queued['id']}").json()
        assert never_started["status"] == "interrupted" and never_started["rows"] == 0

        r = api.post(f"/jobs/{running['id']}/resume")
        assert r.status_code == 202, r.text
        assert r.json()["progress"]["done"] >= len(kept)  # it goes on from what it had
        resumed = wait_for(api, running["id"])
        assert resumed["status"] == "done" and resumed["attempts"] == 2
        rows = all_rows(api, running["id"])
        assert sorted(row["item_id"] for row in rows) == list(range(59))
        assert all(row == kept[row["item_id"]] for row in rows if row["item_id"] in kept)

        # The same job from scratch gives the same table.
        fresh = wait_for(api, submit(api, {**SWEEP, "strategy": slow})["id"])
        by_id = {row["item_id"]: row for row in all_rows(api, fresh["id"])}
        assert all(by_id[row["item_id"]]["sharpe"] == row["sharpe"] for row in rows)

        assert api.post(f"/jobs/{queued['id']}/resume").status_code == 202
        assert wait_for(api, queued["id"])["status"] == "done"


def test_a_gracefully_stopped_service_leaves_running_jobs_resumable(launch_server):
    server = launch_server()
    with server.client() as api:
        job = submit(api, {**SWEEP, "strategy": upload_slow(api)})
        wait_for(api, job["id"], lambda j: j["progress"]["done"] > 0)
    server.stop()  # SIGTERM: uvicorn shuts down, the job is interrupted, not lost
    assert server.proc is not None and server.proc.returncode in (0, -signal.SIGTERM)

    again = launch_server(folder=server.folder)
    with again.client() as api:
        stopped = api.get(f"/jobs/{job['id']}").json()
        assert stopped["status"] == "interrupted" and 0 < stopped["rows"] < 59
        assert api.post(f"/jobs/{job['id']}/resume").status_code == 202
        assert wait_for(api, job["id"])["rows"] == 59


def test_a_job_accepted_just_before_a_kill_is_there_after_the_restart(launch_server):
    # The flusher waits ten minutes, so records reach the database only through other
    # writes: the journal alone must keep what the 202s promised.
    server = launch_server(ANVIL_JOURNAL_FLUSH_SECONDS="600")
    with server.client() as api:
        running = submit(api, {**SWEEP, "strategy": upload_slow(api)})  # keeps the job thread busy
        wait_for(api, running["id"], lambda j: j["status"] == "running")
        accepted = [submit(api, {**QUICK, "seed": k})["id"] for k in range(5)]
        server.kill()  # SIGKILL right after the last 202

    journal = server.folder.glob("anvil.duckdb.jobs-journal.*")
    journaled = {json.loads(line)["id"] for p in journal for line in p.read_text().splitlines() if line}
    assert set(accepted) <= journaled

    again = launch_server(folder=server.folder)
    with again.client() as api:
        listed = {j["id"]: j for j in api.get("/jobs", params={"limit": 1000}).json()["data"]}
        for job_id in accepted:
            assert listed[job_id]["status"] == "interrupted" and "resume" in listed[job_id]["error"]
        assert listed[accepted[-1]]["spec"]["seed"] == 4
        r = api.post(f"/jobs/{accepted[-1]}/resume")
        assert r.status_code == 202, r.text
        assert wait_for(api, accepted[-1])["status"] == "done"


def _finished_trials(study: Path) -> dict[int, float]:
    """Trial number -> sharpe of the trials an Optuna study journal holds as complete."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    storage = JournalStorage(JournalFileBackend(str(study)))
    (summary,) = optuna.get_all_study_summaries(storage)
    loaded = optuna.load_study(study_name=summary.study_name, storage=storage)
    return {t.number: t.value for t in loaded.get_trials(states=(optuna.trial.TrialState.COMPLETE,))}


def test_a_killed_sampler_sweep_resumes_with_the_trials_it_finished(launch_server):
    """TPE trials depend on the earlier ones, so they live in an Optuna study beside the
    store while the job runs; resume goes on with the trials finished before the kill."""
    server = launch_server()
    with server.client() as api:
        spec = {
            **SWEEP,
            "strategy": upload_slow(api),
            "method": "tpe",
            "n_trials": 60,
            "seed": 5,
            "space": {"window": {"low": 2, "high": 300, "step": 1}},
        }
        job = submit(api, spec)
        wait_for(api, job["id"], lambda j: j["progress"]["done"] >= 10)
    server.kill()
    study = server.folder / "anvil.duckdb.studies" / f"{job['id']}.journal"
    finished = _finished_trials(study)
    assert 0 < len(finished) < 60  # told to the study batch by batch: progress runs a little ahead

    again = launch_server(folder=server.folder)
    with again.client() as api:
        assert api.get(f"/jobs/{job['id']}").json()["status"] == "interrupted"
        r = api.post(f"/jobs/{job['id']}/resume")
        assert r.status_code == 202, r.text
        assert wait_for(api, job["id"])["status"] == "done"
        rows = {row["item_id"]: row for row in all_rows(api, job["id"])}
    assert len(rows) == 60
    assert all(rows[number]["sharpe"] == sharpe for number, sharpe in finished.items())
    assert not study.exists()  # the finished job's trials are in its results
