"""``anvil jobs ...`` against a real ``anvil serve`` on 127.0.0.1 (a free port, its own store).

The service runs jobs on its own threads (``--address local-threads``). It has no
``ANVIL_API_TOKEN``: it makes a token file, which the client finds for a loopback
URL through ``ANVIL_TOKEN_FILE``, as on a machine running both.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

import cluster
import engine
import strategies
from tests.api.conftest_cli import WALK_FORWARD, Cli, free_port
from tests.api.test_cli import GOOD, HOSTILE
from tests.sources import SLOW_TREND

SPACE = ("--space", "fast=5:50:5", "slow=60:200:20")
SWEEP = ("sweep", "-s", "sma_cross", "--symbol", "SPX", *SPACE)
WAIT_SECONDS = 120  # how long a test waits for the service or a job before failing


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory):
    """``anvil serve`` in a subprocess; yields a ``Cli`` whose ``--url`` is that service."""
    folder = tmp_path_factory.mktemp("service")
    port = free_port()
    cli = Cli(folder, ANVIL_URL=f"http://127.0.0.1:{port}")
    log = open(folder / "serve.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "api.cli",
            "serve",
            "--port",
            str(port),
            "--address",
            "local-threads",
            "--log-level",
            "warning",
        ],
        env=cli.env,
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            if proc.poll() is not None:
                pytest.fail(f"anvil serve exited {proc.returncode}:\n{(folder / 'serve.log').read_text()}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"anvil serve did not answer in {WAIT_SECONDS} s:\n{(folder / 'serve.log').read_text()}")
            time.sleep(0.2)
        cli.port = port  # type: ignore[attr-defined]
        yield cli
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def expected_sweep(tmp_path_factory: pytest.TempPathFactory) -> cluster.SweepResult:
    """The same sweep run in this process, on a store of its own."""
    with engine.Store(tmp_path_factory.mktemp("expected") / "x.duckdb") as store:
        bars = store.bars("SPX", "1d")
    space = {"fast": list(range(5, 51, 5)), "slow": list(range(60, 201, 20))}
    return cluster.sweep(strategies.SmaCross, bars, space, address="local-threads")


def _wait_for(service: Cli, job_id: str, statuses: set[str]) -> dict:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        record = service("jobs", "show", job_id, "--json").json()
        if record["status"] in statuses:
            return record
        assert time.monotonic() < deadline, f"job {job_id} still {record['status']}"
        time.sleep(0.3)


def test_submit_follows_the_job_and_prints_the_table(service: Cli, expected_sweep):
    ran = service("jobs", "submit", *SWEEP, "--top", "3", "--out", "runs.csv")
    best = expected_sweep.best
    lines = ran.out.splitlines()
    assert lines[0].startswith("job ") and lines[0].endswith(": sweep sma_cross")
    assert lines[1].startswith("80 runs, 0 failed; top 3 by sharpe")
    assert f"best: sharpe {best['sharpe']:.4g} at fast={best['fast']} slow={best['slow']}" in ran.out
    assert ran.err.startswith("submitted job ")
    frame = pd.read_csv(service.folder / "runs.csv")
    assert len(frame) == 80
    assert frame["sharpe"].to_numpy() == pytest.approx(expected_sweep.table["sharpe"].to_numpy(), rel=1e-12)


def test_submit_json_is_the_summary_and_rows(service: Cli, expected_sweep):
    doc = service("jobs", "submit", *SWEEP, "--json").json()
    assert (doc["kind"], doc["status"], doc["count"]) == ("sweep", "done", 80)
    assert doc["summary"]["best"]["sharpe"] == pytest.approx(expected_sweep.best["sharpe"], rel=1e-12)
    assert len(doc["rows"]) == 80 and len(doc["id"]) == 32


def test_no_wait_then_show_watch_results_list(service: Cli):
    job_id = service(
        "jobs", "submit", "backtest", "-s", "sma_cross", "--symbol", "SPX", "-p", "fast=10", "slow=50", "--no-wait"
    ).out.strip()
    assert len(job_id) == 32
    watched = service("jobs", "watch", job_id)
    assert watched.out.splitlines()[0] == f"job {job_id}: backtest sma_cross"
    assert "sharpe" in watched.out
    record = service("jobs", "show", job_id, "--json").json()
    assert record["status"] == "done" and record["kind"] == "backtest"
    shown = service("jobs", "show", job_id).out
    assert f"id        {job_id}" in shown and "status    done" in shown
    page = service("jobs", "results", job_id, "--json", "--limit", "5").json()
    assert len(page["data"]) == 5 and page["count"] == record["rows"] > 5
    service("jobs", "results", job_id, "--out", "trades.parquet")
    trades = pd.read_parquet(service.folder / "trades.parquet")
    assert len(trades) == record["rows"] and "pnl" in trades.columns
    table = service("jobs", "results", job_id, "--top", "2").out
    assert "closed trades" in table
    listed = service("jobs", "list", "--json").json()
    assert job_id in [j["id"] for j in listed["data"]]
    assert any(line.startswith(job_id) for line in service("jobs", "list").out.splitlines())


def test_submit_a_spec_file_made_by_dry_run(service: Cli):
    local = Cli(service.folder / "local")
    local.folder.mkdir()
    spec = local(*WALK_FORWARD, "--dry-run").out
    (service.folder / "wf.json").write_text(spec)
    doc = service("jobs", "submit", "--spec", "wf.json", "--json").json()
    assert doc["kind"] == "walk_forward" and doc["count"] == doc["summary"]["windows"] > 3
    again = service("jobs", "submit", "--spec", "-", stdin=spec)
    assert "out of sample, windows stitched:" in again.out


def test_cancel_watch_resume(service: Cli):
    (service.folder / "slow.py").write_text(SLOW_TREND)
    job_id = service(
        "jobs", "submit", "sweep", "-s", "slow.py", "--symbol", "SPX", "--space", "window=2:400", "--no-wait"
    ).out.strip()
    said = service("jobs", "cancel", job_id).out
    assert said.startswith(f"job {job_id}: cancel")
    record = _wait_for(service, job_id, {"cancelled", "done"})
    assert record["status"] == "cancelled", "the sweep finished before the cancel landed"
    watched = service("jobs", "watch", job_id, ok=False)
    assert watched.status == 1 and f"job {job_id} cancelled" in watched.error_line()
    assert f"`anvil jobs resume {job_id}`" in watched.err
    results = service("jobs", "results", job_id, ok=False)
    assert results.status == 1 and f"job {job_id} is cancelled" in results.error_line()
    assert service("jobs", "resume", job_id, "--no-wait").out.strip() == job_id
    assert service("jobs", "show", job_id, "--json").json()["status"] in ("queued", "running")
    service("jobs", "cancel", job_id)
    assert _wait_for(service, job_id, {"cancelled", "done"})["status"] == "cancelled"


def test_a_strategy_file_is_uploaded_and_run(service: Cli):
    (service.folder / "good.py").write_text(GOOD)
    (service.folder / "hostile.py").write_text(HOSTILE)
    doc = service(
        "jobs", "submit", "sweep", "-s", "good.py", "--symbol", "SPX", "--space", "window=10,20", "--json"
    ).json()
    assert doc["spec"]["strategy"].startswith("up_")
    assert sorted(r["window"] for r in doc["rows"]) == [10, 20]
    refused = service("jobs", "upload", "hostile.py", ok=False)
    assert refused.status == 1 and refused.error_line().startswith("anvil: error: source: ")
    listed = service("jobs", "strategies").out.splitlines()
    mine = next(line for line in listed if "PriceAboveAverage" in line)
    assert doc["spec"]["strategy"] in mine and "uploaded" in mine
    assert any(line.split()[:1] == ["sma_cross"] or "SmaCross" in line for line in listed)
    jobs = service("jobs", "list").out
    assert f"PriceAboveAverage ({doc['spec']['strategy'][:11]})" in jobs


def test_short_job_ids_are_accepted(service: Cli):
    job_id = service("jobs", "submit", "backtest", "-s", "sma_cross", "--symbol", "SPX", "--no-wait").out.strip()
    service("jobs", "watch", job_id[:8], "-q")
    record = service("jobs", "show", job_id[:8], "--json").json()
    assert record["id"] == job_id and record["status"] == "done"
    assert service("jobs", "results", job_id[:8], "--json", "--limit", "1").json()["job_id"] == job_id
    missing = service("jobs", "show", "ffffffff", ok=False)
    assert missing.status == 1 and "ffffffff" in missing.error_line()


def test_jobs_results_ranks_from_the_parquet_file_as_the_local_report_does(service: Cli, expected_sweep):
    job_id = service("jobs", "submit", *SWEEP, "--no-wait").out.strip()
    service("jobs", "watch", job_id, "-q")
    lines = service("jobs", "results", job_id, "--top", "4").out.splitlines()
    assert lines[1].startswith("80 runs, 0 failed; top 4 by sharpe")
    shown = [float(line.split()[3]) for line in lines[4:8]]
    want = expected_sweep.table["sharpe"].sort_values(ascending=False).head(4).to_numpy()
    assert shown == pytest.approx(want, abs=5e-4)
    doc = service("jobs", "results", job_id, "--top", "4", "--json", "--limit", "4").json()
    assert doc["count"] == 80


def test_jobs_results_sort_is_one_page_ranked_by_the_service(service: Cli, expected_sweep):
    job_id = service("jobs", "submit", *SWEEP, "--no-wait").out.strip()
    service("jobs", "watch", job_id, "-q")
    doc = service("jobs", "results", job_id, "--sort", "sharpe", "--limit", "3", "--json").json()
    want = expected_sweep.table["sharpe"].sort_values(ascending=False).head(3).to_numpy()
    assert doc["count"] == 80 and [r["sharpe"] for r in doc["data"]] == pytest.approx(want, abs=1e-9)
    lines = service(
        "jobs", "results", job_id, "--sort", "max_drawdown", "--order", "asc", "--limit", "2"
    ).out.splitlines()
    assert "max_drawdown" in lines[0].split() and len(lines) == 4  # a header, a rule, two rows
    column = lines[0].split().index("max_drawdown")
    shown = [float(line.split()[column].rstrip("%")) / 100 for line in lines[2:]]  # a fraction, shown in %
    assert shown == pytest.approx(expected_sweep.table["max_drawdown"].nsmallest(2).to_numpy(), abs=1e-4)
    unknown = service("jobs", "results", job_id, "--sort", "sharp", ok=False)
    assert unknown.status == 1 and "'sharpe'" in unknown.error_line()


ERRORS = [
    (
        ["jobs", "submit", "sweep", "-s", "sma_crosss", "--symbol", "SPX", "--space", "fast=5:50"],
        {},
        ["anvil: error: strategy: ", "'sma_crosss'"],
    ),
    (["jobs", "submit", "backtest", "-s", "sma_cross", "--symbol", "SPY"], {}, ["anvil: error: data: ", "'SPY'"]),
    (
        ["jobs", "submit", "sweep", "-s", "sma_cross", "--symbol", "SPX", "--space", "fast=5:50", "--method", "grd"],
        {},
        ["anvil: error: method: "],
    ),
    (["jobs", "show", "0" * 32], {}, ["anvil: error: ", "0" * 32]),
    (["jobs", "list"], {"ANVIL_API_TOKEN": "wrong"}, ["anvil: error: the service refused the request", "token"]),
    (
        ["jobs", "list", "--url", "http://127.0.0.1:9"],
        {},
        ["anvil: error: cannot reach the anvil service at http://127.0.0.1:9/api/v1"],
    ),
]


@pytest.mark.parametrize(("words", "env", "says"), ERRORS, ids=[w[1] + " " + w[-1] for w, _, _ in ERRORS])
def test_errors_are_one_line_naming_the_problem(service: Cli, words, env, says):
    ran = service(*words, ok=False, **env)
    assert (ran.status, ran.out) == (1, "")
    line = ran.error_line()
    assert line.startswith(says[0]), line
    assert all(part in line for part in says[1:]), line


def test_the_token_from_the_environment_is_sent(service: Cli):
    token = Path(service.env["ANVIL_TOKEN_FILE"]).read_text().strip()
    ran = service("jobs", "list", "--json", ANVIL_API_TOKEN=token, ANVIL_TOKEN_FILE=str(service.folder / "none"))
    assert "count" in ran.json()


def test_cancelling_a_finished_job_says_so(service: Cli):
    job_id = service("jobs", "list", "--json", "--status", "done").json()["data"][0]["id"]
    ran = service("jobs", "cancel", job_id, ok=False)
    assert ran.status == 1 and f"job {job_id} is done" in ran.error_line()


def test_serve_on_a_busy_port_is_one_line(service: Cli):
    ran = service("serve", "--port", str(service.port), ok=False)  # type: ignore[attr-defined]
    assert ran.status == 1 and "the port is in use" in ran.error_line()
