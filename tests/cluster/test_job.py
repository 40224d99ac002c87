"""cluster.job: one skeleton and one set of options for every job kind; one way to ship an uploaded strategy."""

from __future__ import annotations

import dataclasses
import inspect
import pickle

import cloudpickle
import numpy as np

import cluster
import engine
import strategies
from cluster import portable
from cluster.job import Options
from strategies.loader import SOURCE_ATTRIBUTE, load_strategy

SOURCE = '''import numpy as np
from strategies import Int, Strategy, indicators


class UpCross(Strategy):
    """Long while the fast SMA is above the slow one."""

    fast = Int(10, low=2, high=50)
    slow = Int(40, low=5, high=200)

    def signals(self, bars, fast, slow):
        a, b = indicators.sma(bars.close, fast), indicators.sma(bars.close, slow)
        return (a > b).astype(np.int8)
'''


def test_the_three_entry_points_take_the_job_options_last_keyword_only_in_one_order() -> None:
    order = [f.name for f in dataclasses.fields(Options)]
    for fn in (cluster.sweep, cluster.walk_forward, cluster.monte_carlo):
        params = inspect.signature(fn).parameters
        tail = list(params)[-len(order) :]
        assert tail == order, fn.__name__
        assert all(params[name].kind is inspect.Parameter.KEYWORD_ONLY for name in order), fn.__name__


def test_no_module_of_cluster_imports_another_inside_a_function() -> None:
    """Such imports hid cycles; the one left defers importing Ray (a threads job starts without it)."""
    import ast
    from pathlib import Path

    for path in Path(cluster.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and (inner.module or "").startswith("cluster"):
                        if inner.module == "cluster.ray_executor":
                            continue
                        raise AssertionError(f"{path.name}:{inner.lineno} imports {inner.module} in {node.name}")


def test_a_loaded_strategy_ships_as_a_stand_in_carrying_its_source_not_its_class(small_bars: engine.Bars) -> None:
    loaded = load_strategy(SOURCE)
    assert getattr(loaded, SOURCE_ATTRIBUTE) == SOURCE
    shipped = portable.shippable(loaded)
    assert shipped is not loaded and shipped.name == loaded.name
    assert shipped.parameters() == loaded.parameters()
    assert portable.shippable(strategies.SmaCross) is strategies.SmaCross  # code travels as itself
    again = pickle.loads(cloudpickle.dumps(shipped))  # what a Ray worker receives
    assert again._source == SOURCE
    params = {"fast": 10, "slow": 40}
    ours = strategies.run(again, small_bars, engine.Config(), params).stats
    theirs = strategies.run(loaded, small_bars, engine.Config(), params).stats
    assert ours["total_trades"] > 0 and np.isclose(ours["total_return"], theirs["total_return"])


def test_a_sweep_of_a_loaded_strategy_equals_the_sweep_of_the_same_code(small_bars: engine.Bars) -> None:
    loaded = load_strategy(SOURCE)
    space = {"fast": [5, 10], "slow": [30, 60]}
    a = cluster.sweep(loaded, small_bars, space, address="local-threads", workers=2)
    b = cluster.sweep(portable.stand_in(SOURCE), small_bars, space, address="local-threads", workers=1)
    assert a.table["sharpe"].tolist() == b.table["sharpe"].tolist()


def test_a_loaded_universe_strategy_ships_as_a_universe_stand_in() -> None:
    from tests.strategies.test_universe_upload import MOMENTUM

    loaded = load_strategy(MOMENTUM)
    shipped = pickle.loads(cloudpickle.dumps(portable.shippable(loaded)))
    assert shipped.is_universe() and shipped.is_vectorized()
    panel = engine.sample_panel()[-800:]
    params = {k: v["default"] for k, v in loaded.parameters().items()}
    ours = strategies.run(shipped, panel, engine.Config(), params).stats
    theirs = strategies.run(loaded, panel, engine.Config(), params).stats
    assert ours["total_trades"] > 0 and ours["sharpe"] == theirs["sharpe"]
