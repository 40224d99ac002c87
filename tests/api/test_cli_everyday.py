"""The daily loop at the terminal: a sweep that cannot rank says so and fails, small jobs
start without Ray, strategy files are ordinary Python, errors quote the value at fault,
a backtest writes its curve and trades and brings its buy-and-hold benchmark."""

from __future__ import annotations

import dataclasses

import json
import logging
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from pydantic import TypeAdapter

import engine
import strategies
from api import specs
from api.cli import where
from cluster import runtime
from tests.api.conftest_cli import SMA_SPX, Cli, cli, main_folder, run_main  # noqa: F401 - fixtures

LOCAL = ("--address", "local-threads")

FAILS = '''
from strategies import Int, Strategy


class Fails(Strategy):
    """Fails on every run."""

    window = Int(10, low=2, high=100)

    def signals(self, bars, window):
        raise ValueError(f"no signal for window {window}")
'''

ORDINARY = '''
import pandas as pd  # the sandbox for uploads refuses pandas; your own file may use it

from strategies import Int, Strategy

print("loading my strategy")


class _Helper:
    def rule(self, close, window):
        return (close > close.rolling(window).mean()).astype("int8")


class AboveAverage(Strategy):
    """Long while the close is above its moving average (written with pandas)."""

    window = Int(20, low=2, high=200)

    def signals(self, bars, window):
        return _Helper().rule(pd.Series(bars.close), window).to_numpy()
'''

NEVER = """
import numpy as np

from strategies import Float, Strategy


class AboveLevel(Strategy):
    \"\"\"Long while the close is above ``level``: set above the highest close, the real
    series never trades; a shuffled path may climb there.\"\"\"

    level = Float(1.0, 0.0, 1e9)

    def signals(self, bars, level):
        return np.where(bars.close > level, 1, 0).astype(np.int8)
"""

SLOW = """
import os
import time

import numpy as np

from strategies import Int, Strategy


class Slow(Strategy):
    \"\"\"Long above the first close; each run sleeps $SLOW seconds first.\"\"\"

    window = Int(10, low=2, high=500)

    def signals(self, bars, window):
        time.sleep(float(os.environ.get("SLOW", "0")))
        return np.where(bars.close > bars.close[0], 1, 0).astype(np.int8)
"""

BROKEN = """
from strategies import Strategy

x = 1 / 0
"""


# -- a sweep with nothing to rank ------------------------------------------------------------
def test_a_sweep_in_which_every_run_failed_exits_1_and_says_what_failed(run_main, main_folder):  # noqa: F811
    (main_folder / "fails.py").write_text(FAILS)
    ran = run_main("sweep", "-s", "fails.py", "--symbol", "SPX", "--space", "window=5:8", *LOCAL)
    assert ran.status == 1
    header, line = ran.err.strip().splitlines()  # the header says where it ran; the error ends it
    assert header.startswith("sweep: 4 runs; runs on threads in this process")
    assert line.startswith("anvil: error: sweep: ")
    assert "every one of the 4 runs failed" in line
    assert "ValueError: no signal for window 5 (at fails.py:11)" in line
    assert ran.out.splitlines()[1] == "4 runs, 4 failed; top 4 by sharpe (best first)"
    assert "window" in ran.out.splitlines()[2].split()  # the failed runs' parameters are shown
    assert "see the error column" not in ran.out


def test_a_sweep_over_an_empty_space_exits_1_and_says_the_space_is_empty(run_main):  # noqa: F811
    ran = run_main("sweep", "-s", "sma_cross", "--symbol", "SPX", "--space", "fast=60:70", "slow=20:30", *LOCAL)
    assert ran.status == 1
    assert "the space has no point that meets the strategy's constraints" in ran.err.strip().splitlines()[-1]


# -- where a job runs ---------------------------------------------------------------------------
def test_a_small_sweep_runs_on_threads_and_the_header_says_so(cli: Cli):  # noqa: F811
    ran = cli("sweep", "-s", "sma_cross", "--symbol", "SPX", "--space", "fast=5:50:5", "slow=60:200:20")
    assert ran.err.splitlines() == [ran.err.splitlines()[0]]  # one line: the header, no Ray
    assert ran.err.startswith("sweep: 80 runs; runs on threads in this process (")
    assert (
        cli("sweep", "-s", "sma_cross", "--symbol", "SPX", "--space", "fast=5:50:5", "slow=60:200:20", "-q").err == ""
    )


