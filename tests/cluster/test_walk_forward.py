"""cluster.walk_forward: windows, choices made in sample only, the stitched curve."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cluster
import engine
from cluster.walk_forward import windows
from tests.cluster.conftest import COST, SmaX

SPACE = {"fast": [5, 10, 20], "slow": [40, 80]}
DAY = 86_400 * 10**9


def test_rolling_windows_step_by_the_test_length():
    ts = np.arange(1000, dtype=np.int64) * DAY
    w = windows(ts, 300, 100)
    assert [(x.train_start, x.train_end, x.test_start, x.test_end) for x in w[:2]] == [
        (0, 300, 300, 400), (100, 400, 400, 500)]  # fmt: skip
    assert w[-1].test_end == 1000 and len(w) == 7


def test_anchored_windows_embargo_and_step():
    ts = np.arange(1000, dtype=np.int64) * DAY
    w = windows(ts, 300, 100, step=200, anchored=True, embargo=5)
    assert [(x.train_start, x.train_end, x.test_start, x.test_end) for x in w] == [
        (0, 300, 305, 405), (0, 500, 505, 605), (0, 700, 705, 805), (0, 900, 905, 1000)]  # fmt: skip


def test_durations_become_bar_counts():
    ts = np.arange(1000, dtype=np.int64) * DAY
    w = windows(ts, "200D", "50D")
    assert (w[0].train_end, w[0].test_end) == (200, 250)


@pytest.mark.parametrize("bad, message", [({"train": 0}, "train must be >= 1"),
                                          ({"embargo": -1}, "embargo"),
                                          ({"train": 2000}, "no window fits"),
                                          ({"test": "soon"}, "a duration like")])  # fmt: skip
def test_bad_windows_are_explained(bad, message):
    ts = np.arange(1000, dtype=np.int64) * DAY
    args = {"train": 300, "test": 100, **bad}
    with pytest.raises(ValueError, match=message):
        windows(ts, **args)


def test_each_window_picks_its_best_in_sample_and_trades_it_out_of_sample(sp500_bars):
    bars = sp500_bars[-2500:]
    res = cluster.walk_forward(SmaX, bars, SPACE, train=750, test=250, config=COST,
                               address="local-threads", workers=2)  # fmt: skip
    assert len(res.windows) == 7
    cfg = COST.replace(periods_per_year=bars.periods_per_year())
    for _, w in res.windows.iterrows():
        train = res.train_table[res.train_table["window"] == w["window"]]
        assert w["is_sharpe"] == train["sharpe"].max()  # chosen on the train part only
        lo = int(np.searchsorted(bars.index, w["test_start"]))
        hi = int(np.searchsorted(bars.index, w["test_end"])) + 1
        signal = SmaX().signals(bars[:hi], fast=int(w["fast"]), slow=int(w["slow"]))[lo:hi]
        direct = engine.backtest(bars[lo:hi], signal, cfg)
        assert w["oos_sharpe"] == pytest.approx(direct.stats["sharpe"], rel=1e-12, nan_ok=True)
    # The stitched curve compounds every test window and covers exactly their bars.
    assert len(res.equity) == sum(1 for _ in range(750, 2500))
    first = res.windows.iloc[0]
    assert res.equity.index[0] == first["test_start"]
    growth = np.prod(1 + res.windows["oos_total_return"].to_numpy())
    assert res.stats["final_equity"] == pytest.approx(COST.initial_capital * growth, rel=1e-9)
    assert res.stats["total_trades"] == res.windows["oos_total_trades"].sum()
    assert np.isfinite(res.efficiency)


def test_walk_forward_resumes_from_its_output(sp500_bars, tmp_path):
    bars = sp500_bars[-1500:]
    a = cluster.walk_forward(SmaX, bars, SPACE, 500, 250, config=COST, out=tmp_path,
                             address="local-threads")  # fmt: skip
    b = cluster.walk_forward(SmaX, bars, SPACE, 500, 250, config=COST, out=tmp_path,
                             address="local-threads")  # fmt: skip
    assert b.run.done_items == 0  # everything was already stored
    pd.testing.assert_frame_equal(a.windows, b.windows)
    pd.testing.assert_series_equal(a.equity, b.equity)


def test_a_walk_forward_cancelled_at_once_returns_what_it_has(sp500_bars):
    import threading

    cancel = threading.Event()
    cancel.set()
    res = cluster.walk_forward(SmaX, sp500_bars[-1500:], SPACE, 500, 250, config=COST, cancel=cancel,
                               address="local-threads")  # fmt: skip
    assert res.run.cancelled and res.train_table.empty and len(res.equity) == 0
