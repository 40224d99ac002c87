"""Named universes through the front doors, and the service's strategy list and job specs.

``anvil data universe save | list | show | delete``; ``--universe NAME`` on the job
commands (exclusive with --symbols / --symbol); ``data: {"universe": NAME}`` in a job
spec on a real service (uvicorn on 127.0.0.1), stored with the symbols it resolved to;
an unknown name is a 422 at ``data.universe`` with a did-you-mean. Also: ``GET
/strategies`` lists the universe library with what each strategy runs on, the service
stores the timeframe it read when the spec named none, and a backtest's summary holds
buy-and-hold as the Python result gives it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import engine
import strategies
from api import specs
from strategies.library import UNIVERSE_LIBRARY, snake_case
from tests.api.conftest import TOKEN, Server, server_env, submit, wait_for
from tests.api.conftest_cli import Cli, main_folder, run_main  # noqa: F401 (fixtures)
from tests.api.test_universe_jobs import MOM, STOCKS, stocked_folder

# -- the job spec -----------------------------------------------------------------------


def test_a_universe_spec_names_symbols_or_a_saved_universe():
    named = specs.UniverseSpec.model_validate({"universe": "tech"})
    assert named.universe == "tech" and named.symbols is None
    with pytest.raises(ValueError, match="name the universe's symbols"):
        specs.UniverseSpec.model_validate({"timeframe": "1d"})
    with pytest.raises(ValueError, match="universe"):
        specs.UniverseSpec.model_validate({"universe": ""})


def test_check_names_an_unknown_universe_at_data_universe(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("ANVIL_DB", str(tmp_path / "anvil.duckdb"))
    engine.save_universe("indices", ["SPX", "IXIC"])
    spec = specs.BacktestJob.model_validate({"strategy": MOM, "params": {"top_k": 1}, "data": {"universe": "indeces"}})
    with pytest.raises(specs.SpecError) as caught:
        specs.check(spec)
    assert caught.value.loc == ("data", "universe")
    assert "did you mean 'indices'?" in caught.value.message
    ok = specs.check(spec.model_copy(update={"data": specs.UniverseSpec(universe="indices")}))
    assert ok.data.symbols == ("SPX", "IXIC")


# -- the CLI ------------------------------------------------------------------------------


def test_the_cli_saves_lists_shows_and_deletes_universes(run_main):
    saved = run_main("data", "universe", "save", "indices", "SPX,IXIC", "--note", "the sample")
    assert saved.status == 0, saved.err
    assert "saved universe indices: 2 symbols (SPX, IXIC)" in saved.out
    again = run_main("data", "universe", "save", "indices", "SPX")
    assert again.status == 1 and "saved already" in again.err and "--replace" in again.err
    listed = run_main("data", "universe", "list")
    assert "indices" in listed.out and "the sample" in listed.out
    shown = run_main("data", "universe", "show", "indices", "--json")
    assert shown.json()["symbols"] == ["SPX", "IXIC"] and shown.json()["note"] == "the sample"
    unknown = run_main("data", "universe", "show", "indeces")
    assert unknown.status == 1 and "did you mean 'indices'?" in unknown.err
    bad = run_main("data", "universe", "save", "x", "SPX,NOPE")
    assert bad.status == 1 and "'NOPE' is not stored" in bad.err
    badname = run_main("data", "universe", "save", "9lives", "SPX")
    assert badname.status == 1 and "start with a letter" in badname.err
    ran = run_main("backtest", "-s", MOM, "--universe", "indices", "-p", "top_k=1", "--json")
    assert ran.status == 0, ran.err
    assert ran.json()["spec"]["data"]["symbols"] == ["SPX", "IXIC"]  # what it ran on, resolved
    assert ran.json()["spec"]["data"]["universe"] == "indices"
    both = run_main("backtest", "-s", MOM, "--universe", "indices", "--symbols", "SPX,IXIC")
    assert both.status == 2 and "--universe" in both.err and "--symbols" in both.err
    gone = run_main("data", "universe", "delete", "indices")
    assert gone.status == 0 and "deleted universe indices" in gone.out
    assert "holds no universes" in run_main("data", "universe", "list").out
    missing = run_main("backtest", "-s", MOM, "--universe", "indices", "-p", "top_k=1")
    assert missing.status == 1 and "data.universe" in missing.err and "none is saved yet" in missing.err


# -- the service --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def named_server(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[Server]:
    """One service on a store with the four stocks and the universe ``tech`` saved in it."""
    folder = stocked_folder(tmp_path_factory.mktemp("named_universe"), shared_data)
    with engine.Store(folder / "anvil.duckdb") as store:
        store.save_universe("tech", STOCKS, note="four stocks")
    server = Server(folder, server_env(folder)).start()
    yield server
    server.kill()


@pytest.fixture
def named_api(named_server: Server) -> Iterator[httpx.Client]:
    with named_server.client() as client:
        yield client


def test_the_service_runs_a_job_on_a_saved_universe_and_stores_its_symbols(named_api):
    job = submit(
        named_api,
        {
            "kind": "sweep",
            "strategy": MOM,
            "space": {"lookback": [60, 120], "top_k": [1, 2]},
            "data": {"universe": "tech", "start": "2010-01-01"},
        },
    )
    done = wait_for(named_api, job["id"], timeout=300)
    assert done["status"] == "done", done
    assert done["spec"]["data"]["symbols"] == STOCKS  # stored as resolved: a resume runs on these
    assert done["spec"]["data"]["universe"] == "tech"
    assert done["spec"]["data"]["timeframe"] == "1d"
    assert named_api.get(f"/jobs/{job['id']}/results").json()["count"] == 4


def test_an_unknown_universe_or_symbols_that_are_not_its_own_are_422(named_api):
    r = named_api.post("/jobs", json={"kind": "backtest", "strategy": MOM, "data": {"universe": "tehc"}})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][-2:] == ["data", "universe"], r.text
    assert "did you mean 'tech'?" in r.text
    r = named_api.post(
        "/jobs",
        json={"kind": "backtest", "strategy": MOM, "data": {"universe": "tech", "symbols": ["AAPL", "IBM"]}},
    )
    assert r.status_code == 422 and "AAPL, FB, IBM, MSFT" in r.text, r.text
    assert r.json()["detail"][0]["loc"][-2:] == ["data", "symbols"], r.text
    r = named_api.post("/jobs", json={"kind": "backtest", "strategy": MOM, "data": {"timeframe": "1d"}})
    assert r.status_code == 422, r.text


def test_the_strategy_list_holds_the_universe_library_and_says_what_each_runs_on(named_api):
    listed = named_api.get("/strategies").json()["data"]
    by_id = {s["id"]: s for s in listed}
    assert by_id[MOM]["runs_on"] == "universe" and by_id[MOM]["universe"] is True
    assert by_id["sma_cross"]["runs_on"] == "series" and by_id["sma_cross"]["universe"] is False
    universe_ids = {sid for sid, s in by_id.items() if s["runs_on"] == "universe"}
    assert universe_ids == {snake_case(c.__name__) for c in UNIVERSE_LIBRARY}
    assert len(listed) == len(strategies.list_strategies())


def test_the_service_stores_the_timeframe_it_read_when_the_spec_named_none(named_api):
    job = submit(named_api, {"kind": "backtest", "strategy": "sma_cross", "data": {"symbol": "IBM"}})
    assert job["spec"]["data"]["timeframe"] == "1d", job["spec"]  # not null
    assert named_api.get(f"/jobs/{job['id']}").json()["spec"]["data"]["timeframe"] == "1d"
    wait_for(named_api, job["id"])


def test_a_backtests_summary_carries_buy_and_hold_as_the_python_result_gives_it(named_api, shared_data, tmp_path):
    job = submit(
        named_api, {"kind": "backtest", "strategy": "sma_cross", "data": {"symbol": "AAPL", "timeframe": "1d"}}
    )
    done = wait_for(named_api, job["id"])
    assert done["status"] == "done", done
    held = done["summary"]["buy_and_hold"]
    # the same backtest in Python, on the same bars: its buy-and-hold is the service's
    with engine.Store(tmp_path / "mine.duckdb", sample=False) as mine:
        mine.import_bars(shared_data / "stocks4_daily.parquet", timeframe="1d")
        bars = mine.bars("AAPL", "1d")
    result = strategies.run(strategies.get_strategy("sma_cross"), bars, engine.Config())
    assert held == pytest.approx(specs.buy_and_hold(result), rel=1e-12)
    assert set(held) == {"total_return", "annual_return", "sharpe", "max_drawdown"}
    close = bars.close
    assert held["total_return"] == pytest.approx(close[-1] / close[0] - 1.0, rel=1e-12)


def test_universes_over_http_and_the_cli_through_the_service(named_server: Server, named_api):
    listed = named_api.get("/universes").json()
    assert listed["count"] >= 1 and any(u["name"] == "tech" for u in listed["data"])
    assert named_api.get("/universes/tech").json()["symbols"] == STOCKS
    missing = named_api.get("/universes/tehc")
    assert missing.status_code == 404 and "did you mean 'tech'?" in missing.text
    r = named_api.put("/universes/pair", json={"symbols": ["AAPL", "MSFTT"]})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "symbols"], r.text
    assert "did you mean 'MSFT'?" in r.text
    r = named_api.put("/universes/9bad", json={"symbols": ["AAPL"]})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["path", "name"], r.text
    r = named_api.put("/universes/pair", json={"symbols": ["AAPL", "MSFT"], "note": "two"})
    assert r.status_code == 200 and r.json()["symbols"] == ["AAPL", "MSFT"], r.text
    r = named_api.put("/universes/pair", json={"symbols": ["IBM"]})
    assert r.status_code == 422 and "replace" in r.text
    assert named_api.put("/universes/pair", params={"replace": "true"}, json={"symbols": ["IBM"]}).status_code == 200
    assert named_api.delete("/universes/pair").json()["symbols"] == ["IBM"]
    assert named_api.delete("/universes/pair").status_code == 404
    assert named_api.get("/universes", headers={"Authorization": "Bearer wrong"}).status_code == 401

    cli = Cli(named_server.folder, ANVIL_API_TOKEN=TOKEN)
    url = named_server.url
    saved = cli("data", "universe", "save", "duo", "AAPL,IBM", "--url", url)
    assert "saved universe duo: 2 symbols (AAPL, IBM)" in saved.out
    assert "duo" in cli("data", "universe", "list", "--url", url).out
    assert cli("data", "universe", "show", "duo", "--url", url, "--json").json()["symbols"] == ["AAPL", "IBM"]
    local = cli("data", "universe", "list", ok=False)  # the service owns the file: it says where to go
    assert local.status == 1 and "--url" in local.err
    assert "deleted universe duo" in cli("data", "universe", "delete", "duo", "--url", url).out