def _spec(kind: str = "sweep", **fields):
    body = {"kind": kind, "strategy": "sma_cross", "data": {"symbol": "SPX"}, **fields}
    return TypeAdapter(specs.JobSpec).validate_python(body)


def test_the_executor_follows_the_estimated_size_of_the_job(run_main):  # noqa: F811
    run_main("data", "list")  # the store of this folder, filled with the sample
    spec = _spec(space={"fast": {"low": 2, "high": 100, "step": 1}, "slow": {"low": 5, "high": 400, "step": 1}})
    checked = specs.check(spec)
    per_run = where.seconds_per_run(checked)
    assert 0 < per_run < 1
    small = where.choose(dataclasses.replace(checked, items=100), None, 0, None)
    assert small.address == "local-threads" and "threads in this process" in str(small)
    huge = int(runtime.LOCAL_SECONDS * 100 / per_run)  # about 100x what threads take in the limit, per core
    big = where.choose(dataclasses.replace(checked, items=huge * runtime.local_cpus()), None, 0, None)
    assert big.address is None and "a local Ray" in str(big)
    assert where.choose(checked, "auto", 0, None).address == "auto"
    assert where.choose(checked, "local", 0, None).address is None  # a local Ray, whatever the size
    assert (runtime.choose(None, 1.0), runtime.choose(None, 1e3), runtime.choose("ray://h:1", 1.0)) == (
        "local-threads",
        None,
        "ray://h:1",
    )


class _ColdFirstRun(strategies.SmaCross):
    """SMA cross whose first call in the process is slow, as a cold start on a busy machine is."""

    cold = True

    @classmethod
    def _warm_up(cls):
        if cls.cold:
            cls.cold = False
            time.sleep(COLD_SECONDS)

    def signals(self, bars, fast, slow, short):
        self._warm_up()
        return super().signals(bars, fast, slow, short)

    def signals_many(self, bars, param_sets):
        self._warm_up()
        return super().signals_many(bars, param_sets)


COLD_SECONDS = 0.5


def test_a_cold_first_run_does_not_make_a_small_job_look_large(run_main):  # noqa: F811
    """The estimate behind the executor's choice times a vectorized run again when the first
    looks slow: a cold first run (0.5 s here) once made a 5-second job start a local Ray."""
    run_main("data", "list")
    checked = specs.check(
        _spec(space={"fast": {"low": 2, "high": 10, "step": 1}, "slow": {"low": 20, "high": 40, "step": 1}})
    )
    per_run = where.seconds_per_run(dataclasses.replace(checked, strategy=_ColdFirstRun))
    assert not _ColdFirstRun.cold  # the slow first call happened inside the estimate ...
    assert per_run < COLD_SECONDS / 5  # ... and is not what it reports


def test_ray_logs_stay_quiet_unless_debug():
    runtime.set_logging(logging.ERROR)
    try:
        assert logging.getLogger("ray").level == logging.ERROR
        assert runtime._log_level == logging.ERROR and runtime._log_to_driver is False
        runtime.set_logging(logging.INFO, to_driver=True)
        assert runtime._log_to_driver is True
    finally:
        runtime.set_logging()


def test_rerunning_a_finished_checkpoint_needs_no_workers(cli: Cli):  # noqa: F811
    words = ("sweep", *SMA_SPX, "--space", "fast=5:50:5", "slow=60:200:20", "--checkpoint", "done", "--json")
    first = cli(*words)
    again = cli(*words)
    assert "its checkpoint holds every run" in again.err
    assert again.json()["rows"] == first.json()["rows"]


# -- strategy files ---------------------------------------------------------------------------
def test_your_own_strategy_file_is_ordinary_python(cli: Cli):  # noqa: F811
    (cli.folder / "ordinary.py").write_text(ORDINARY)
    doc = cli("sweep", "-s", "ordinary.py", "--symbol", "SPX", "--space", "window=10,20", *LOCAL, "--json").json()
    assert [r["error"] for r in doc["rows"]] == [None, None]
    close = pd.Series(_spx_close(cli))  # the same rule, computed here
    want = (close > close.rolling(10).mean()).astype("int8").to_numpy()
    got = engine.backtest(_spx(cli), want, engine.Config())
    assert doc["rows"][0]["total_return"] == pytest.approx(got.stats["total_return"], rel=1e-12)
    checked = cli(
        "sweep", "-s", "ordinary.py", "--symbol", "SPX", "--space", "window=10,20", *LOCAL, "--sandbox", ok=False
    )
    assert checked.status == 1 and "import pandas" in checked.error_line()


