"""Universe jobs through the front doors: the job spec's ``data: {"symbols": [...]}`` on a real
service (uvicorn on 127.0.0.1), and ``anvil ... --symbols A,B,C``; unknown symbols, a
universe smaller than top_k and symbols whose dates never overlap are refused by name."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import engine
from api import specs
from tests.api.conftest import launch_server, submit, wait_for  # noqa: F401 (fixtures)
from tests.api.conftest_cli import Cli

STOCKS = ["AAPL", "FB", "IBM", "MSFT"]
MOM = "cross_sectional_momentum"


def stocked_folder(folder: Path, shared_data: Path) -> Path:
    """A store folder holding the four stocks (FB lists in 2012) and a series of 1999 only."""
    with engine.Store(folder / "anvil.duckdb") as store:
        store.import_bars(shared_data / "stocks4_daily.parquet", timeframe="1d")
        old = pd.read_parquet(shared_data / "sp500_daily.parquet")
        old = old[pd.to_datetime(old["ts"]).dt.year == 1999].drop(columns=["symbol"])
        store.import_bars(old, symbol="OLD1999", timeframe="1d")
    return folder


@pytest.fixture(scope="module")
def stocked(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    return stocked_folder(tmp_path_factory.mktemp("universe"), shared_data)


@pytest.fixture(scope="module")
def stocked_here(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """The same, for this process to open (a service could not open a file this process holds)."""
    return stocked_folder(tmp_path_factory.mktemp("universe_here"), shared_data)


def sweep_spec(**data) -> dict:
    return {
        "kind": "sweep",
        "strategy": MOM,
        "space": {"lookback": [60, 120], "top_k": [1, 2]},
        "data": {"symbols": STOCKS, "start": "2010-01-01", **data},
    }


def test_the_service_runs_sweeps_walk_forward_and_monte_carlo_over_a_universe(launch_server, stocked):
    server = launch_server(stocked)
    with server.client() as api:
        jobs = {
            "sweep": submit(api, sweep_spec())["id"],
            "walk_forward": submit(api, {**sweep_spec(), "kind": "walk_forward", "train": 500, "test": 250})["id"],
            "monte_carlo": submit(
                api,
                {
                    "kind": "monte_carlo",
                    "strategy": MOM,
                    "params": {"top_k": 2},
                    "n": 20,
                    "data": {"symbols": STOCKS, "start": "2010-01-01"},
                },
            )["id"],
            "backtest": submit(
                api, {"kind": "backtest", "strategy": MOM, "params": {"top_k": 2}, "data": {"symbols": STOCKS}}
            )["id"],
        }
        for kind, job_id in jobs.items():
            job = wait_for(api, job_id, timeout=300)
            assert job["status"] == "done", (kind, job)
        rows = api.get(f"/jobs/{jobs['sweep']}/results").json()
        assert len(rows["data"] if isinstance(rows, dict) else rows) == 4
        mc = wait_for(api, jobs["monte_carlo"])
        assert 0 < mc["summary"]["p_value"] <= 1


@pytest.mark.parametrize(
    "data, field, words",
    [
        ({"symbols": ["AAPL", "NOPE"]}, "symbols", "NOPE"),
        ({"symbols": ["AAPL", "OLD1999"], "start": None}, "symbols", "do not overlap"),
    ],
)
def test_a_universe_the_store_cannot_make_is_refused_naming_the_symbols(stocked_here, monkeypatch, data, field, words):
    monkeypatch.setenv("ANVIL_DB", str(stocked_here / "anvil.duckdb"))
    spec = specs.SweepJob.model_validate({**sweep_spec(), "data": {k: v for k, v in data.items() if v}})
    with pytest.raises(specs.SpecError) as caught:
        specs.check(spec)
    assert caught.value.loc == ("data", field) and words in caught.value.message


def test_over_http_unknown_symbols_too_few_symbols_and_no_overlap_are_422(launch_server, stocked):
    server = launch_server(stocked)
    with server.client() as api:
        for data, loc, words in [
            ({"symbols": ["AAPL", "NOPE"]}, ["data", "symbols"], "NOPE"),
            ({"symbols": ["AAPL", "OLD1999"]}, ["data", "symbols"], "do not overlap"),
        ]:
            r = api.post("/jobs", json={**sweep_spec(), "data": data})
            assert r.status_code == 422 and words in r.text, r.text
            assert loc == [str(x) for x in r.json()["detail"][0]["loc"]][-2:], r.text
        r = api.post("/jobs", json={**sweep_spec(), "space": {"top_k": [2, 5]}})
        assert r.status_code == 422 and "top_k=5" in r.text and "(4)" in r.text, r.text
        r = api.post(
            "/jobs", json={"kind": "backtest", "strategy": MOM, "params": {"top_k": 9}, "data": {"symbols": STOCKS}}
        )
        assert r.status_code == 422 and "top_k=9" in r.text, r.text


def test_the_cli_runs_a_universe_and_says_what_is_wrong(tmp_path_factory, shared_data):
    folder = stocked_folder(tmp_path_factory.mktemp("cli_universe"), shared_data)
    cli = Cli(folder)
    listed = cli("strategies", "list")
    line = next(ln for ln in listed.out.splitlines() if ln.startswith(MOM))
    assert "universe" in line
    assert "one series" in next(ln for ln in listed.out.splitlines() if ln.startswith("sma_cross"))
    ran = cli(
        "sweep",
        "-s",
        MOM,
        "--symbols",
        ",".join(STOCKS),
        "--start",
        "2010-01-01",
        "--space",
        "lookback=60,120",
        "top_k=1,2",
        "--address",
        "local-threads",
        "--json",
    )
    assert ran.json()["summary"]["runs"] == 4, ran.json()
    mc = cli(
        "monte-carlo",
        "-s",
        MOM,
        "--symbols",
        ",".join(STOCKS),
        "-p",
        "top_k=2",
        "--paths",
        "10",
        "--address",
        "local-threads",
        "--json",
    )
    assert 0 < mc.json()["summary"]["p_value"] <= 1
    bad = cli("sweep", "-s", MOM, "--symbols", "AAPL,NOPE", "--space", "top_k=1,2", ok=False)
    assert bad.status != 0 and "NOPE" in bad.err
    few = cli("backtest", "-s", MOM, "--symbols", "AAPL,MSFT", "-p", "top_k=3", ok=False)
    assert few.status != 0 and "top_k=3" in few.err
    both = cli("backtest", "-s", MOM, "--symbols", "AAPL,MSFT", "--symbol", "SPX", ok=False)
    assert both.status != 0 and "--symbols" in both.err
