"""``anvil data``: import options (--dayfirst, --date-format, --columns), delete, the
timeframe a command used, and a store owned by a running service (--url)."""

from __future__ import annotations

from pathlib import Path

import pytest

import tests.api.conftest as service_conftest
from tests.api.conftest import TOKEN, wait_for
from tests.api.conftest_cli import Cli, main_folder, run_main  # noqa: F401 - fixtures

DATA = Path(__file__).resolve().parents[1] / "data"


# -- local store ------------------------------------------------------------------------------


def test_import_reads_day_first_dates_when_told(run_main):  # noqa: F811
    refused = run_main("data", "import", str(DATA / "spx_ambiguous_dates.csv"), "--symbol", "DAYS")
    assert refused.status == 1
    line = refused.error_line()
    assert "read both day-first" in line and "--dayfirst" in line and "--date-format" in line
    ran = run_main("data", "import", str(DATA / "spx_ambiguous_dates.csv"), "--symbol", "DAYS", "--dayfirst")
    assert ran.status == 0, ran.err
    listed = run_main("data", "list", "--json").json()["data"]
    days = next(s for s in listed if s["symbol"] == "DAYS")
    assert (days["first"][:10], days["last"][:10], days["bars"]) == ("2015-01-02", "2015-01-12", 7)
    fmt = run_main(
        "data",
        "import",
        str(DATA / "spx_ambiguous_dates.csv"),
        "--symbol",
        "DAYS2",
        "--date-format",
        "%d/%m/%Y",
        "--json",
    )
    assert fmt.status == 0 and fmt.json()["data"][0]["added"] == 7


def test_import_columns_maps_names(run_main):  # noqa: F811
    ran = run_main(
        "data", "import", str(DATA / "last_price.csv"), "--symbol", "LAST", "--columns", "close=Last,volume=Vol.Traded"
    )
    assert ran.status == 0, ran.err
    assert "LAST 1h: +48 new" in ran.out
    bad = run_main("data", "import", str(DATA / "last_price.csv"), "--symbol", "LAST", "--columns", "close")
    assert bad.status == 2 and "field=column" in bad.error_line()


def test_delete_says_what_went_and_refuses_what_is_not_there(run_main):  # noqa: F811
    assert run_main("data", "import", str(DATA / "mt5_eurusd_h1.csv"), "--symbol", "GONE").status == 0
    ran = run_main("data", "delete", "GONE", "--timeframe", "1h")
    assert ran.status == 0, ran.err
    assert ran.out.strip() == "deleted GONE 1h: 48 bars (2017-04-19 .. 2017-04-21)"
    assert all(s["symbol"] != "GONE" for s in run_main("data", "list", "--json").json()["data"])
    again = run_main("data", "delete", "GONE")
    assert again.status == 1 and "no bars for symbol 'GONE'" in again.error_line()


def test_hourly_data_is_not_resampled_unasked_and_the_header_names_the_timeframe(run_main):  # noqa: F811
    assert run_main("data", "import", str(DATA / "mt5_eurusd_h1.csv"), "--symbol", "EURUSD").status == 0
    refused = run_main("backtest", "-s", "sma_cross", "--symbol", "EURUSD", "-p", "fast=3", "slow=8")
    assert refused.status == 1
    line = refused.error_line()
    assert "EURUSD has no 1d bars, only EURUSD 1h" in line and "--timeframe 1h" in line
    hourly = run_main(
        "backtest", "-s", "sma_cross", "--symbol", "EURUSD", "--timeframe", "1h", "-p", "fast=3", "slow=8"
    )
    assert hourly.status == 0, hourly.err
    assert hourly.out.startswith("backtest sma_cross on EURUSD 1h")
    daily = run_main("backtest", "-s", "sma_cross", "--symbol", "SPX", "-p", "fast=5", "slow=20")
    assert daily.out.startswith("backtest sma_cross on SPX 1d")


# -- a store the service owns -------------------------------------------------------------------


@pytest.fixture
def served(launch_server, monkeypatch):
    """A service on a port its settings know (``ANVIL_PORT``), so it can say where it is."""
    port = service_conftest.free_port()
    monkeypatch.setattr(service_conftest, "free_port", lambda: port)
    server = launch_server(ANVIL_PORT=str(port))
    return server, Cli(server.folder, ANVIL_API_TOKEN=TOKEN), f"http://127.0.0.1:{port}"


def test_while_the_service_owns_the_store_local_commands_say_to_use_url(served):
    server, cli, url = served
    listed = cli("data", "list", ok=False)
    assert listed.status == 1
    line = listed.error_line()
    assert "held by the anvil service" in line and f"--url {url}" in line
    ran = cli("backtest", "-s", "sma_cross", "--symbol", "SPX", "-p", "fast=5", "slow=20", ok=False)
    assert ran.status == 1 and f"--url {url}" in ran.error_line()


def test_data_commands_go_through_the_service_with_url(served):
    server, cli, url = served
    ran = cli("data", "import", str(DATA / "mt5_eurusd_h1.csv"), "--symbol", "EURUSD", "--url", url, "-q")
    assert "mt5_eurusd_h1.csv: 48 rows read, 48 bars added" in ran.out
    assert "EURUSD 1h: +48 new" in ran.out
    with server.client() as api:  # a job on the hourly series: the service resamples nothing unasked either
        job = {"kind": "backtest", "strategy": "sma_cross", "params": {"fast": 3, "slow": 8}}
        refused = api.post("/jobs", json={**job, "data": {"symbol": "EURUSD"}})
        assert refused.status_code == 422, refused.text
        detail = refused.json()["detail"][0]
        assert detail["loc"] == ["body", "data"] and "EURUSD has no 1d bars, only EURUSD 1h" in detail["msg"]
        hourly = api.post("/jobs", json={**job, "data": {"symbol": "EURUSD", "timeframe": "1h"}})
        assert hourly.status_code in (200, 201, 202), hourly.text
        assert wait_for(api, hourly.json()["id"])["status"] == "done"
    days = cli(
        "data",
        "import",
        str(DATA / "spx_ambiguous_dates.csv"),
        "--symbol",
        "DAYS",
        "--dayfirst",
        "--url",
        url,
        "--json",
    ).json()
    assert days["data"][0]["added"] == 7
    refused = cli("data", "import", str(DATA / "spx_ambiguous_dates.csv"), "--symbol", "DAYS2", "--url", url, ok=False)
    assert refused.status == 1 and "read both day-first" in refused.error_line()
    listed = cli("data", "list", "--url", url, "--json").json()["data"]
    assert {(s["symbol"], s["timeframe"]) for s in listed} >= {("EURUSD", "1h"), ("DAYS", "1d"), ("SPX", "1d")}
    gone = cli("data", "delete", "EURUSD", "--url", url)
    assert gone.out.strip() == "deleted EURUSD 1h: 48 bars (2017-04-19 .. 2017-04-21)"
    missing = cli("data", "delete", "EURUSD", "--url", url, ok=False)
    assert missing.status == 1 and "no bars for symbol 'EURUSD'" in missing.error_line()
    with server.client() as api:
        assert all(s["symbol"] != "EURUSD" for s in api.get("/data").json()["data"])
    server.stop()
    assert not (server.folder / "anvil.duckdb.owner").exists()
    assert "DAYS" in cli("data", "list").out  # the service gone, the file is the CLI's again
