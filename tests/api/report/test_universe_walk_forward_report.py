"""The report of a walk-forward over a universe (an ``engine.Panel``): every section
renders, the benchmark is an equal-weight basket over the same out-of-sample bars, and
the CLI writes it (``anvil walk-forward --symbols ... --report``) and prints its table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import cluster
import engine
import strategies
from api import report, specs
from api.cli import report as cli_report
from tests.api.conftest_cli import main_folder, run_main  # noqa: F401 (fixtures)
from tests.api.report.conftest import trace

MOM = "cross_sectional_momentum"


@pytest.fixture(scope="module")
def universe_wf():
    panel = engine.sample_panel()
    return cluster.walk_forward(
        strategies.get_strategy(MOM),
        panel,
        {"lookback": [60, 120], "top_k": [1, 2]},
        500,
        250,
        address="local-threads",
        workers=2,
    )


def test_every_section_of_a_universe_walk_forward_renders(universe_wf):
    assert isinstance(universe_wf.bars, engine.Panel)
    rep = report.build(universe_wf)
    assert [s.key for s in rep.sections] == ["timeline", "is_oos", "equity", "params", "windows", "stats", "provenance"]
    page = report.html(universe_wf)
    assert page.startswith("<!DOCTYPE html>") and "equal-weight buy and hold" in page
    wf = trace(rep.section("equity").figure, "walk-forward (out of sample)")
    assert wf.y[-1] == pytest.approx(universe_wf.equity.iloc[-1])


def test_the_benchmark_is_an_equal_weight_basket_over_the_same_bars(universe_wf):
    """Written from the rule: at each out-of-sample bar, the mean close-to-close move of
    the symbols with a price on both bars, compounded from the initial capital."""
    hold = trace(report.build(universe_wf).section("equity").figure, "equal-weight buy and hold (same bars)")
    panel = universe_wf.bars
    close = panel.close
    where = {t: i for i, t in enumerate(panel.index)}
    value = 10_000.0
    for t in universe_wf.equity.index:
        i = where[t]
        moves = [
            close[i, j] / close[i - 1, j] - 1.0
            for j in range(close.shape[1])
            if i > 0 and np.isfinite(close[i, j]) and np.isfinite(close[i - 1, j]) and close[i - 1, j] > 0
        ]
        value *= 1.0 + (sum(moves) / len(moves) if moves else 0.0)
    assert len(universe_wf.equity) > 1000  # thinning keeps the last point
    assert hold.y[-1] == pytest.approx(value, rel=1e-9)


def test_the_cli_text_report_of_a_universe_walk_forward(universe_wf):
    text = cli_report.text("walk_forward", specs.summary(universe_wf), universe_wf.windows, metric="sharpe", top=None)
    assert f"{len(universe_wf.windows)} windows" in text
    assert "top_k" in text and "efficiency" in text


def test_the_cli_writes_a_universe_walk_forward_report(run_main, main_folder: Path):
    ran = run_main(
        "walk-forward",
        "-s",
        MOM,
        "--symbols",
        "SPX,IXIC",
        "--start",
        "2008-01-01",
        "--space",
        "lookback=60,120",
        "top_k=1",
        "--train",
        "500",
        "--test",
        "250",
        "--address",
        "local-threads",
        "--report",
        "wf.html",
    )
    assert ran.status == 0, ran.err
    assert "windows" in ran.out
    page = (main_folder / "wf.html").read_text()
    assert "Walk-forward" in page and "equal-weight buy and hold" in page