def test_a_strategy_file_that_fails_to_load_names_its_file_and_line(run_main, main_folder):  # noqa: F811
    (main_folder / "broken.py").write_text(BROKEN)
    ran = run_main("backtest", "-s", "broken.py", "--symbol", "SPX")
    assert ran.status == 1
    line = ran.error_line()
    assert "broken.py:4: ZeroDivisionError: division by zero" in line


def _spx(cli: Cli) -> engine.Bars:  # noqa: F811
    with engine.Store(cli.env["ANVIL_DB"], read_only=True) as store:
        return store.bars("SPX", "1d")


def _spx_close(cli: Cli) -> np.ndarray:  # noqa: F811
    return np.asarray(_spx(cli).close)


# -- Monte Carlo: a run with no value has no p-value -----------------------------------------
def test_a_monte_carlo_whose_real_run_never_trades_says_so_and_counts_the_nan_paths(cli: Cli, run_main, main_folder):  # noqa: F811
    cli("data", "list")  # the store of that folder, filled with the same sample
    level = float(_spx_close(cli).max())
    (main_folder / "never.py").write_text(NEVER)
    words = ("monte-carlo", "-s", "never.py", "--symbol", "SPX", "-p", f"level={level}", "-n", "40", "--seed", "3")
    doc = json.loads(run_main(*words, *LOCAL, "--json").out)
    assert doc["summary"]["p_value"] is None and doc["summary"]["method"] == "permutation"
    sharpe = np.array([np.nan if r["sharpe"] is None else r["sharpe"] for r in doc["rows"]])
    nan_paths = int(np.isnan(sharpe).sum())
    assert doc["summary"]["nan_paths"] == nan_paths and 0 < nan_paths < 40  # some paths traded
    head = run_main(*words, *LOCAL).out.splitlines()[1]
    assert head == (
        f"40 paths; real sharpe NaN, p-value NaN (the real run's sharpe is NaN, e.g. it never traded); "
        f"{nan_paths} paths with sharpe NaN, left out"
    )


# -- errors quote the value at fault ---------------------------------------------------------
@pytest.mark.parametrize(
    ("space", "says"),
    [
        ("fast=5,10,x", "--space fast=5,10,x: parameter 'fast' must be a number, not 'x'"),
        ("fast=5:500", "--space fast=5:500: parameter 'fast' is 500; it must lie in [2, 100]"),
    ],
)
def test_a_space_value_outside_the_schema_is_quoted(run_main, space, says):  # noqa: F811
    ran = run_main("sweep", "-s", "sma_cross", "--symbol", "SPX", "--space", space, "--dry-run")
    assert ran.status == 1
    assert says in ran.error_line()


# -- backtest files and benchmark -----------------------------------------------------------------
def test_backtest_writes_equity_and_trades_and_shows_buy_and_hold(cli: Cli):  # noqa: F811
    files = ("--equity", "eq.csv", "--trades", "trades.parquet", "--out", "out.csv")
    ran = cli("backtest", *SMA_SPX, "-p", "fast=10", "slow=50", *files)
    bars = _spx(cli)
    equity = pd.read_csv(cli.folder / "eq.csv")
    trades = pd.read_parquet(cli.folder / "trades.parquet")
    res = strategies.run(strategies.SmaCross, bars, engine.Config(), {"fast": 10, "slow": 50})
    assert list(equity.columns) == ["ts", "equity"] and len(equity) == len(bars)
    np.testing.assert_allclose(equity["equity"].to_numpy(), res.equity.to_numpy(), rtol=1e-12)
    assert len(trades) == len(res.trades) == len(pd.read_csv(cli.folder / "out.csv"))
    close = np.asarray(bars.close)
    held = close / close[0]
    peak = np.maximum.accumulate(held)
    line = next(x for x in ran.out.splitlines() if x.startswith("buy and hold: "))
    assert f"total_return {(held[-1] - 1) * 100:.2f}%" in line
    assert f"max_drawdown {np.max(1 - held / peak) * 100:.2f}%" in line
    assert "sharpe " in line


