"""engine.run_portfolio_batch: the same numbers as one run at a time, for any thread
count and any input form, reading a generator one chunk at a time."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import engine

CFG = engine.Config(fee_rate=0.001, slippage_bps=2, allow_short=True, max_leverage=1.5, stop_loss=0.1)


@pytest.fixture(scope="module")
def panel() -> engine.Panel:
    return engine.synthetic.panel(30, 260, seed=5, late_listings=0.2, delistings=0.2, gaps=0.01)


def top_k(panel: engine.Panel, lookback: int, k: int) -> np.ndarray:
    """Monthly-ish rotation: every 21 bars, 1/k in the k best lookback returns."""
    w = np.full(panel.shape, np.nan)
    close = panel.close
    for t in range(lookback, len(panel), 21):
        ret = close[t] / close[t - lookback] - 1
        ok = np.flatnonzero(~np.isnan(ret))
        w[t, panel.tradable[t]] = 0.0
        w[t, ok[np.argsort(-ret[ok])[:k]]] = 1.0 / k
    return w


def params() -> list[tuple[int, int]]:
    return [(lb, k) for lb in (10, 20, 40, 60) for k in (2, 5, 10)]


def test_batch_equals_single_runs_for_any_thread_count(panel: engine.Panel) -> None:
    ws = np.stack([top_k(panel, lb, k) for lb, k in params()])
    one = [engine.backtest_portfolio(panel, w, CFG).stats for w in ws]
    for threads in (1, 2, 3):
        table = engine.run_portfolio_batch(panel, ws, CFG, threads=threads, chunk_runs=2)
        assert list(table.columns) == list(engine.PORTFOLIO_METRICS)
        for i, stats in enumerate(one):
            for name in engine.PORTFOLIO_METRICS:
                assert table[name].iloc[i] == pytest.approx(stats[name], rel=1e-12, nan_ok=True), (i, name)
    listed = engine.run_portfolio_batch(panel, list(ws), CFG, threads=2)
    assert listed.equals(engine.run_portfolio_batch(panel, ws, CFG, threads=1))


def test_one_config_per_run(panel: engine.Panel) -> None:
    ws = np.stack([top_k(panel, 20, 5)] * 3)
    cfgs = [CFG.replace(fee_rate=f) for f in (0.0, 0.001, 0.01)]
    table = engine.run_portfolio_batch(panel, ws, cfgs, threads=2, chunk_runs=1)
    assert table["total_fees"].is_monotonic_increasing and table["total_fees"].iloc[0] == 0


def test_a_generator_is_read_one_chunk_per_thread_at_a_time(panel: engine.Panel) -> None:
    alive: list[weakref.ref] = []
    most = 0

    def matrices():
        nonlocal most
        for lb, k in params():
            gc.collect()
            most = max(most, sum(r() is not None for r in alive))
            w = top_k(panel, lb, k)
            alive.append(weakref.ref(w))
            yield w

    threads, chunk = 2, 2
    table = engine.run_portfolio_batch(panel, matrices(), CFG, threads=threads, chunk_runs=chunk)
    assert len(table) == len(params())
    # matrices still alive while the next is made: one chunk per thread at most
    assert most <= threads * chunk
    ref = engine.run_portfolio_batch(panel, np.stack([top_k(panel, lb, k) for lb, k in params()]), CFG, threads=1)
    assert table.equals(ref)


def test_bad_weights_in_a_batch_name_the_run(panel: engine.Panel) -> None:
    ws = np.stack([top_k(panel, 20, 5)] * 3)
    ws[2, 30, 4] = np.inf
    with pytest.raises(ValueError, match=r"weights_batch\[2\] S04\[30\]"):
        engine.run_portfolio_batch(panel, ws, CFG, threads=2, chunk_runs=1)
    with pytest.raises(ValueError, match="3 configs for 2 runs|configs"):
        engine.run_portfolio_batch(panel, ws[:2], [CFG] * 3, threads=1)


def test_runs_stepped_together_give_the_numbers_of_one_run_at_a_time(panel: engine.Panel) -> None:
    # A chunk of up to ANVIL_PF_GROUP runs is stepped bar by bar together (each panel
    # row read once for all of them); 12 runs in chunks of 12: a group of 8, then 4.
    ws = np.stack([top_k(panel, lb, k) for lb, k in params()])
    cfgs = [CFG.replace(fee_rate=0.0005 * (i % 3), stop_loss=None if i % 2 else 0.08) for i in range(len(ws))]
    alone = engine.run_portfolio_batch(panel, ws, cfgs, threads=1, chunk_runs=1)
    together = engine.run_portfolio_batch(panel, ws, cfgs, threads=1, chunk_runs=len(ws))
    assert together.equals(alone), (together - alone).abs().max()
    assert engine._bindings.PF_GROUP == 8 and len(ws) > 8


@pytest.mark.parametrize("where", [(5, 30, 4), (7, -1, 3)], ids=["inside", "last_row"])
def test_a_bad_weight_inside_a_group_names_its_run(panel: engine.Panel, where) -> None:
    ws = np.stack([top_k(panel, 20, 5)] * 8)
    run, t, j = where
    ws[run, t, j] = -np.inf
    ws[run + 1 :, 10, 0] = np.inf  # later runs of the group fail earlier in time
    with pytest.raises(ValueError, match=rf"weights_batch\[{run}\] S0{j}\[{t % len(panel)}\]"):
        engine.run_portfolio_batch(panel, ws, CFG, threads=1, chunk_runs=8)


def test_runs_liquidated_in_a_group_keep_their_own_numbers() -> None:
    # 10 runs stepped together (groups of up to 8): some lose everything at different
    # bars and stop trading, the others go on; each equals its single run.
    panel = engine.synthetic.panel(3, 300, seed=0, volatility=2.5, late_listings=0.3, delistings=0.3, gaps=0.1)
    rng = np.random.default_rng(0)
    ws = rng.uniform(-1.0, 0.6, (10, *panel.shape))
    ws[rng.random(ws.shape) < 0.7] = np.nan
    ws[::2] = np.abs(ws[::2]) / 3  # long only, gross <= 1: never called in
    cfg = engine.Config(fee_rate=0.001, max_leverage=3.0, allow_short=True, borrow_rate=0.05)
    singles = [engine.backtest_portfolio(panel, w, cfg) for w in ws]
    called = ["margin" in set(r.events["rule"]) for r in singles]
    assert any(called) and not all(called)
    table = engine.run_portfolio_batch(panel, ws, cfg, threads=1)
    for i, r in enumerate(singles):
        for name in engine.PORTFOLIO_METRICS:
            assert table[name].iloc[i] == pytest.approx(r.stats[name], rel=1e-12, nan_ok=True), (i, name)
