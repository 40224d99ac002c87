"""The built-in library: the registry, what each strategy declares, and that its
signals never read ahead. (Each strategy's trades against its rule: test_library_rules.py.)"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import engine
import strategies
from engine.errors import EngineError
from strategies import Strategy, library
from strategies.library import LIBRARY, UNIVERSE_LIBRARY, UnknownStrategyError, get_strategy, list_strategies

MODULES = sorted(p for p in Path(library.__file__).parent.glob("*.py") if p.name != "__init__.py")
BY_MODULE = {cls.__module__.rsplit(".", 1)[1]: cls for cls in (*LIBRARY, *UNIVERSE_LIBRARY)}


# -- the registry -------------------------------------------------------------------


def test_list_strategies_describes_at_least_twelve():
    listed = list_strategies()
    assert len(listed) >= 12
    assert [d["name"] for d in listed] == [cls.name for cls in (*LIBRARY, *UNIVERSE_LIBRARY)]
    assert listed == [cls.describe() for cls in (*LIBRARY, *UNIVERSE_LIBRARY)]
    assert len({d["name"] for d in listed}) == len(listed)
    json.dumps(listed)  # ready for the job service as it is


def test_the_issue_s_twelve_are_all_there():
    names = {d["name"] for d in list_strategies()}
    assert {
        "SmaCross",
        "EmaCross",
        "MacdCross",
        "RsiReversion",
        "BollingerReversion",
        "ZScoreReversion",
        "DonchianBreakout",
        "AtrChannelBreakout",
        "RocMomentum",
        "DualTimeframeTrend",
        "VwapReversion",
        "RsiMacd",
    } <= names


@pytest.mark.parametrize("cls", LIBRARY, ids=lambda c: c.name)
def test_get_strategy_finds_by_name_class_and_snake_case(cls):
    module = cls.__module__.rsplit(".", 1)[1]  # e.g. "sma_cross"
    assert BY_MODULE[module] is cls
    for spelling in (
        cls.name,
        cls.__name__,
        module,
        module.upper(),
        module.replace("_", " "),
        module.replace("_", "-"),
        cls.name.lower(),
    ):
        assert get_strategy(spelling) is cls, spelling


def test_an_unknown_name_says_what_it_might_have_meant():
    with pytest.raises(UnknownStrategyError, match=r"did you mean 'sma_cross'") as info:
        get_strategy("sma_crossover")
    message = str(info.value)
    assert "'sma_crossover'" in message
    for cls in LIBRARY:  # and lists the whole library
        assert cls.__module__.rsplit(".", 1)[1] in message
    assert isinstance(info.value, LookupError) and isinstance(info.value, EngineError)
    with pytest.raises(UnknownStrategyError, match="did you mean 'rsi_reversion'"):
        get_strategy("RsiRevert")


def test_a_name_like_nothing_gets_the_list_without_a_guess():
    with pytest.raises(UnknownStrategyError) as info:
        get_strategy("quantum_oracle")
    assert "did you mean" not in str(info.value)
    assert "the library holds: sma_cross, ema_cross" in str(info.value)


def test_a_name_must_be_a_string():
    with pytest.raises(TypeError, match="is a string such as 'sma_cross'"):
        get_strategy(strategies.library.SmaCross)  # type: ignore[arg-type]


def test_the_package_exports_the_library(sp500_bars):
    """``strategies.get_strategy``, ``strategies.list_strategies`` and the classes
    themselves come from ``strategies`` (DESIGN.md: ``from strategies import SmaCross``)."""
    from strategies import SmaCross

    signal = SmaCross().signals(sp500_bars, fast=10, slow=20)
    assert signal.dtype == np.int8 and len(signal) == len(sp500_bars)
    assert strategies.get_strategy is get_strategy
    assert strategies.list_strategies is list_strategies
    assert SmaCross is get_strategy("sma_cross")
    for cls in LIBRARY:
        assert getattr(strategies, cls.__name__) is cls


# -- what each strategy declares ------------------------------------------------------


@pytest.mark.parametrize("cls", LIBRARY, ids=lambda c: c.name)
def test_each_declares_a_rule_a_schema_and_sensible_defaults(cls):
    d = cls.describe()
    assert d["name"] == cls.name == cls.__name__
    assert d["kind"] == "vectorized"
    assert "Rule" in d["doc"] and len(d["doc"].splitlines()[0]) <= 100
    for pname, p in d["parameters"].items():
        assert p["doc"], f"{cls.name}.{pname} has no doc"
        if p["type"] in ("int", "float"):
            assert p["low"] <= p["default"] <= p["high"]
        if p["type"] == "float":
            assert p["step"], f"{cls.name}.{pname} needs a step to be gridded"
        assert pname in d["doc"] or pname == "short", f"the rule does not mention {pname}"
    # Long only by default, short on request.
    assert d["parameters"]["short"]["choices"] == [False, True]
    assert d["parameters"]["short"]["default"] is False
    assert cls().params == cls.defaults()  # the defaults satisfy the constraints


@pytest.mark.parametrize("cls", LIBRARY, ids=lambda c: c.name)
def test_each_runs_at_the_edges_of_its_schema(cls, sp500_bars):
    """Every parameter at its low and at its high (others at default) gives a valid
    signal on real data; sets that break a constraint are refused by name."""
    tried = 0
    for pname, p in cls.parameters().items():
        edges = p["choices"] if p["type"] == "categorical" else (p["low"], p["high"])
        for value in edges:
            params = {pname: value}
            if not cls.satisfies({**cls.defaults(), **params}):
                with pytest.raises(strategies.ParameterError, match=cls.name):
                    cls().signals(sp500_bars, **params)
                continue
            sig = strategies.signal(cls, sp500_bars, params)
            assert sig.dtype == np.int8 and len(sig) == len(sp500_bars)
            assert set(np.unique(sig)) <= {-1, 0, 1}
            tried += 1
    assert tried >= len(cls.parameters())


@pytest.mark.parametrize("cls", LIBRARY, ids=lambda c: c.name)
def test_long_only_unless_asked(cls, sp500_bars):
    long_only = cls().signals(sp500_bars)
    both = cls().signals(sp500_bars, short=True)
    assert long_only.dtype == np.int8 and set(np.unique(long_only)) == {0, 1}
    assert set(np.unique(both)) == {-1, 0, 1}
    assert np.array_equal(both == 1, long_only == 1)  # shorts never change the longs


# -- no look-ahead -----------------------------------------------------------------------

CUTS = (1, 2, 37, 400, 1234, 2500, 4321)


@pytest.fixture(scope="module")
def eurusd_bars(shared_data) -> engine.Bars:
    return engine.Bars.from_pandas(pd.read_parquet(shared_data / "eurusd_hourly.parquet"))


@pytest.mark.parametrize("short", [False, True], ids=["long", "long-short"])
@pytest.mark.parametrize("cls", LIBRARY, ids=lambda c: c.name)
def test_signals_are_causal(cls, short, sp500_bars, eurusd_bars):
    """Cutting the bars after bar k leaves every signal up to k as it was."""
    for bars in (sp500_bars, eurusd_bars):
        full = cls().signals(bars, short=short)
        assert len(np.unique(full)) > 1
        for k in CUTS:
            assert np.array_equal(cls().signals(bars[:k], short=short), full[:k]), k


# -- the source of each module, as the job service's safe loader will take it ---------

ALLOWED_IMPORTS = {
    "numpy": None,
    "math": None,
    "strategies": {"Strategy", "UniverseStrategy", "Int", "Float", "Categorical", "indicators", "blocks"},
    "engine": {"HOLD"},
}
FORBIDDEN_CALLS = {
    "getattr",
    "setattr",
    "delattr",
    "eval",
    "exec",
    "open",
    "compile",
    "globals",
    "locals",
    "vars",
    "input",
    "breakpoint",
}


def test_every_module_is_in_the_registry():
    assert sorted(BY_MODULE) == [p.stem for p in MODULES]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_module_source_fits_the_safe_loader(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    classes = []
    for i, node in enumerate(tree.body):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and i == 0:
            continue  # the module docstring
        if isinstance(node, ast.Import):
            assert all(a.name in ALLOWED_IMPORTS for a in node.names), ast.dump(node)
        elif isinstance(node, ast.ImportFrom):
            allowed = ALLOWED_IMPORTS.get(node.module or "")
            assert allowed is not None and node.level == 0, node.module
            assert {a.name for a in node.names} <= allowed, ast.dump(node)
        elif isinstance(node, ast.ClassDef):
            classes.append(node)
        else:
            assert isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant), (
                f"line {node.lineno}: only imports, the class and constants at module level"
            )
    assert len(classes) == 1 and [ast.unparse(b) for b in classes[0].bases] in (["Strategy"], ["UniverseStrategy"])
    assert ast.get_docstring(classes[0])
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Name):
            names = [node.id]
        elif isinstance(node, ast.Attribute):
            names = [node.attr]
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names = [node.name]
        elif isinstance(node, ast.arg):
            names = [node.arg]
        elif isinstance(node, ast.alias):
            names = [node.name, node.asname or ""]
        elif isinstance(node, ast.keyword):
            names = [node.arg or ""]
        for name in names:
            assert not name.startswith("_"), f"{path.name}:{node.lineno} uses {name!r}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno}"
        banned = (ast.Global, ast.Nonlocal, ast.Lambda)
        assert not isinstance(node, banned), f"{path.name}:{node.lineno}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_module_source_runs_on_its_own(path, sp500_bars):
    """Executed as plain source in a fresh namespace, a module defines one strategy
    that decides exactly as the registered class does."""
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # the test plays the loader
    found = [
        v
        for v in namespace.values()
        if isinstance(v, type) and issubclass(v, Strategy) and v not in (Strategy, strategies.UniverseStrategy)
    ]
    assert len(found) == 1
    twin = BY_MODULE[path.stem]
    assert found[0].name == twin.name and found[0].parameters() == twin.parameters()
    if twin.is_universe():
        panel = engine.sample_panel()
        assert np.array_equal(found[0]().weights(panel), twin().weights(panel), equal_nan=True)
    else:
        assert np.array_equal(found[0]().signals(sp500_bars), twin().signals(sp500_bars))
