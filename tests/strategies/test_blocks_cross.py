"""Cross-sectional blocks (C core) against loops written from their docstrings.

Matrices come from hypothesis with NaN cells, late listings (leading NaN
columns), delistings (trailing NaN) and ties, since those are where a
cross-sectional rule is easy to get wrong.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from strategies import blocks

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)


@st.composite
def matrices(draw, max_bars: int = 12, max_syms: int = 6, positive: bool = False) -> np.ndarray:
    n = draw(st.integers(1, max_bars))
    m = draw(st.integers(1, max_syms))
    lo = 0.5 if positive else -3.0
    # a few distinct values, so ties are common
    values = st.sampled_from([lo, 1.0, 1.5, 2.0, 2.5, 3.0]) | st.floats(lo, 5.0, allow_nan=False)
    a = np.array(draw(st.lists(values, min_size=n * m, max_size=n * m)), dtype=float).reshape(n, m)
    holes = np.array(draw(st.lists(st.booleans(), min_size=n * m, max_size=n * m))).reshape(n, m)
    a[holes & draw(st.booleans())] = np.nan
    for j in range(m):  # late listings and delistings
        first = draw(st.integers(0, n))
        last = draw(st.integers(first, n))
        a[:first, j] = np.nan
        a[last:, j] = np.nan if draw(st.booleans()) else a[last:, j]
    return a


def finite(row: np.ndarray) -> list[int]:
    return [j for j, v in enumerate(row) if math.isfinite(v)]


# -- rank, top-k, z-score ---------------------------------------------------------------


def rank_loop(x: np.ndarray) -> np.ndarray:
    out = np.full(x.shape, np.nan)
    for t, row in enumerate(x):
        for j in finite(row):
            below = sum(1 for q in finite(row) if row[q] < row[j])
            equal = sum(1 for q in finite(row) if row[q] == row[j])
            out[t, j] = below + (equal + 1) / 2  # mean of ranks below+1 .. below+equal
    return out


@SETTINGS
@given(matrices())
def test_rank_matches_the_rule(x):
    np.testing.assert_array_equal(blocks.rank(x), rank_loop(x))
    want = pd.DataFrame(x).rank(axis=1, method="average").to_numpy()
    np.testing.assert_array_equal(blocks.rank(x), want)
    pct = pd.DataFrame(x).rank(axis=1, method="average", pct=True).to_numpy()
    np.testing.assert_allclose(blocks.rank(x, pct=True), pct, rtol=1e-15)


def top_loop(x: np.ndarray, k: int, largest: bool) -> np.ndarray:
    out = np.zeros(x.shape, bool)
    for t, row in enumerate(x):
        order = sorted(finite(row), key=lambda j: (-row[j] if largest else row[j], j))
        out[t, order[:k]] = True
    return out


@SETTINGS
@given(matrices(), st.integers(0, 7))
def test_top_and_bottom_k_match_the_rule(x, k):
    np.testing.assert_array_equal(blocks.top_k(x, k), top_loop(x, k, True))
    np.testing.assert_array_equal(blocks.bottom_k(x, k), top_loop(x, k, False))


def test_top_k_ties_go_to_the_lower_column():
    x = np.array([[1.0, 2.0, 2.0, np.nan, 2.0]])
    assert blocks.top_k(x, 2).tolist() == [[False, True, True, False, False]]
    assert blocks.bottom_k(x, 2).tolist() == [[True, True, False, False, False]]


@SETTINGS
@given(matrices())
def test_zscore_matches_the_rule(x):
    want = np.full(x.shape, np.nan)
    for t, row in enumerate(x):
        cols = finite(row)
        if not cols:
            continue
        vals = [row[j] for j in cols]
        mean = sum(vals) / len(vals)
        sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / len(vals))
        for j in cols:
            want[t, j] = (row[j] - mean) / sd if sd > 0 else 0.0
    np.testing.assert_allclose(blocks.zscore(x), want, rtol=1e-12, atol=1e-12)


# -- weights ----------------------------------------------------------------------------


@SETTINGS
@given(matrices(), st.integers(0, 7))
def test_equal_weight_over_a_mask(x, k):
    mask = blocks.top_k(x, k)
    want = np.zeros(x.shape)
    for t in range(len(x)):
        chosen = np.flatnonzero(mask[t])
        want[t, chosen] = 1.0 / len(chosen) if len(chosen) else 0.0
    np.testing.assert_array_equal(blocks.equal_weight(mask), want)


@SETTINGS
@given(matrices(positive=True))
def test_inverse_vol_matches_the_rule(vol):
    vol = vol - 0.5  # zeros and negatives too: they do not qualify
    mask = np.isfinite(vol) & (np.arange(vol.shape[1]) % 2 == 0)
    want = np.zeros(vol.shape)
    wm = np.zeros(vol.shape)
    for t, row in enumerate(vol):
        ok = [j for j in finite(row) if row[j] > 0]
        total = sum(1 / row[j] for j in ok)
        for j in ok:
            want[t, j] = (1 / row[j]) / total
        okm = [j for j in ok if mask[t, j]]
        total = sum(1 / row[j] for j in okm)
        for j in okm:
            wm[t, j] = (1 / row[j]) / total
    np.testing.assert_allclose(blocks.inverse_vol(vol), want, rtol=1e-12)
    np.testing.assert_allclose(blocks.inverse_vol(vol, mask), wm, rtol=1e-12)


@SETTINGS
@given(matrices(max_bars=20, positive=True), st.integers(1, 5))
def test_rolling_vol_matches_the_rule(close, period):
    r = blocks.returns(close)
    want = np.full(close.shape, np.nan)
    for j in range(close.shape[1]):
        for t in range(len(close)):
            if t + 1 < period:
                continue
            window = [r[q, j] for q in range(t - period + 1, t + 1)]
            if all(math.isfinite(v) for v in window):
                mean = sum(window) / period
                want[t, j] = math.sqrt(sum((v - mean) ** 2 for v in window) / period)
    np.testing.assert_allclose(blocks.rolling_vol(close, period), want, rtol=1e-12, atol=1e-15)


def risk_parity_loop(close: np.ndarray, period: int, iters: int, when) -> np.ndarray:
    r = blocks.returns(close)
    n, m = close.shape
    out = np.full((n, m), np.nan)
    for t in range(n):
        if when is not None and not when[t]:
            continue
        out[t] = 0.0
        if t + 1 < period:
            continue
        cols = [j for j in range(m) if all(math.isfinite(r[q, j]) for q in range(t - period + 1, t + 1))]
        if not cols:
            continue
        k, rows = len(cols), range(t - period + 1, t + 1)
        mean = [sum(r[q, j] for q in rows) / period for j in cols]
        cov = [
            [sum((r[q, cols[a]] - mean[a]) * (r[q, cols[b]] - mean[b]) for q in rows) / period for b in range(k)]
            for a in range(k)
        ]
        if any(cov[a][a] <= 0 for a in range(k)):
            continue
        w = [1 / math.sqrt(cov[a][a]) for a in range(k)]
        w = [x / sum(w) for x in w]
        q = sum(w[a] * cov[a][b] * w[b] for a in range(k) for b in range(k))
        if q > 0 and math.isfinite(q):
            w = [x / math.sqrt(q) for x in w]
        for _ in range(iters):
            for a in range(k):
                s = sum(cov[a][b] * w[b] for b in range(k) if b != a)
                w[a] = (math.sqrt(s * s + 4 * cov[a][a] / k) - s) / (2 * cov[a][a])
        if not math.isfinite(sum(w)):
            continue
        out[t, cols] = [x / sum(w) for x in w]
    return out


@SETTINGS
@given(matrices(max_bars=16, max_syms=4, positive=True), st.integers(2, 5), st.integers(0, 30))
def test_risk_parity_matches_the_rule(close, period, iters):
    when = np.arange(len(close)) % 3 == 0
    np.testing.assert_allclose(
        blocks.risk_parity(close, period, iters), risk_parity_loop(close, period, iters, None), rtol=1e-9, atol=1e-12
    )
    np.testing.assert_allclose(
        blocks.risk_parity(close, period, iters, when),
        risk_parity_loop(close, period, iters, when),
        rtol=1e-9,
        atol=1e-12,
    )


def test_risk_parity_converges_where_correlation_is_strongly_negative():
    # the window that made the old multiplicative update oscillate (session 4's known defect)
    close = np.array(
        [
            [1.00947052, 0.96883622],
            [0.99059232, 0.91739513],
            [0.92928833, 0.94677251],
            [0.95668803, 1.01008199],
            [0.92126438, 1.09909474],
            [0.90812104, 1.18911257],
        ]
    )
    w = blocks.risk_parity(close, 3, iters=200)[-1]
    r = blocks.returns(close)[-3:]
    cov = np.cov(r, rowvar=False, ddof=0)
    rc = w * (cov @ w)
    np.testing.assert_allclose(rc[0], rc[1], rtol=1e-9)
    np.testing.assert_allclose(blocks.risk_parity(close, 3, iters=60)[-1], w, rtol=1e-9)


def test_risk_parity_equalises_risk_contributions():
    rng = np.random.default_rng(7)
    rets = rng.normal(0, [0.01, 0.02, 0.04], size=(300, 3))
    close = 100 * np.cumprod(1 + rets, axis=0)
    w = blocks.risk_parity(close, 250, iters=200)[-1]
    r = blocks.returns(close)[-250:]
    cov = np.cov(r, rowvar=False, ddof=0)
    rc = w * (cov @ w)
    np.testing.assert_allclose(rc / rc.sum(), 1 / 3, rtol=1e-6)
    assert w.sum() == pytest.approx(1.0) and w[0] > w[1] > w[2]


@SETTINGS
@given(matrices(), st.floats(0, 3), st.one_of(st.none(), st.floats(-1, 1)))
def test_normalize_matches_the_rule(w, gross, net_frac):
    # the loop below divides in float64 scalars: a subnormal book would overflow it, not the block
    assume(all(v == 0 or abs(v) > 1e-100 for v in w[np.isfinite(w)]))
    net = None if net_frac is None else net_frac * gross
    want = w.copy()
    for t, row in enumerate(w):
        longs = sum(v for v in row if v > 0)
        shorts = -sum(v for v in row if v < 0)
        if longs + shorts == 0:
            continue
        if net is None:
            kl = ks = gross / (longs + shorts)
        else:
            kl = (gross + net) / 2 / longs if longs > 0 else 0.0
            ks = (gross - net) / 2 / shorts if shorts > 0 else 0.0
        for j, v in enumerate(row):
            want[t, j] = v * kl if v > 0 else (v * ks if v < 0 else v)
    np.testing.assert_allclose(blocks.normalize(w, gross, net), want, rtol=1e-12, atol=1e-15)


def test_normalize_refuses_a_net_beyond_gross():
    with pytest.raises(ValueError, match="net"):
        blocks.normalize(np.ones((2, 2)), gross=1.0, net=1.5)


# -- schedules and rows on rebalance bars -------------------------------------------------


def period_key(ts: pd.Timestamp, kind: str):
    if kind.startswith("week"):
        return (ts - pd.Timedelta(days=ts.weekday())).normalize()
    if kind.startswith("month"):
        return (ts.year, ts.month)
    return (ts.year, (ts.month - 1) // 3)


times = st.lists(st.integers(-10_000, 40_000), min_size=1, max_size=60, unique=True).map(
    lambda hours: np.array(sorted(hours), dtype=np.int64) * 3_600_000_000_000 * 7
)


@SETTINGS
@given(times, st.sampled_from(["week_start", "week_end", "month_start", "month_end", "quarter_start", "quarter_end"]))
def test_calendar_schedules_match_the_rule(ts, kind):
    stamps = [pd.Timestamp(int(t), tz="UTC") for t in ts]
    keys = [period_key(s, kind) for s in stamps]
    if kind.endswith("start"):
        want = [t == 0 or keys[t] != keys[t - 1] for t in range(len(ts))]
    else:
        want = [t + 1 < len(ts) and keys[t + 1] != keys[t] for t in range(len(ts))]
    assert blocks.schedule(ts, kind).tolist() == want


@SETTINGS
@given(st.integers(1, 50), st.integers(1, 9))
def test_every_n_bars(n, every):
    ts = np.arange(n, dtype=np.int64) * 86_400_000_000_000
    assert blocks.schedule(ts, "every_n", every).tolist() == [t % every == 0 for t in range(n)]


def test_schedule_on_real_dates(panel_ts=None):
    idx = pd.bdate_range("2020-01-01", "2020-12-31", tz="UTC")
    ends = blocks.schedule(idx.as_unit("ns").asi8, "month_end")
    assert [d.strftime("%m-%d") for d in idx[ends]][:3] == ["01-31", "02-28", "03-31"]
    assert ends.sum() == 11  # December is not over as far as the data knows
    q = blocks.schedule(idx, "quarter_start")
    assert [d.strftime("%m-%d") for d in idx[q]] == ["01-01", "04-01", "07-01", "10-01"]
    with pytest.raises(ValueError, match="month_end"):
        blocks.schedule(idx, "monthly")


@SETTINGS
@given(matrices(), st.data())
def test_on_rebalance_keeps_rows_only_on_rebalance_bars(w, data):
    when = np.array(data.draw(st.lists(st.booleans(), min_size=len(w), max_size=len(w))), dtype=bool)
    got = blocks.on_rebalance(w, when)
    for t in range(len(w)):
        if when[t]:
            np.testing.assert_array_equal(got[t], w[t])
        else:
            assert np.isnan(got[t]).all()


def test_momentum_skips_recent_bars():
    close = np.array([[1.0], [2.0], [4.0], [8.0], [np.nan], [32.0]])
    got = blocks.momentum(close, lookback=3, skip=1)[:, 0]
    # t=3: close[2] / close[0] - 1 = 3; t=4: close[3] / close[1] - 1 = 3; t=5: close[4] is NaN
    np.testing.assert_array_equal(got, [np.nan, np.nan, np.nan, 3.0, 3.0, np.nan])
    with pytest.raises(ValueError, match="skip"):
        blocks.momentum(close, 3, 3)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="n_bars, n_symbols"):
        blocks.rank(np.ones(3))
    with pytest.raises(TypeError, match="bool"):
        blocks.equal_weight(np.ones((2, 2)))
    with pytest.raises(ValueError, match="k must be"):
        blocks.top_k(np.ones((2, 2)), -1)
