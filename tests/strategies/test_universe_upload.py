"""Uploaded universe strategies: through the safe loader (the cross-sectional blocks
on its allow-list, the same walls) and through the jail (weight matrices on the
wire, checked on the trusted side like any weights)."""

from __future__ import annotations

import inspect
import re
import sys

import numpy as np
import pytest

import engine
import strategies
from engine.errors import InvalidSignalError
from strategies import jail
from strategies.library import UNIVERSE_LIBRARY, PairsTrading
from strategies.loader import StrategyCodeError, load_strategy, validate_strategy_code
from tests.strategies.jail_fixtures import require_jail

MOMENTUM = '''
"""Monthly, equal weight on the top_k symbols by return over lookback bars."""
import numpy as np
from strategies import Int, UniverseStrategy, blocks


class Momo(UniverseStrategy):
    """Monthly, equal weight on the top_k symbols by return over lookback bars."""

    lookback = Int(60, low=5, high=400)
    top_k = Int(2, low=1, high=10)

    def weights(self, panel, lookback, top_k):
        score = blocks.momentum(panel.close, lookback)
        w = blocks.normalize(blocks.equal_weight(blocks.top_k(score, top_k)), gross=1.0)
        return blocks.on_rebalance(w, blocks.schedule(panel.ts, "month_end"))
'''

MOMENTUM_ON_BAR = """
import numpy as np
from strategies import Int, UniverseStrategy, blocks


class MomoBars(UniverseStrategy):
    lookback = Int(60, low=5, high=400)
    top_k = Int(2, low=1, high=10)

    def prepare(self, panel):
        self.when = blocks.schedule(panel.ts, "month_end")
        self.picks = blocks.equal_weight(blocks.top_k(blocks.momentum(panel.close, self.lookback), self.top_k))

    def on_bar(self, bar, ctx):
        if self.when[bar.t]:
            ctx.target_weights(self.picks[bar.t])
"""

HEAD = "import numpy as np\nfrom strategies import UniverseStrategy, blocks\nimport strategies\n\n\nclass U(UniverseStrategy):\n"


def in_weights(code: str) -> str:
    body = "\n".join("        " + line for line in code.splitlines())
    return HEAD + "    def weights(self, panel):\n" + body + "\n        return np.zeros(panel.shape)\n"


def in_on_bar(code: str) -> str:
    body = "\n".join("        " + line for line in code.splitlines())
    return HEAD + "    def on_bar(self, bar, ctx):\n" + body + "\n"


@pytest.fixture(scope="module")
def panel() -> engine.Panel:
    return engine.sample_panel()


# -- the loader ---------------------------------------------------------------------------


@pytest.mark.parametrize("original", UNIVERSE_LIBRARY, ids=lambda c: c.__name__)
def test_built_in_universe_strategy_pasted_as_source_loads_and_agrees(original, panel) -> None:
    source = inspect.getsource(sys.modules[original.__module__])
    assert validate_strategy_code(source) == (True, None)
    loaded = load_strategy(source)
    assert loaded is not original and loaded.is_universe()
    assert loaded.describe() == original.describe()
    params = {"first": 2, "second": 3} if original is PairsTrading else {}
    np.testing.assert_array_equal(loaded().weights(panel, **params), original().weights(panel, **params))
    cfg = engine.Config(fee_rate=0.001, allow_short=True)
    assert strategies.run(loaded, panel, cfg, params).stats == strategies.run(original, panel, cfg, params).stats


def test_an_uploaded_bar_by_bar_universe_strategy_agrees_with_its_vectorized_twin(panel) -> None:
    vec, bars = load_strategy(MOMENTUM), load_strategy(MOMENTUM_ON_BAR)
    assert vec.is_vectorized() and not bars.is_vectorized()
    a = strategies.run(vec, panel, engine.Config(), {"lookback": 40})
    b = strategies.run(bars, panel, engine.Config(), {"lookback": 40})
    assert a.stats == b.stats and a.trades.equals(b.trades)


def test_a_universe_strategy_without_weights_or_on_bar_is_refused() -> None:
    source = HEAD + "    def signals(self, bars):\n        return np.zeros(len(bars))\n"
    with pytest.raises(StrategyCodeError, match=re.escape("weights(self, panel, **params)")):
        load_strategy(source)


