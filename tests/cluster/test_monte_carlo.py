"""cluster.monte_carlo: permuted paths, bootstraps, p-values and intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cluster
from cluster.monte_carlo import permuted_bars, resample
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
    a = cluster.monte_carlo(SmaX, PARAMS, small_bars, n=60, seed=4, config=COST,
                            address="local-threads", workers=2)  # fmt: skip
    b = cluster.monte_carlo(SmaX, PARAMS, small_bars, n=60, seed=4, config=COST,
                            address="local-threads", workers=1)  # fmt: skip
    pd.testing.assert_frame_equal(a.paths, b.paths)
    better = int((a.paths["sharpe"] >= a.real["sharpe"]).sum())
    assert a.p_value == pytest.approx((1 + better) / 61)
    assert list(a.paths["path"]) == list(range(60))


@pytest.mark.parametrize("method", ["bootstrap", "block_bootstrap"])
def test_bootstrap_intervals_bracket_the_real_run(small_bars, method):
    res = cluster.monte_carlo(SmaX, PARAMS, small_bars, n=300, method=method, seed=1, config=COST,
                              address="local-threads")  # fmt: skip
    lo, hi = res.intervals["final_equity"]
    assert lo < res.real["final_equity"] < hi
    lo_dd, hi_dd = res.intervals["max_drawdown"]
    assert 0 <= lo_dd <= hi_dd
    assert res.p_value is None and len(res.paths) == 300


def test_bootstrap_of_trades(small_bars):
    res = cluster.monte_carlo(SmaX, PARAMS, small_bars, n=100, method="bootstrap", of="trades",
                              config=COST, address="local-threads")  # fmt: skip
    assert res.intervals["total_return"][0] < res.intervals["total_return"][1]


@pytest.mark.parametrize("bad, message", [({"method": "shuffle"}, "method must be one of"),
                                          ({"n": 0}, "n must be"), ({"of": "bars"}, "of must be"),
                                          ({"params": {"fats": 3}}, "did you mean 'fast'")])  # fmt: skip
def test_bad_requests_are_explained(small_bars, bad, message):
    args = {"params": PARAMS, "n": 10, "method": "permutation", **bad}
    with pytest.raises(ValueError, match=message):
        cluster.monte_carlo(SmaX, args.pop("params"), small_bars, address="local-threads", **args)
