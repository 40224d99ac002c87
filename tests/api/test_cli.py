"""``anvil`` run as a program: local jobs, data, strategies, help and errors.

Jobs run with ``--address local-threads`` (this process's threads) except one
that starts a real local Ray and must give the same table.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from pydantic import TypeAdapter

import engine
import strategies
from api import specs
from tests.api.conftest_cli import SMA_SPX, WALK_FORWARD, Cli, cli, main_folder, run_main  # noqa: F401 - fixtures

LOCAL = ("--address", "local-threads")
SWEEP = ("sweep", "-s", "sma_cross", "--symbol", "SPX", "--space", "fast=5:50:5", "slow=60:200:20", *LOCAL)


@pytest.fixture(scope="module")
def sweep_json(cli: Cli):  # noqa: F811
    """One grid sweep, its JSON on stdout and its full table in CSV and Parquet files."""
    ran = cli(*SWEEP, "--json", "--out", "runs.csv")
    cli(*SWEEP, "--quiet", "--out", "runs.parquet")
    return ran


def _bars(cli: Cli, symbol: str) -> engine.Bars:  # noqa: F811
    """Bars from the CLI's store, which is closed again at once (DuckDB allows one process)."""
    with engine.Store(cli.env["ANVIL_DB"], read_only=True) as store:
        return store.bars(symbol, "1d")


# -- help -----------------------------------------------------------------------------
COMMANDS = [
    [],
    ["backtest"],
    ["sweep"],
    ["walk-forward"],
    ["monte-carlo"],
    ["data"],
    ["data", "import"],
    ["data", "list"],
    ["strategies"],
    ["strategies", "list"],
    ["strategies", "show"],
    ["strategies", "validate"],
    ["serve"],
    ["jobs"],
    ["jobs", "submit"],
    ["jobs", "submit", "sweep"],
    ["jobs", "list"],
    ["jobs", "show"],
    ["jobs", "watch"],
    ["jobs", "results"],
    ["jobs", "cancel"],
    ["jobs", "resume"],
]


def test_anvil_help(cli: Cli):  # noqa: F811
    ran = cli("--help")
    assert ran.out.startswith("Usage: anvil [OPTIONS] COMMAND")
    assert ran.err == ""