STATIC = [
    pytest.param(
        HEAD.replace("import strategies\n", "from strategies.blocks.cross import _bindings\n")
        + "    def weights(self, panel):\n        return 0\n",
        "not available",
        id="import-bindings",
    ),
    pytest.param(in_weights("b = blocks.cross._bindings"), "underscore", id="attr-bindings"),
    pytest.param(
        HEAD.replace("import strategies\n", "from strategies import _panel_run\n")
        + "    def weights(self, panel):\n        return 0\n",
        "",
        id="import-panel-run",
    ),
    pytest.param(in_weights("i = panel.close.__array_interface__"), "double-underscore", id="array-interface"),
    pytest.param(in_on_bar("s = ctx._sim"), "underscore", id="context-sim"),
    pytest.param(in_weights("f = panel.close.ctypes"), "interpreter's internals", id="ctypes"),
    pytest.param(in_weights("m = strategies.universe.engine"), "not available", id="module-through-module"),
    pytest.param(in_weights("m = blocks.cross.np.load"), "not available", id="numpy-through-blocks"),
    pytest.param(in_on_bar("s = ctx.panel.to_long().to_csv"), "without input or output", id="to-csv"),
]


@pytest.mark.parametrize("source, why", STATIC)
def test_escape_is_refused_before_anything_runs(source: str, why: str) -> None:
    ok, error = validate_strategy_code(source)
    assert not ok and error is not None and why in error, error


RUNTIME = [
    pytest.param(in_weights("d = panel.to_long().columns"), "cannot use", id="pandas-frame"),
    pytest.param(in_weights("i = panel.index"), "cannot use", id="pandas-index"),
    pytest.param(in_weights("panel.close[0, 0] = 1.0"), "read-only", id="write-prices"),
    pytest.param(in_on_bar("bar.close[0] = 1.0"), "read-only", id="write-bar"),
]


@pytest.mark.parametrize("source, why", RUNTIME)
def test_escape_is_refused_as_it_runs(source: str, why: str, panel) -> None:
    cls = load_strategy(source)
    with pytest.raises(Exception, match=why):
        strategies.run(cls, panel)


# -- the jail --------------------------------------------------------------------------------

FAST = jail.Limits(call_seconds=30, load_seconds=60, memory_bytes=1 << 30, pool_size=2)

LIAR = """
import numpy as np
import strategies._panel_run
from strategies import UniverseStrategy


class Liar(UniverseStrategy):
    def weights(self, panel):
        return np.zeros(panel.shape)


def lie(cls, panel, sets, allow_short=True, per_chunk=None):
    for _ in sets:
        yield np.full(panel.shape, np.inf)


strategies._panel_run.weight_stream = lie
"""


@pytest.fixture
def job(request: pytest.FixtureRequest) -> str:
    require_jail()
    name = f"test-{request.node.name}"
    yield name
    jail.release(name)


def uploaded(source: str, job: str) -> type[jail.JailedStrategy]:
    return jail.jailed(source, jail.describe(source, FAST), job=job, limits=FAST)


def test_a_jailed_universe_strategy_gives_what_it_gives_in_process(panel, job: str) -> None:
    jailed = uploaded(MOMENTUM, job)
    here = load_strategy(MOMENTUM)
    assert jailed.is_universe() and jailed.is_vectorized() and jailed.describe()["universe"] is True
    sets = [{"lookback": lb, "top_k": k} for lb in (20, 60, 120) for k in (1, 2)]
    a = strategies.run_many(jailed, panel, sets)
    b = strategies.run_many(here, panel, sets)
    assert a.equals(b)
    got = strategies.run(jailed, panel, engine.Config(), {"lookback": 30}, start=500)
    want = strategies.run(here, panel, engine.Config(), {"lookback": 30}, start=500)
    assert got.stats == want.stats and got.trades.equals(want.trades)