def test_backtest_json_carries_the_buy_and_hold_benchmark(cli: Cli, run_main):  # noqa: F811
    doc = json.loads(run_main("backtest", "-s", "sma_cross", "--symbol", "SPX", "--json").out)
    held = doc["summary"]["buy_and_hold"]
    assert set(held) == {"total_return", "annual_return", "sharpe", "max_drawdown"}
    bars = _spx(cli)  # the same sample; the benchmark's figures by hand, from the README's definitions
    close = np.asarray(bars.close)
    r = np.diff(close, prepend=close[0]) / np.r_[close[0], close[:-1]]  # the first bar: equity = initial
    ppy = bars.periods_per_year()
    assert held["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * np.sqrt(ppy), rel=1e-9)
    assert held["total_return"] == pytest.approx(close[-1] / close[0] - 1, rel=1e-12)
    assert held["annual_return"] == pytest.approx((close[-1] / close[0]) ** (ppy / len(close)) - 1, rel=1e-9)


# -- progress --------------------------------------------------------------------------------
def test_a_resumed_jobs_bar_starts_at_the_runs_already_kept(tmp_path):
    from api.cli import progress
    from cluster.tasks import Progress

    out = tmp_path / "bar.txt"
    with open(out, "w") as f:
        bar = progress.Bar("sweep x", already=30)
        import sys

        real, sys.stderr = sys.stderr, f
        try:
            bar(Progress(0, 100))
            assert (bar._bar.n, bar._bar.total) == (30, 100)
            bar(Progress(70, 100, failed=2, best={"item_id": 1, "sharpe": 0.5}))
            assert bar._bar.n == 100
            bar.close()
        finally:
            sys.stderr = real
    text = out.read_text()
    assert "planning" not in text and "sweep: " not in text  # no plan note inside the bar
    assert "100/100" in text


def test_ctrl_c_says_that_the_same_command_resumes():
    from api.cli import run

    assert "the same command resumes" in run._interrupted({"checkpoint": "ckpt"})
    assert "--checkpoint DIR" in run._interrupted({"checkpoint": None})


def test_ctrl_c_stops_a_sweep_and_the_same_command_resumes_it(cli: Cli):  # noqa: F811
    """A real Ctrl-C (SIGINT) to a running ``anvil sweep``: exit 130, the last line says
    that the same command resumes, and it does (the kept runs are not run again)."""
    from api.cli import progress

    (cli.folder / "slow.py").write_text(SLOW)
    folder = cli.folder / "interrupted"
    words = ("sweep", "-s", "slow.py", "--symbol", "SPX", "--space", "window=2:101", *LOCAL)
    words += ("--checkpoint", "interrupted", "--json")
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", *words],
        env={**cli.env, "SLOW": "0.3"},
        cwd=cli.folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while not any(folder.glob("chunk-*.parquet")):  # some runs kept, many to go
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert out == ""
    assert err.strip().splitlines()[-1] == (
        "anvil: error: interrupted; the finished runs are in interrupted: the same command resumes from there"
    )
    kept = progress.stored_runs(str(folder))
    assert 0 < kept < 100
    before = {p.name: p.stat().st_mtime_ns for p in folder.glob("chunk-*.parquet")}
    again = cli(*words)  # $SLOW unset: the rest runs at once
    assert {p.name: p.stat().st_mtime_ns for p in folder.glob("chunk-*.parquet") if p.name in before} == before
    assert sorted(r["window"] for r in again.json()["rows"]) == list(range(2, 102))
    assert all(r["error"] is None for r in again.json()["rows"])


def test_a_checkpoint_counts_its_runs(cli: Cli):  # noqa: F811
    from api.cli import progress

    cli("sweep", *SMA_SPX, "--space", "fast=5:50:5", "slow=60:200:20", *LOCAL, "--checkpoint", "counted", "-q")
    assert progress.stored_runs(str(cli.folder / "counted")) == 80
    assert progress.stored_runs(str(cli.folder / "nowhere")) == 0