@pytest.mark.parametrize("words", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_examples(run_main, words):  # noqa: F811
    ran = run_main(*words, "--help")
    assert ran.status == 0
    assert ran.out.startswith("Usage: anvil"), words
    if words not in (["data"], ["strategies"], ["jobs"]):
        assert "Examples:" in ran.out, words


# -- backtest -----------------------------------------------------------------------------
def test_backtest_prints_the_stats_the_engine_computes(cli: Cli):  # noqa: F811
    costs = ("--fee-rate", "0.001", "--slippage-bps", "2", "--fill", "close")
    ran = cli("backtest", *SMA_SPX, "-p", "fast=10", "slow=50", *costs, "--json")
    doc = ran.json()
    bars = _bars(cli, "SPX")
    cfg = engine.Config(fee_rate=0.001, slippage_bps=2, fill="close")
    want = strategies.run(strategies.SmaCross, bars, cfg, {"fast": 10, "slow": 50})
    assert doc["kind"] == "backtest"
    assert set(doc["summary"]["stats"]) == set(engine.METRICS)
    for name in ("sharpe", "total_return", "total_fees", "max_drawdown"):
        assert doc["summary"]["stats"][name] == pytest.approx(want.stats[name], rel=1e-12), name
    assert doc["count"] == len(want.trades) == len(doc["rows"])
    assert doc["rows"][0]["entry_time"] == want.trades["entry_time"].iloc[0].isoformat()
    assert ran.err == ""  # no progress bar when stderr is not a terminal


def test_backtest_table_is_aligned_stats(run_main):
    out = run_main("backtest", "-s", "sma_cross", "--symbol", "SPX", "--config", '{"initial_capital": 1000}').out
    lines = out.splitlines()
    assert lines[0] == "backtest sma_cross on SPX 1d"
    stats = {line.split()[0]: line.split()[1] for line in lines[1:23]}
    assert list(stats) == list(engine.METRICS)
    assert stats["final_equity"].replace(",", "").replace(".", "").isdigit()
    assert stats["total_return"].endswith("%")
    assert len({len(line) for line in lines[1:23]}) == 1  # values right-aligned in one column


# -- sweep --------------------------------------------------------------------------------
def test_sweep_json_holds_every_run_and_the_best(sweep_json):
    doc = sweep_json.json()
    rows = pd.DataFrame(doc["rows"])
    assert doc["count"] == len(rows) == 10 * 8
    assert sorted(rows["fast"].unique()) == list(range(5, 51, 5))
    assert sorted(rows["slow"].unique()) == list(range(60, 201, 20))
    best = doc["summary"]["best"]
    top = rows.loc[rows["sharpe"].idxmax()]
    assert (best["fast"], best["slow"]) == (top["fast"], top["slow"])
    assert best["sharpe"] == pytest.approx(top["sharpe"])
    assert doc["spec"]["space"]["fast"] == {"low": 5, "high": 50, "step": 5, "log": False}


def test_sweep_out_writes_readable_csv_and_parquet(cli: Cli, sweep_json):  # noqa: F811
    rows = pd.DataFrame(sweep_json.json()["rows"])
    for name in ("runs.csv", "runs.parquet"):
        path = cli.folder / name
        frame = pd.read_csv(path) if name.endswith(".csv") else pd.read_parquet(path)
        assert list(frame.columns) == list(rows.columns), name
        assert len(frame) == len(rows)
        assert frame["sharpe"].to_numpy() == pytest.approx(rows["sharpe"].to_numpy(), rel=1e-12)
    assert "wrote 80 rows to" in sweep_json.err


def test_sweep_table_shows_the_top_runs_best_first(cli: Cli, sweep_json):  # noqa: F811
    out = cli(*SWEEP, "--top", "5").out
    lines = out.splitlines()
    assert lines[0] == "sweep sma_cross on SPX 1d"
    assert lines[1].startswith("80 runs, 0 failed; top 5 by sharpe")
    header = lines[2].split()
    assert header[:4] == ["fast", "slow", "short", "sharpe"]
    shown = [float(line.split()[3]) for line in lines[4:9]]
    want = sorted((r["sharpe"] for r in sweep_json.json()["rows"]), reverse=True)[:5]
    assert shown == pytest.approx(want, abs=5e-4)
    best = sweep_json.json()["summary"]["best"]
    assert f"best: sharpe {best['sharpe']:.4g} at fast={best['fast']} slow={best['slow']}" in out


def test_sweep_over_two_symbols_ranks_the_averages(cli: Cli):  # noqa: F811
    ran = cli(
        "sweep", "-s", "sma_cross", "--symbol", "SPX", "--symbol", "IXIC", "--space", "fast=10,20", "slow=100", *LOCAL
    )
    assert "4 runs" in ran.out and "averaged over symbols" in ran.out


def test_sweep_on_a_local_ray_gives_the_same_runs(cli: Cli, sweep_json):  # noqa: F811
    words = [w for w in SWEEP if w not in LOCAL]
    ran = cli(*words, "--address", "local", "--workers", "2", "--json", "-q")
    assert pd.DataFrame(ran.json()["rows"]).equals(pd.DataFrame(sweep_json.json()["rows"]))
    assert ran.err == ""  # Ray's own lines (its token warning ...) stay out without --debug


def test_dry_run_prints_the_spec_the_service_takes(cli: Cli):  # noqa: F811
    random = ("--method", "random", "--trials", "7")
    ran = cli("sweep", *SMA_SPX, "--space", "fast=5:50", "slow=60:200:20", *random, "--fee-rate", "0.001", "--dry-run")
    spec = TypeAdapter(specs.JobSpec).validate_python(ran.json())
    assert isinstance(spec, specs.SweepJob)
    assert (spec.method, spec.n_trials, spec.config.fee_rate) == ("random", 7, 0.001)
    assert "sweep checked: 7 runs" in ran.err


def test_checkpoint_folder_lets_a_sweep_resume(cli: Cli, sweep_json):  # noqa: F811
    first = cli(*SWEEP, "--checkpoint", "ckpt", "--json").json()
    assert any((cli.folder / "ckpt").iterdir())
    again = cli(*SWEEP, "--checkpoint", "ckpt", "--json").json()
    assert again["rows"] == first["rows"] == sweep_json.json()["rows"]


# -- walk-forward and Monte Carlo -------------------------------------------------------------------
def test_walk_forward_reports_windows_and_the_stitched_curve(cli: Cli, run_main):  # noqa: F811
    words = (*WALK_FORWARD, *LOCAL)
    doc = cli(*words, "--json").json()
    bars = _bars(cli, "SPX")
    windows = specs.cluster.walk_forward_windows(bars.ts, 1000, 500)
    assert doc["count"] == len(windows) == doc["summary"]["windows"]
    assert [r["window"] for r in doc["rows"]] == list(range(len(windows)))
    assert set(doc["summary"]["stats"]) == set(engine.METRICS)
    out = run_main(*words).out
    assert "out of sample, windows stitched:" in out
    assert out.count("\n") > len(windows) + 5


def test_monte_carlo_permutation_gives_a_p_value(cli: Cli, run_main):  # noqa: F811
    doc = cli("monte-carlo", "-s", "sma_cross", "--symbol", "SPX", "-n", "40", *LOCAL, "--json").json()
    assert doc["count"] == 40 == len(doc["rows"])
    assert 0 <= doc["summary"]["p_value"] <= 1
    table = run_main("monte-carlo", "-s", "sma_cross", "--symbol", "SPX", "-n", "40", *LOCAL).out
    assert f"p-value {doc['summary']['p_value']:.4f}" in table


def test_monte_carlo_bootstrap_gives_intervals(run_main):
    ran = run_main("monte-carlo", *SMA_SPX, "-n", "40", "--method", "bootstrap", "--confidence", "0.8", *LOCAL)
    lines = ran.out.splitlines()
    assert "interval low" in lines[2] and "interval high" in lines[2]
    assert lines[4].split()[0] == "sharpe"


# -- errors --------------------------------------------------------------------------------
ERRORS = [
    (["sweep", "-s", "sma_cross", "--symbol", "SPX", "--space", "fast=5:x"], 2, "--space fast: 'x' is not a number"),
    (["sweep", "-s", "sma_cross", "--symbol", "SPX", "--space", "fast=50:5"], 2, "low 50 is above high 5"),
    (
        ["sweep", "-s", "sma_crosss", "--symbol", "SPX", "--space", "fast=5:50"],
        1,
        "strategy: no built-in strategy is called 'sma_crosss'; did you mean 'sma_cross'",
    ),
    (
        ["sweep", "-s", "sma_cross", "--symbol", "SPY", "--space", "fast=5:50"],
        1,
        "data: no bars for symbol 'SPY' (did you mean 'SPX'?).",
    ),
    (
        ["sweep", "-s", "sma_cross", "--symbol", "SPX", "--space", "fats=5:50"],
        1,
        "space: SmaCross has no parameter 'fats'; did you mean 'fast'?",
    ),
    (
        ["sweep", "-s", "sma_cross", "--symbol", "SPX", "--space", "fast=5:50", "--metric", "sharp"],
        1,
        "metric: unknown metric 'sharp'; did you mean 'sharpe'?",
    ),
    (
        ["sweep", "-s", "sma_cross", "--symbol", "SPX", "--space", "fast=5:50", "--method", "grd"],
        1,
        "method: Input should be",
    ),
    (
        ["sweep", "-s", "sma_cross", "--symbol", "SPX", "--space", "fast=5:50", "--out", "runs.xlsx"],
        2,
        "--out runs.xlsx: name a .csv or .parquet file",
    ),
    (
        ["backtest", "-s", "sma_cross", "--symbol", "SPX", "-p", "fast=60", "slow=50"],
        1,
        "params: SmaCross needs fast < slow",
    ),
    (["backtest", "-s", "sma_cross", "--symbol", "SPX", "--fee-rate", "2"], 1, "config: Config.fee_rate is 2.0"),
    (
        ["backtest", "-s", "sma_cross", "--symbol", "SPX", "--config", '{"fee_rat": 1}'],
        1,
        "config.fee_rat: Extra inputs are not permitted",
    ),
    (["backtest", "-s", "sma_cross", "--symbol", "SPX", "--symbol", "IXIC"], 2, "a backtest runs on one symbol"),
    (["backtest", "-s", "sma_cross", "--symbol", "SPX", "--start", "someday"], 1, "data.start: "),
    (["backtest", "--symbol", "SPX"], 2, "Missing option '--strategy'"),
    (["backtest", "-s", "sma_cross"], 2, "give --symbol"),
    (
        ["walk-forward", "-s", "sma_cross", "--symbol", "SPX", "--space", "fast=5:9", "--train", "9000", "--test", "5"],
        1,
        "train: no window fits in 5031 bars",
    ),
    (["monte-carlo", "-s", "sma_cross", "--symbol", "SPX", "-n", "0"], 2, "Invalid value for '--paths'"),
    (["frobnicate"], 2, "No such command 'frobnicate'"),
]


@pytest.mark.parametrize(("words", "status", "says"), ERRORS, ids=[" ".join(w[:1] + w[-2:]) for w, _, _ in ERRORS])
def test_errors_exit_non_zero_with_one_line_naming_the_problem(run_main, words, status, says):
    ran = run_main(*words)
    assert ran.status == status
    assert says in ran.error_line()
    assert ran.out == ""


@pytest.mark.parametrize(("words", "status", "says"), [ERRORS[0], ERRORS[3]], ids=["usage", "spec"])
def test_the_program_exits_with_that_status_and_line(cli: Cli, words, status, says):  # noqa: F811
    ran = cli(*words, ok=False)
    assert (ran.status, ran.out) == (status, "")
    assert says in ran.error_line()


def test_debug_adds_the_traceback(cli: Cli):  # noqa: F811
    ran = cli("backtest", "-s", "sma_cross", "--symbol", "SPY", "--debug", ok=False)
    assert ran.status == 1
    assert "Traceback" in ran.err and ran.err.rstrip().splitlines()[-1].startswith("anvil: error: data: no bars")


# -- data ----------------------------------------------------------------------------------
def _write_bars(path, n=300, bad_row=None):
    ts = pd.bdate_range("2020-01-01", periods=n)
    close = 100 + pd.Series(range(n), dtype=float).map(lambda i: 10 * math.sin(i / 9) + i * 0.05)
    frame = pd.DataFrame(
        {
            "Date": ts.strftime("%Y-%m-%d"),
            "Open": close.shift(1).fillna(100).to_numpy(),
            "High": close + 1,
            "Low": close - 1,
            "Close": close,
            "Volume": 1000,
        }
    )
    frame["High"] = frame[["Open", "High"]].max(axis=1) + 0.5
    frame["Low"] = frame[["Open", "Low"]].min(axis=1) - 0.5
    if bad_row is not None:
        frame.loc[bad_row, "Close"] = -1.0
    frame.to_csv(path, index=False)


def test_data_import_then_list_then_backtest_on_it(cli: Cli):  # noqa: F811
    _write_bars(cli.folder / "acme.csv")
    ran = cli("data", "import", "acme.csv", "--symbol", "ACME", "--timeframe", "1d")
    assert "acme.csv: 300 rows read, 300 bars added, 0 changed, 0 already stored" in ran.out
    again = cli("data", "import", "acme.csv", "--symbol", "ACME", "--json").json()
    assert again["data"][0]["unchanged"] == 300 and again["data"][0]["added"] == 0
    listed = cli("data", "list", "--json").json()["data"]
    acme = next(s for s in listed if s["symbol"] == "ACME")
    assert (acme["timeframe"], acme["bars"], acme["first"][:10]) == ("1d", 300, "2020-01-01")
    table = cli("data", "list").out.splitlines()
    assert table[0].split() == ["symbol", "timeframe", "first", "last", "bars"]
    assert any(line.split()[:2] == ["ACME", "1d"] for line in table)
    out = cli("backtest", "-s", "sma_cross", "--symbol", "ACME", "-p", "fast=5", "slow=20").out
    assert out.startswith("backtest sma_cross on ACME 1d")


def test_data_import_of_bad_rows_is_refused_with_one_line(cli: Cli):  # noqa: F811
    _write_bars(cli.folder / "bad.csv", n=50, bad_row=7)
    ran = cli("data", "import", "bad.csv", "--symbol", "BAD", ok=False)
    assert ran.status == 1
    assert "bad.csv: 1 bad row, nothing imported; fix them, or pass --skip-bad" in ran.error_line()
    assert "line 9: close is -1.0" in ran.out
    ran = cli("data", "import", "bad.csv", "--symbol", "BAD", "--skip-bad")
    assert "49 bars added" in ran.out
    missing = cli("data", "import", "nowhere.csv", "--symbol", "X", ok=False)
    assert missing.status == 1 and "nowhere.csv" in missing.error_line()


# -- strategies ------------------------------------------------------------------------------
def test_strategies_list(cli: Cli, run_main):  # noqa: F811
    doc = cli("strategies", "list", "--json").json()
    assert doc["count"] == len(strategies.list_strategies()) == len(doc["data"])
    lines = run_main("strategies", "list").out.splitlines()
    names = [line.split()[0] for line in lines[2 : 2 + doc["count"]]]
    assert names[:3] == ["sma_cross", "ema_cross", "macd_cross"]
    assert "fast 2..100 (10)" in lines[2]


GOOD = '''
import numpy as np
from strategies import Int, Strategy, indicators


class PriceAboveAverage(Strategy):
    """Long while the close is above its simple moving average."""

    window = Int(20, low=2, high=200)

    def signals(self, bars, window):
        return (bars.close > indicators.sma(bars.close, window)).astype(np.int8)
'''

HOSTILE = """
import subprocess
from strategies import Strategy


class Sneaky(Strategy):
    def signals(self, bars):
        subprocess.run(["touch", "owned"])
        return bars.close * 0
"""


def test_strategies_validate_a_good_and_a_hostile_file(cli: Cli):  # noqa: F811
    (cli.folder / "good.py").write_text(GOOD)
    (cli.folder / "hostile.py").write_text(HOSTILE)
    ok = cli("strategies", "validate", "good.py")
    assert ok.out.startswith("good.py: ok, PriceAboveAverage (vectorized; window 2..200 (20))")
    bad = cli("strategies", "validate", "hostile.py", ok=False)
    assert bad.status == 1
    assert bad.error_line().startswith("anvil: error: hostile.py: ")
    assert "subprocess" in bad.err
    both = cli("strategies", "validate", "good.py", "hostile.py", "--json", ok=False)
    assert [r["ok"] for r in both.json()["data"]] == [True, False]
    assert "1 of 2 files were rejected" in both.error_line()
    assert not (cli.folder / "owned").exists()


def test_a_strategy_file_runs_locally(cli: Cli):  # noqa: F811
    (cli.folder / "good.py").write_text(GOOD)
    doc = cli("sweep", "-s", "good.py", "--symbol", "SPX", "--space", "window=10,20,40", *LOCAL, "--json").json()
    assert sorted(r["window"] for r in doc["rows"]) == [10, 20, 40]
    assert all(r["error"] is None for r in doc["rows"])