def test_a_jailed_bar_by_bar_universe_strategy_decides_in_the_jail(panel, job: str) -> None:
    jailed = uploaded(MOMENTUM_ON_BAR, job)
    assert jailed.is_universe() and not jailed.is_vectorized()
    for start in (0, 700):
        got = strategies.run(jailed, panel, engine.Config(fee_rate=0.001), {"lookback": 50}, start=start)
        want = strategies.run(
            load_strategy(MOMENTUM_ON_BAR), panel, engine.Config(fee_rate=0.001), {"lookback": 50}, start=start
        )
        assert got.stats == want.stats and got.trades.equals(want.trades)
        np.testing.assert_array_equal(got.equity.to_numpy(), want.equity.to_numpy())


def test_weights_from_a_jail_are_checked_like_any_weights(panel, job: str) -> None:
    description = {"name": "Liar", "kind": "vectorized", "universe": True, "parameters": {}, "constraints": []}
    cls = jail.jailed(LIAR, description, job=job, limits=FAST)
    jail.pool(job, LIAR, FAST).checks = False  # plain Python: its code rewrites the jail's answers
    with pytest.raises(InvalidSignalError, match="finite"):
        strategies.run(cls, panel)


# -- the walls, for universe code: hostile sources run as plain Python in a jail --------------

SECRET = "s3cret-token-of-the-service-universe-91c2"

ESCAPE = '''
import os

import strategies
from strategies import UniverseStrategy


class Escape(UniverseStrategy):
    """Tries to leave files outside its jail and to read the service's environment."""

    def weights(self, panel):
        places = ["/", os.path.dirname(os.path.dirname(strategies.__file__)), os.path.expanduser("~"),
                  "/var/tmp", "/work", "/root"]
        written = []
        for place in places:
            path = os.path.join(place, "anvil-hostile-universe")
            try:
                with open(path, "w") as f:
                    f.write("pwned")
                written.append(path)
            except OSError:
                pass
        try:
            pid1 = open("/proc/1/environ").read()
        except OSError as exc:
            pid1 = str(exc)
        raise RuntimeError("FOUND: wrote " + repr(written) + " token=" + repr(os.environ.get("ANVIL_API_TOKEN"))
                           + " pid1=" + repr(pid1))
'''

FOREVER = '''
from strategies import UniverseStrategy


class Forever(UniverseStrategy):
    """Never returns from on_bar."""

    def on_bar(self, bar, ctx):
        n = 0
        while True:
            n += 1
'''


def test_unchecked_universe_code_cannot_write_or_read_the_service(panel, monkeypatch: pytest.MonkeyPatch) -> None:
    require_jail()
    from strategies.jail._standin import panel_message
    from tests.strategies.jail_fixtures import markers_on_host

    monkeypatch.setenv("ANVIL_API_TOKEN", SECRET)
    proc = jail.JailProcess(ESCAPE, FAST, checks=False)
    try:
        key, head, arrays = panel_message(panel)
        proc.call({"op": "bars", "key": key, **head}, arrays)
        with pytest.raises(jail.StrategyFailed) as info:
            proc.call({"op": "weights", "panel": key, "sets": [{}]})
    finally:
        proc.kill()
    said = str(info.value)
    assert "FOUND: wrote []" in said and "token=None" in said, said
    assert SECRET not in said
    assert markers_on_host() == []


def test_a_universe_on_bar_past_its_time_limit_is_killed(panel, job: str) -> None:
    limits = jail.Limits(call_seconds=1.0, load_seconds=60, pool_size=1)
    cls = jail.jailed(FOREVER, jail.describe(FOREVER, limits), job=job, limits=limits)
    assert cls.is_universe() and not cls.is_vectorized()
    with pytest.raises(jail.JailDied, match="longer than its limit"):
        strategies.run(cls, panel)


def test_a_jail_answering_the_wrong_shape_is_refused(panel, job: str) -> None:
    wrong = LIAR.replace(
        "strategies._panel_run.weight_stream = lie",
        """
import strategies.jail._worker


def lie_op(self, req, arrays):
    return {}, [np.zeros((1, 3, 2))]


strategies.jail._worker._Server.weights_op = lie_op
""",
    )
    description = {"name": "Liar", "kind": "vectorized", "universe": True, "parameters": {}, "constraints": []}
    cls = jail.jailed(wrong, description, job=job, limits=FAST)
    jail.pool(job, wrong, FAST).checks = False
    with pytest.raises(InvalidSignalError, match="shape"):
        strategies.run(cls, panel)
