"""Scale-out over universes: sweeps, walk-forward and Monte Carlo of universe strategies on a Panel.

The panel is the shipped four-stock sample (AAPL, FB, IBM, MSFT; FB lists in 2012),
so late listings are part of every run. Results are the same on one thread and on
the two-node Ray cluster (``tests.cluster.two_nodes``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cluster
import engine
import strategies
from cluster.universe import UNIVERSE, UniverseWork, permuted_panel
from tests.cluster.two_nodes import HEAD_IP, WORKER_IP, ray_cluster, two_nodes  # noqa: F401 (fixtures)

MOM = strategies.CrossSectionalMomentum
SPACE = {"lookback": [40, 120], "top_k": [1, 2, 3]}
COST = engine.Config(fee_rate=0.0005)


@pytest.fixture(scope="module")
def panel() -> engine.Panel:
    return engine.sample_panel()[-1500:]


def one_thread(**kw):
    return {"address": "local-threads", "workers": 1, **kw}


def test_a_universe_sweep_runs_one_portfolio_per_parameter_set_as_run_many_does(panel):
    res = cluster.sweep(MOM, panel, SPACE, COST, chunk_size=2, address="local-threads", workers=2)
    assert len(res.table) == 6 and res.table["error"].isna().all()
    assert set(res.table["symbol"]) == {UNIVERSE}
    sets = [{k: row[k] for k in MOM._params} for _, row in res.table.iterrows()]
    direct = strategies.run_many(MOM, panel, sets, COST, threads=1)
    for m in ("sharpe", "total_return", "max_drawdown", "total_trades"):
        np.testing.assert_array_equal(res.table[m].to_numpy(), direct[m].to_numpy())
    assert res.manifest["spec"]["universe"] == list(panel.symbols)
    assert 0 <= res.diagnostics["deflated_sharpe"]["dsr"] <= 1


def test_kept_portfolio_returns_give_pbo_as_for_one_series(panel):
    res = cluster.sweep(
        MOM,
        panel,
        {"lookback": [20, 40, 60, 80, 100, 120, 140, 160], "top_k": [1, 2, 3, 4]},
        COST,
        keep_returns=True,
        address="local-threads",
        workers=2,
    )
    assert len(res.table) == 32 and res.table["error"].isna().all()
    assert 0.0 <= res.diagnostics["pbo"]["pbo"] <= 1.0


def test_a_list_of_symbols_makes_one_universe_for_a_universe_strategy(panel):
    work = UniverseWork(MOM, panel, COST)
    assert work.bars == {UNIVERSE: panel}
    assert cluster.data.is_universe(MOM, ["AAPL", "MSFT"]) and not cluster.data.is_universe(
        strategies.SmaCross, ["SPX"]
    )
    assert cluster.data.is_universe(strategies.SmaCross, panel)  # a single-series strategy on a panel: one portfolio


def test_a_universe_walk_forward_trades_each_window_with_its_chosen_parameters(panel):
    wf = cluster.walk_forward(MOM, panel, SPACE, 500, 250, config=COST, address="local-threads", workers=2)
    assert len(wf.windows) == 4 and wf.windows["oos_sharpe"].notna().all()
    cfg = COST.replace(periods_per_year=panel.periods_per_year())
    w = wf.windows.iloc[1]
    params = {k: w[k] for k in MOM._params}
    lo, hi = 750, 1000
    res = strategies.run(
        MOM, panel[:hi], cfg, {k: (v.item() if hasattr(v, "item") else v) for k, v in params.items()}, start=lo
    )
    assert w["oos_sharpe"] == pytest.approx(res.stats["sharpe"])
    assert len(wf.equity) == 1000 and np.isfinite(wf.equity).all()
    with pytest.raises(ValueError, match="carry"):
        cluster.walk_forward(MOM, panel, SPACE, 500, 250, config=COST, carry=True, address="local-threads")


def test_a_permuted_panel_moves_every_symbol_s_bars_together(panel):
    path = permuted_panel(panel, np.random.default_rng(3))
    np.testing.assert_array_equal(path.tradable, panel.tradable)
    first = panel.first_bars()
    cols = np.arange(len(panel.symbols))
    np.testing.assert_allclose(path.close[first, cols], panel.close[first, cols])
    always = panel.tradable.all(axis=0)  # AAPL, IBM, MSFT; FB lists late
    assert always.sum() == 3
    gaps = lambda p: (np.log(p.open[1:]) - np.log(p.close[:-1]))[:, always]  # noqa: E731
    real, perm = gaps(panel), gaps(path)
    # One permutation for every symbol: the permuted rows are the real rows, reordered as wholes.
    order = lambda a: a[np.lexsort(np.round(a, 9).T[::-1])]  # noqa: E731
    np.testing.assert_allclose(order(perm), order(real), atol=1e-9)
    assert not np.allclose(real, perm)


def test_universe_monte_carlo_gives_a_p_value_and_intervals_and_repeats_itself(panel):
    a = cluster.monte_carlo(MOM, {"top_k": 2}, panel, n=30, config=COST, seed=5, **one_thread())
    b = cluster.monte_carlo(MOM, {"top_k": 2}, panel, n=30, config=COST, seed=5, address="local-threads", workers=2)
    pd.testing.assert_frame_equal(a.paths, b.paths)
    assert 0 < a.p_value <= 1 and a.manifest["spec"]["universe"] == list(panel.symbols)
    boot = cluster.monte_carlo(MOM, {"top_k": 2}, panel, n=50, method="block_bootstrap", config=COST, **one_thread())
    lo, hi = boot.intervals["sharpe"]
    assert lo < hi and boot.p_value is None


def test_a_universe_sweep_walk_forward_and_monte_carlo_are_the_same_on_two_nodes(ray_cluster, panel):
    alone = cluster.sweep(MOM, panel, SPACE, COST, chunk_size=1, **one_thread())
    spread = cluster.sweep(MOM, panel, SPACE, COST, chunk_size=1, address=ray_cluster.address)
    pd.testing.assert_frame_equal(spread.table, alone.table)
    args, kw = (MOM, panel, SPACE, 500, 250), {"config": COST}
    wa = cluster.walk_forward(*args, **kw, **one_thread())
    ws = cluster.walk_forward(*args, **kw, address=ray_cluster.address)
    pd.testing.assert_frame_equal(ws.windows, wa.windows)
    pd.testing.assert_series_equal(ws.equity, wa.equity)
    ma = cluster.monte_carlo(MOM, {"top_k": 2}, panel, n=16, config=COST, seed=2, **one_thread())
    ms = cluster.monte_carlo(MOM, {"top_k": 2}, panel, n=16, config=COST, seed=2, address=ray_cluster.address)
    pd.testing.assert_frame_equal(ms.paths, ma.paths)
    assert ms.p_value == ma.p_value
