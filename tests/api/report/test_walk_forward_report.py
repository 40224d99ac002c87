"""The walk-forward report: windows, chosen parameters, in- against out-of-sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from api import report
from tests.api.report.conftest import trace


def test_stitched_equity_is_the_results(walk_forward, wf_report):
    fig = wf_report.section("equity").figure
    wf = trace(fig, "walk-forward (out of sample)")
    assert wf.y[-1] == pytest.approx(walk_forward.equity.iloc[-1])
    assert wf.y[-1] == pytest.approx(walk_forward.stats["final_equity"])


def test_buy_and_hold_covers_the_same_bars(walk_forward, wf_report):
    fig = wf_report.section("equity").figure
    hold = trace(fig, "buy and hold (same bars)")
    bars = walk_forward.bars
    close = pd.Series(bars.close, index=bars.index)
    # compounding the close-to-close moves of the out-of-sample bars only
    eq = walk_forward.equity
    pos = np.searchsorted(bars.index, eq.index)
    want = 10_000.0 * np.prod(close.to_numpy()[pos] / close.to_numpy()[pos - 1])
    assert hold.y[-1] == pytest.approx(want)


def test_timeline_has_train_embargo_and_test_for_every_window(walk_forward, wf_report):
    fig = wf_report.section("timeline").figure
    names = [t.name for t in fig.data]
    assert names == ["train", "embargo", "test"]
    assert all(len(t.y) == len(walk_forward.windows) for t in fig.data)


def test_the_embargo_is_the_bars_the_windows_skip(walk_forward, wf_report):
    embargo = trace(wf_report.section("timeline").figure, "embargo")
    assert list(embargo.customdata) == [5] * len(walk_forward.windows)  # the fixture's embargo=5
    index = walk_forward.bars.index
    for _, w in walk_forward.windows.iterrows():  # the skipped bars lie between train and test
        between = index[(index > w["train_end"]) & (index < w["test_start"])]
        assert len(between) == 5


def test_without_an_embargo_the_timeline_draws_none(sp500_bars, sma):
    import cluster

    from tests.api.report.conftest import CONFIG

    res = cluster.walk_forward(
        sma, sp500_bars, {"fast": [10, 20], "slow": [100]}, 1000, 500, config=CONFIG, address="local-threads"
    )
    fig = report.build(res).section("timeline").figure
    assert [t.name for t in fig.data] == ["train", "test"]  # the one-bar step from train to test is no embargo
    res.bars = None  # known from the manifest's windows as well
    assert [t.name for t in report.build(res).section("timeline").figure.data] == ["train", "test"]


def test_in_and_out_of_sample_bars_are_the_windows_metrics(walk_forward, wf_report):
    fig = wf_report.section("is_oos").figure
    w = walk_forward.windows
    assert list(trace(fig, "in-sample").y) == pytest.approx(w["is_sharpe"].tolist(), nan_ok=True)
    assert list(trace(fig, "out-of-sample").y) == pytest.approx(w["oos_sharpe"].tolist(), nan_ok=True)


def test_chosen_parameters_per_window(walk_forward, wf_report):
    fig = wf_report.section("params").figure
    assert list(trace(fig, "fast").y) == walk_forward.windows["fast"].tolist()


def test_efficiency_is_in_the_headline(walk_forward, check_document, wf_report):
    rep = wf_report
    assert dict(rep.headline)["efficiency"] == report._display.fmt(walk_forward.efficiency)
    check_document(report.render(rep))
