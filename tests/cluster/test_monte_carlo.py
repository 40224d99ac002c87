"""cluster.monte_carlo: permuted paths, bootstraps, p-values and intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cluster
import strategies
from cluster.monte_carlo import permuted_bars, resample
from strategies import Float, Strategy
from tests.cluster.conftest import COST, SmaX

PARAMS = {"fast": 10, "slow": 50}


def test_a_permuted_path_keeps_the_bar_relatives_and_total_drift(small_bars):
    path = permuted_bars(small_bars, np.random.default_rng([1, 2]))
    assert len(path) == len(small_bars)
    np.testing.assert_array_equal(path.ts, small_bars.ts)

    def relatives(b):
        o, h, lo, c = (np.log(x) for x in b.prices)
        return np.sort(h[1:] - o[1:]), np.sort(c[1:] - o[1:]), np.sort(o[1:] - c[:-1])

    for mine, theirs in zip(relatives(path), relatives(small_bars)):
        np.testing.assert_allclose(mine, theirs, atol=1e-9)
    assert path.close[-1] == pytest.approx(small_bars.close[-1], rel=1e-9)
    assert not np.allclose(path.close, small_bars.close)


def test_paths_depend_only_on_seed_and_index(small_bars):
    a = permuted_bars(small_bars, np.random.default_rng([7, 3])).close
    b = permuted_bars(small_bars, np.random.default_rng([7, 3])).close
    c = permuted_bars(small_bars, np.random.default_rng([7, 4])).close
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_block_resampling_keeps_runs_of_returns():
    values = np.arange(100.0)
    out = resample(values, np.random.default_rng(0), block=10)
    assert len(out) == 100
    steps = np.diff(out)
    assert np.mean((steps == 1) | (steps == -99)) >= 0.85  # mostly consecutive inside blocks


def test_permutation_p_value_and_worker_independence(small_bars):
    a = cluster.monte_carlo(SmaX, PARAMS, small_bars, n=60, seed=4, config=COST, address="local-threads", workers=2)
    b = cluster.monte_carlo(SmaX, PARAMS, small_bars, n=60, seed=4, config=COST, address="local-threads", workers=1)
    pd.testing.assert_frame_equal(a.paths, b.paths)
    better = int((a.paths["sharpe"] >= a.real["sharpe"]).sum())
    assert a.p_value == pytest.approx((1 + better) / 61)
    assert list(a.paths["path"]) == list(range(60))


@pytest.mark.parametrize("method", ["bootstrap", "block_bootstrap"])
def test_bootstrap_intervals_bracket_the_real_run(small_bars, method):
    res = cluster.monte_carlo(
        SmaX, PARAMS, small_bars, n=300, method=method, seed=1, config=COST, address="local-threads"
    )
    lo, hi = res.intervals["final_equity"]
    assert lo < res.real["final_equity"] < hi
    lo_dd, hi_dd = res.intervals["max_drawdown"]
    assert 0 <= lo_dd <= hi_dd
    assert res.p_value is None and len(res.paths) == 300


def test_bootstrap_of_trades(small_bars):
    res = cluster.monte_carlo(
        SmaX, PARAMS, small_bars, n=100, method="bootstrap", of="trades", config=COST, address="local-threads"
    )
    assert res.intervals["total_return"][0] < res.intervals["total_return"][1]


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"method": "shuffle"}, "method must be one of"),
        ({"n": 0}, "n must be"),
        ({"of": "bars"}, "of must be"),
        ({"params": {"fats": 3}}, "did you mean 'fast'"),
    ],
)
def test_bad_requests_are_explained(small_bars, bad, message):
    args = {"params": PARAMS, "n": 10, "method": "permutation", **bad}
    with pytest.raises(ValueError, match=message):
        cluster.monte_carlo(SmaX, args.pop("params"), small_bars, address="local-threads", **args)


# -- statistics that read right (issue 13, item 6) -------------------------------------


class AboveLevel(Strategy):
    """Long while the close is above ``level``: on the real series, set above its
    highest close, it never trades; a permuted path may climb there."""

    level = Float(1.0, 0.0, 1e9)

    def signals(self, bars, level):
        return np.where(bars.close > level, 1, 0).astype(np.int8)


def test_a_real_run_that_never_trades_has_no_p_value(small_bars):
    level = float(small_bars.close.max())
    res = cluster.monte_carlo(
        AboveLevel, {"level": level}, small_bars, n=40, seed=3, config=COST, address="local-threads"
    )
    assert res.real["total_trades"] == 0 and np.isnan(res.real["sharpe"])
    sharpe = res.paths["sharpe"].to_numpy()
    assert np.isfinite(sharpe).any()  # some paths did trade: before, p was 1 / (1 + #those)
    assert np.isnan(res.p_value)
    assert res.nan_paths == int(np.isnan(sharpe).sum()) > 0
    assert "NaN" in repr(res) and f"{res.nan_paths} paths" in repr(res)


def test_paths_that_never_trade_are_counted_and_left_out_of_the_p_value(small_bars):
    level = float(np.quantile(small_bars.close, 0.9))
    res = cluster.monte_carlo(
        AboveLevel, {"level": level}, small_bars, n=40, seed=3, config=COST, address="local-threads"
    )
    sharpe = res.paths["sharpe"].to_numpy()
    defined = sharpe[~np.isnan(sharpe)]
    assert 0 < res.nan_paths == len(sharpe) - len(defined)
    assert res.p_value == (1 + np.sum(defined >= res.real["sharpe"])) / (1 + len(defined))


@pytest.mark.parametrize("method", ["bootstrap", "block_bootstrap"])
def test_trade_bootstrap_is_annualised_with_trades_per_year(small_bars, method):
    n, seed = 50, 5
    res = cluster.monte_carlo(
        SmaX,
        PARAMS,
        small_bars,
        n=n,
        method=method,
        of="trades",
        seed=seed,
        block=3,
        config=COST,
        address="local-threads",
    )
    real = strategies.run(SmaX, small_bars, COST, PARAMS)
    trades = real.trades["return"].to_numpy()
    years = len(small_bars) / small_bars.periods_per_year()
    per_year = len(trades) / years
    assert res.periods_per_year == pytest.approx(per_year)
    assert per_year < small_bars.periods_per_year() / 20  # a trade spans weeks, not a bar
    for i in range(n):  # each path rebuilt here from (seed, i), then its statistics by hand
        rng = np.random.default_rng([seed, i])
        if method == "bootstrap":
            r = trades[rng.integers(0, len(trades), len(trades))]
        else:
            starts = rng.integers(0, len(trades), -(-len(trades) // 3))
            r = trades[(starts[:, None] + np.arange(3)).ravel()[: len(trades)] % len(trades)]
        row = res.paths.iloc[i]
        assert row["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * np.sqrt(per_year), rel=1e-9)
        assert row["volatility"] == pytest.approx(r.std(ddof=1) * np.sqrt(per_year), rel=1e-9)
        growth = np.prod(1 + r)
        assert row["annual_return"] == pytest.approx(growth ** (1 / years) - 1, rel=1e-9)
    lo, hi = res.intervals["sharpe"]
    q = np.quantile(res.paths["sharpe"], [0.025, 0.975])
    assert (lo, hi) == pytest.approx(tuple(q))
