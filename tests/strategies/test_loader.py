"""strategies.loader: hostile sources refused with the reason, legitimate ones loaded and run.

Hostile sources come in two kinds: most are refused by the static checks
(``validate_strategy_code`` says why without running anything, and
``load_strategy`` raises the same reason); the few whose intent only shows as
they run (a template assembled at run time, ``self = ctx``) load, and are
refused by the guards the moment they try.
"""

from __future__ import annotations

import collections.abc
import inspect
import re
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine
import strategies
from strategies.library import LIBRARY
from strategies.loader import (
    ALLOWED_MODULES,
    MAX_SOURCE_BYTES,
    StrategyCodeError,
    load_strategy,
    validate_strategy_code,
)

SOURCES = Path(__file__).parent / "data" / "loader"

HEAD = "import numpy as np\nimport engine\nfrom strategies import Int, SmaCross, Strategy, indicators\n\n"
ZEROS = "        return np.zeros(len(bars.close), np.int8)\n"


def in_signals(code: str) -> str:
    """A strategy whose ``signals`` runs ``code`` first."""
    body = "".join(f"        {line}\n" for line in code.splitlines())
    return f'{HEAD}class Evil(Strategy):\n    """Hostile."""\n\n    def signals(self, bars):\n{body}{ZEROS}'


def in_on_bar(code: str) -> str:
    """A bar-by-bar strategy whose ``on_bar`` runs ``code``."""
    body = "".join(f"        {line}\n" for line in code.splitlines())
    return f'{HEAD}class Evil(Strategy):\n    """Hostile."""\n\n    def on_bar(self, bar, ctx):\n{body}'


def at_top(code: str) -> str:
    """``code`` at the top level, beside a harmless strategy."""
    return f"{HEAD}{code}\n\n\nclass Fine(Strategy):\n    def signals(self, bars):\n{ZEROS}"


HOSTILE = [
    # -- the subclasses walk and other reflection --------------------------------
    pytest.param(in_signals("().__class__.__base__.__subclasses__()"), "double-underscore", id="subclasses-walk"),
    pytest.param(in_signals("int.mro()[1]"), "interpreter's internals", id="mro"),
    pytest.param(in_signals("object.__subclasses__()"), "'object'", id="object-subclasses"),
    pytest.param(in_signals("type('X', (), {'f': 1})"), "type() is not available", id="type-three-args"),
    pytest.param(in_signals("super(Strategy, self).check({})"), "super() with no arguments", id="super-with-arguments"),
    pytest.param(in_signals("sup = super\nsup().check({})"), "super() with no arguments", id="super-as-value"),
    pytest.param(in_signals("self.__init__()"), "double-underscore", id="dunder-on-self"),
    pytest.param(in_signals("x = self.__dict__"), "double-underscore", id="instance-dict"),
    pytest.param(in_signals("g = globals()['__builtins__']"), "by name", id="globals-builtins"),
    pytest.param(in_signals("v = vars(self)"), "by name", id="vars"),
    pytest.param(in_signals("f = getattr(np, 'lib')"), "by name", id="getattr"),
    pytest.param(in_signals("b = __builtins__"), "double underscore", id="builtins-name"),
    # -- format strings ----------------------------------------------------------
    pytest.param(in_signals('s = "{0.__class__}".format(self)'), "reads an attribute", id="format-attribute"),
    pytest.param(in_signals('s = "{b.close}".format_map({"b": bars})'), "reads an attribute", id="format-map"),
    pytest.param(in_signals('s = "{0[__globals__]}".format({})'), "reads an attribute or item", id="format-item"),
    pytest.param(in_signals('s = "{0:{1.real}}".format(1, 2)'), "reads an attribute", id="format-nested-spec"),
    pytest.param(in_signals('f = str.format\ns = f("{0.x}", self)'), "str.format", id="str-format-unbound"),
    pytest.param(in_signals('s = f"{self.__class__!r}"'), "double-underscore", id="f-string-dunder"),
    # -- decorators and lambdas smuggling calls ----------------------------------
    pytest.param(
        HEAD
        + "def run(f):\n    return f()\n\n\nclass Evil(Strategy):\n    @run\n    def signals(self, bars):\n"
        + ZEROS,
        "decorators are limited",
        id="decorator-user-function",
    ),
    pytest.param(
        HEAD + "class Evil(Strategy):\n    @(lambda f: f())\n    def signals(self, bars):\n" + ZEROS,
        "decorators are limited",
        id="decorator-lambda",
    ),
    pytest.param(
        HEAD + "class Evil(Strategy):\n    @exec\n    def signals(self, bars):\n" + ZEROS,
        "code built from strings",
        id="decorator-exec",
    ),
    pytest.param(
        HEAD + "class Evil(Strategy):\n    def signals(self, bars, n=(lambda: sum(range(10**8)))()):\n" + ZEROS,
        "runs code while the strategy loads",
        id="default-argument-call",
    ),
    pytest.param(
        HEAD + "class Evil(Strategy):\n    def signals(self, bars: sorted(range(10**7))):\n" + ZEROS,
        "annotations are evaluated while loading",
        id="annotation-call",
    ),
    pytest.param(
        HEAD
        + "property = lambda f: f()\n\n\nclass Evil(Strategy):\n    @property\n    def signals(self, bars):\n"
        + ZEROS,
        "decorators are limited",
        id="rebound-decorator",
    ),
    pytest.param(in_signals("f = lambda: eval('1')"), "code built from strings", id="lambda-eval"),
    # -- module internals through attribute chains -------------------------------
    pytest.param(in_signals("np.lib.format.open_memmap('x')"), "interpreter's internals", id="numpy-lib"),
    pytest.param(in_signals("np.ctypeslib.as_array(0)"), "interpreter's internals", id="numpy-ctypeslib"),
    pytest.param(in_signals("bars.close.ctypes.data"), "interpreter's internals", id="array-ctypes"),
    pytest.param(in_signals("np.random.default_rng().bit_generator.cffi"), "interpreter's internals", id="bitgen-cffi"),
    pytest.param(in_signals("engine._bindings.ffi"), "underscore attributes", id="engine-bindings"),
    pytest.param(in_signals("x = engine._core"), "underscore attributes", id="engine-core"),
    pytest.param(in_signals("ctx = bars._close"), "underscore attributes", id="private-of-host"),
    pytest.param(in_signals("m = indicators.np"), "strategies.indicators.np: not available", id="module-in-module"),
    # -- the file system through allowed modules ---------------------------------
    pytest.param(in_signals("np.load('/etc/passwd', allow_pickle=True)"), "without input or output", id="numpy-load"),
    pytest.param(in_signals("np.savetxt('/tmp/x', bars.close)"), "without input or output", id="numpy-savetxt"),
    pytest.param(in_signals("bars.close.tofile('/tmp/x')"), "without input or output", id="array-tofile"),
    pytest.param(in_signals("bars.close.dump('/tmp/x')"), "without input or output", id="array-dump"),
    pytest.param(in_signals("np.memmap('/tmp/x')"), "without input or output", id="numpy-memmap"),
    pytest.param(in_signals("bars.index.to_series().to_csv('/tmp/x')"), "without input or output", id="pandas-to-csv"),
    pytest.param(at_top("from numpy import fromfile"), "numpy.fromfile is not available", id="from-numpy-fromfile"),
    pytest.param(at_top("from engine import Store"), "engine.Store is not available", id="engine-store"),
    pytest.param(in_signals("s = engine.store"), "without input or output", id="engine-store-attribute"),
    pytest.param(at_top("from operator import attrgetter"), "operator.attrgetter is not available", id="attrgetter"),
    pytest.param(at_top("from typing import get_type_hints"), "not available", id="get-type-hints"),
    pytest.param(at_top("from functools import update_wrapper"), "not available", id="update-wrapper"),
    pytest.param(at_top("import statistics\nS = statistics.sys"), "interpreter's internals", id="statistics-sys"),
    pytest.param(
        at_top("import dataclasses\nB = dataclasses.builtins"), "interpreter's internals", id="dataclasses-builtins"
    ),
    pytest.param(
        at_top("from strategies import indicators as i\nC = i.clear_cache"),
        "strategies.indicators.clear_cache: not available",
        id="indicator-cache-clear",
    ),
    # -- encoded imports ---------------------------------------------------------
    pytest.param(at_top("import os"), "strategies may import only", id="import-os"),
    pytest.param(at_top("import importlib"), "import modules with an import statement", id="import-importlib"),
    pytest.param(at_top("import strategies.loader"), "strategies may import only", id="import-loader"),
    pytest.param(
        at_top("from strategies import loader"), "strategies.loader is not available", id="from-strategies-loader"
    ),
    pytest.param(at_top("from numpy import *"), "one by one", id="import-star"),
    pytest.param(at_top("from . import x"), "full name", id="relative-import"),
    pytest.param(at_top("from __future__ import barry_as_FLUFL"), "only annotations", id="future-flufl"),
    pytest.param(in_signals("m = __import__('os')"), "import statement", id="dunder-import"),
    pytest.param(
        in_signals("m = '\\x5f\\x5fimport\\x5f\\x5f'"), "naming Python's internals", id="escaped-dunder-string"
    ),
    pytest.param(in_signals("\uff45\uff56\uff41\uff4c('1')"), "code built from strings", id="fullwidth-eval"),
    pytest.param(in_signals("\u0435val('1')"), "plain ASCII", id="homoglyph-eval"),
    pytest.param(in_signals("x = np.\u0435mpty(3)"), "plain ASCII", id="homoglyph-attribute"),
    pytest.param(b"# -*- coding: unicode_escape -*-\n\\x69mport os\n", "syntax error", id="codec-cookie"),
    # -- code from strings, I/O, the debugger ------------------------------------
    pytest.param(in_signals("exec('import os')"), "code built from strings", id="exec"),
    pytest.param(in_signals("c = compile('1', 'x', 'eval')"), "code built from strings", id="compile"),
    pytest.param(in_signals("open('/etc/passwd').read()"), "without input or output", id="open"),
    pytest.param(in_signals("breakpoint()"), "debugger", id="breakpoint"),
    pytest.param(in_signals("input()"), "without input or output", id="input"),
    pytest.param(in_signals("print(bars)"), "remove the print", id="print"),
    # -- frames, tracebacks, generators, code ------------------------------------
    pytest.param(
        in_signals("g = (i for i in [1])\nf = g.gi_frame.f_back.f_globals"), "generator internals", id="generator-frame"
    ),
    pytest.param(in_signals("def gen():\n    yield 1\nc = gen().gi_code"), "generator internals", id="generator-code"),
    pytest.param(in_signals("f = (lambda: 0).__code__.co_code"), "double-underscore", id="code-object"),
    pytest.param(
        in_signals("try:\n    1 / 0\nexcept Exception as e:\n    t = e.__traceback__.tb_frame"),
        "double-underscore",
        id="exception-traceback",
    ),
    pytest.param(in_signals("x = bars.tb_frame"), "traceback attributes", id="traceback-frame"),
    pytest.param(in_signals("x = bars.cr_frame"), "coroutine internals", id="coroutine-frame"),
    pytest.param(in_signals("x = bars.ag_frame"), "async generator internals", id="async-generator-frame"),
    pytest.param(in_signals("m = bars.sys.modules"), "interpreter's internals", id="sys-modules"),
    pytest.param(in_signals("x = self.func_globals"), "interpreter's internals", id="func-globals"),
    pytest.param(in_signals("x = bars.f_locals"), "frame attributes", id="frame-locals"),
    pytest.param(in_signals("try:\n    pass\nexcept:\n    pass"), "interrupts get through", id="bare-except"),
    pytest.param(
        in_signals("try:\n    pass\nexcept BaseException:\n    pass"), "swallow interrupts", id="base-exception"
    ),
    pytest.param(
        HEAD + "class Evil(Strategy):\n    async def signals(self, bars):\n" + ZEROS,
        "async functions",
        id="coroutine",
    ),
    pytest.param(in_signals("match bars:\n    case _:\n        pass"), "match statements", id="match"),
    # -- classes -----------------------------------------------------------------
    pytest.param(
        HEAD
        + "class Meta(type):\n    pass\n\n\nclass Evil(Strategy, metaclass=Meta):\n    def signals(self, bars):\n"
        + ZEROS,
        "no metaclass",
        id="metaclass",
    ),
    pytest.param(
        HEAD
        + "class Evil(Strategy):\n    def __getattr__(self, name):\n        return 1\n\n    def signals(self, bars):\n"
        + ZEROS,
        "special method '__getattr__'",
        id="dunder-getattr",
    ),
    pytest.param(
        HEAD
        + "class Evil(Strategy):\n    def __init_subclass__(cls):\n        pass\n\n    def signals(self, bars):\n"
        + ZEROS,
        "special method '__init_subclass__'",
        id="dunder-init-subclass",
    ),
    pytest.param(
        HEAD
        + "class Evil(Strategy):\n    def __reduce__(self):\n        return (print, ())\n\n    def signals(self, bars):\n"
        + ZEROS,
        "special method '__reduce__'",
        id="dunder-reduce",
    ),
    pytest.param(
        HEAD + "class Evil(Strategy):\n    def signals(self, bars):\n        class Inner:\n            pass\n" + ZEROS,
        "not inside functions",
        id="class-in-function",
    ),
    pytest.param(
        HEAD
        + "class A(Strategy):\n    def signals(self, bars):\n"
        + ZEROS
        + "\n\nclass B(Strategy):\n    def signals(self, bars):\n"
        + ZEROS,
        "exactly one Strategy subclass",
        id="two-strategies",
    ),
    pytest.param(HEAD + "X = 1\n", "no class deriving from Strategy", id="no-strategy"),
    pytest.param(
        HEAD + "class NotAStrategy:\n    def signals(self, bars):\n" + ZEROS,
        "no class deriving from Strategy",
        id="class-not-a-strategy",
    ),
    # -- code that runs while loading --------------------------------------------
    pytest.param(at_top("for i in range(10**9):\n    pass"), "runs code while the strategy loads", id="top-level-loop"),
    pytest.param(at_top("X = sum(range(10**9))"), "runs code while the strategy loads", id="top-level-call"),
    pytest.param(
        at_top("X = [i for i in range(10**9)]"), "runs code while the strategy loads", id="top-level-comprehension"
    ),
    pytest.param(at_top("np.x = 1"), "only plain names", id="top-level-attribute-store"),
    pytest.param(at_top("if __name__ == '__main__':\n    pass"), "runs code while the strategy loads", id="main-guard"),
    pytest.param(
        HEAD + "class Evil(Strategy):\n    for i in range(10):\n        pass\n\n    def signals(self, bars):\n" + ZEROS,
        "runs code while the strategy loads",
        id="class-body-loop",
    ),
    pytest.param(
        HEAD + "class Evil(Strategy):\n    fast = SmaCross.parameters()\n\n    def signals(self, bars):\n" + ZEROS,
        "runs code while the strategy loads",
        id="class-body-call",
    ),
    pytest.param(at_top("T = np.ScalarType * 10**8"), "unknown size", id="load-time-repeat"),
    # -- huge literals and deep nesting ------------------------------------------
    pytest.param(at_top("X = 10 ** 10 ** 10"), "is too big", id="power-tower"),
    pytest.param(in_signals("x = 'a' * 10 ** 10"), "is too big", id="huge-string"),
    pytest.param(in_signals("x = [0] * 10 ** 9"), "is too big", id="huge-list"),
    pytest.param(in_signals("x = 1 << 10 ** 6"), "is too big", id="huge-shift"),
    pytest.param(at_top("X = " + "9" * 4000), "is too big", id="huge-int-literal"),
    pytest.param(in_signals("x = " + "-" * 500 + "1"), "simplify it", id="deep-unary"),
    pytest.param(in_signals("x = 1" + " + 1" * 5000), "simplify it", id="deep-sum"),
    pytest.param(in_signals("x = " + "[" * 150 + "]" * 150), "simplify it", id="deep-lists"),
    pytest.param(at_top("X = 1\n" * 20000), f"the limit is {MAX_SOURCE_BYTES:,}", id="too-long"),
    pytest.param(at_top("X = 1\x00"), "NUL", id="nul-byte"),
    pytest.param(b"\xff\xfeimport os", "not UTF-8", id="not-utf8"),
]


NUMPY_FILES_AND_INTERNALS = """load save savez savez_compressed savetxt loadtxt genfromtxt fromfile
    fromregex memmap frombuffer ctypeslib lib testing f2py show_config show_runtime get_include info
    test seterrcall set_printoptions r_ c_ bmat ma rec char core""".split()


def test_hostile_sources_are_many() -> None:
    assert len(HOSTILE) + len(HOSTILE_AT_RUN_TIME) >= 25


@pytest.mark.parametrize("name", NUMPY_FILES_AND_INTERNALS)
def test_numpy_files_and_internals_are_not_there(name: str) -> None:
    for source in (in_signals(f"x = np.{name}"), at_top(f"from numpy import {name}")):
        ok, error = validate_strategy_code(source)
        assert not ok and error is not None and ("not available" in error or "refused" in error)
        with pytest.raises(StrategyCodeError):
            load_strategy(source)


@pytest.mark.parametrize("source, why", HOSTILE)
def test_hostile_source_is_refused_before_anything_runs(source: Any, why: str) -> None:
    ok, error = validate_strategy_code(source)
    assert not ok and error is not None
    assert why in error
    with pytest.raises(StrategyCodeError, match=re.escape(why)):
        load_strategy(source)


HOSTILE_AT_RUN_TIME = [
    pytest.param(
        in_signals('t = "{0." + "_" * 2 + "class" + "_" * 2 + "}"\ns = t.format(self)'),
        "reads an attribute",
        id="template-built-at-run-time",
    ),
    pytest.param(
        in_signals('t = "{0.clo" + "se}"\ns = list(map(t.format, [bars]))'),
        "reads an attribute",
        id="template-through-map",
    ),
    pytest.param(in_on_bar("self = ctx\nself._sim.buy(1.0)"), "underscore attributes", id="rebound-self"),
    pytest.param(in_signals("i = bars.index"), "strategies cannot use", id="pandas-index"),
    pytest.param(in_signals("b = bars.close.base"), "read-only", id="array-base"),
    pytest.param(in_signals("bars.close.setflags(write=True)"), "read-only", id="array-setflags"),
    pytest.param(in_signals("w = bars.close.flags"), "read-only", id="array-flags"),
    pytest.param(in_signals("np.add.at(bars.close, [0], 1e6)"), "read-only", id="ufunc-at-ignores-read-only"),
    pytest.param(in_signals("np.ufunc.at(np.add, bars.close, [0], 1e6)"), "read-only", id="unbound-ufunc-at"),
    pytest.param(in_signals("bars.close.resize(3, refcheck=False)"), "read-only", id="resize-in-place"),
    pytest.param(in_signals("np.ndarray.resize(bars.close, 3, refcheck=False)"), "read-only", id="unbound-resize"),
    pytest.param(in_signals("np.ndarray.setflags(bars.close, write=True)"), "read-only", id="unbound-setflags"),
    pytest.param(
        in_signals("from collections.abc import Sequence\nSequence.register(dict)"),
        "change isinstance for all code",
        id="abc-register",
    ),
    pytest.param(
        in_signals("lock = np.random.default_rng().bit_generator.lock"), "strategies cannot use", id="bitgen-lock"
    ),
    pytest.param(in_signals("Strategy.check = lambda cls, p: p"), "only its own objects", id="patch-base-class"),
    pytest.param(in_signals("SmaCross.name = 'evil'"), "only its own objects", id="patch-library-class"),
    pytest.param(in_signals("np.mean.evil = 1"), "only its own objects", id="patch-numpy-function"),
    pytest.param(in_signals("np.where = np.zeros"), "only its own objects", id="patch-module-view"),
    pytest.param(in_signals("indicators.sma = np.zeros"), "only its own objects", id="patch-indicators"),
    pytest.param(in_signals("del engine.HOLD"), "only its own objects", id="delete-from-module"),
    pytest.param(
        in_signals("from enum import Enum\nE = Enum('E', [('_' * 2 + 'getattr' + '_' * 2, len)])"),
        "functional Enum API",
        id="enum-functional-dunder",
    ),
    pytest.param(
        in_signals(
            "from strategies import blocks\nblocks.in_window(bars.ts, '09:00', '10:00', tz='dateutil//etc/passwd')"
        ),
        "give a time-zone name",
        id="time-zone-file",
    ),
    pytest.param(
        in_signals("from dataclasses import dataclass\ndataclass(SmaCross)"),
        "only to classes and functions the strategy defines",
        id="dataclass-on-library-class",
    ),
    pytest.param(
        HEAD
        + 'class Text(str):\n    def __str__(self):\n        return "{}"\n\n\n'
        + in_signals('t = Text("{0." + "_" * 2 + "class" + "_" * 2 + "}")\ns = t.format(self)')[len(HEAD) :],
        "reads an attribute",
        id="str-subclass-hiding-its-template",
    ),
]


@pytest.mark.parametrize("source, why", HOSTILE_AT_RUN_TIME)
def test_hostile_behaviour_is_refused_as_it_runs(source: str, why: str, sp500_bars, sp500_df) -> None:
    cls = load_strategy(source)
    with pytest.raises(StrategyCodeError, match=re.escape(why)) as caught:
        strategies.run(cls, sp500_bars)
    assert re.search(r"line \d+", str(caught.value))
    assert np.array_equal(sp500_bars.close, sp500_df["close"].to_numpy())
    assert np.where is not np.zeros and strategies.indicators.sma is not np.zeros
    assert strategies.Strategy.check.__qualname__ == "Strategy.check"
    assert strategies.SmaCross.name == "SmaCross" and engine.HOLD == -128
    assert not isinstance({}, collections.abc.Sequence)


def test_declarations_of_built_in_classes_are_reused_as_copies(sp500_bars) -> None:
    """A Param read from a library class is a copy: declaring it again cannot rename the original."""
    source = HEAD + (
        "class Reuse(Strategy):\n"
        "    window = SmaCross.fast\n\n"
        "    def signals(self, bars, window):\n"
        "        return np.where(bars.close > indicators.sma(bars.close, window), 1, 0).astype(np.int8)\n"
    )
    loaded = load_strategy(source)
    assert loaded.parameters()["window"]["default"] == 10
    assert strategies.run(loaded, sp500_bars, params={"window": 15}).stats["total_trades"] > 0
    assert strategies.SmaCross.fast.name == "fast" and "fast" in strategies.SmaCross.parameters()
    assert strategies.SmaCross().signals(sp500_bars, fast=5, slow=20).dtype == np.int8


def test_module_data_is_copied_so_the_real_module_is_unchanged(sp500_bars) -> None:
    before = dict(np.typecodes)
    source = in_signals("np.typecodes.clear()\nnp.sctypeDict.clear()\nassert not np.typecodes")
    strategies.run(load_strategy(source), sp500_bars)
    assert np.typecodes == before and "float64" in np.sctypeDict


def test_validate_never_runs_the_source() -> None:
    """Code that would fail when run passes validation; loading then says where it failed."""
    source = HEAD + "class Broken(Strategy):\n    n = Int(50, low=2, high=10)\n\n    def signals(self, bars):\n" + ZEROS
    assert validate_strategy_code(source) == (True, None)
    with pytest.raises(StrategyCodeError, match=r"line 6: loading the strategy: ParameterError"):
        load_strategy(source)


def test_an_error_lists_every_problem_with_line_and_column() -> None:
    source = in_signals("x = eval('1')\ny = self.__class__")
    with pytest.raises(StrategyCodeError) as caught:
        load_strategy(source)
    problems = caught.value.problems
    assert [(p.line, p.col) for p in problems] == [(9, 13), (10, 13)]
    assert "line 9:13: the name 'eval'" in str(caught.value)
    assert isinstance(caught.value, engine.EngineError) and isinstance(caught.value, ValueError)


def test_a_strategy_must_decide() -> None:
    source = HEAD + "class Idle(Strategy):\n    n = Int(5, low=1, high=10)\n"
    with pytest.raises(StrategyCodeError, match="neither signals"):
        load_strategy(source)


# -- legitimate sources ----------------------------------------------------------


def test_the_library_is_there_to_check() -> None:
    assert len(LIBRARY) >= 10 and {d["name"] for d in strategies.list_strategies()} >= {"SmaCross"}


def _param_sets(cls: type[strategies.Strategy]) -> list[dict[str, Any]]:
    sets: list[dict[str, Any]] = [{}]
    if "short" in cls.parameters():
        sets.append({"short": True})
    return sets


@pytest.mark.parametrize("original", LIBRARY, ids=lambda c: c.__name__)
def test_built_in_strategy_pasted_as_source_loads_and_agrees(original, sp500_bars) -> None:
    source = inspect.getsource(sys.modules[original.__module__])
    assert validate_strategy_code(source) == (True, None)
    loaded = load_strategy(source)
    assert loaded is not original and loaded.__name__ == original.__name__
    assert loaded.describe() == original.describe()
    cfg = engine.Config(fee_rate=0.001, allow_short=True)
    for params in _param_sets(original):
        mine, theirs = loaded().signals(sp500_bars, **params), original().signals(sp500_bars, **params)
        assert mine.dtype == theirs.dtype and np.array_equal(mine, theirs, equal_nan=True)
        got = strategies.run(loaded, sp500_bars, cfg, params).stats
        want = strategies.run(original, sp500_bars, cfg, params).stats
        assert got == pytest.approx(want, nan_ok=True, rel=0, abs=0)


def _plain(source: str, name: str) -> type[strategies.Strategy]:
    """The strategy class of ``source`` run as ordinary Python, for comparison."""
    module = types.ModuleType(f"plain_{name}")
    sys.modules[module.__name__] = module  # dataclasses looks the module up while the class is built
    try:
        exec(compile(source, name, "exec", dont_inherit=True), module.__dict__)  # noqa: S102 - our own files
    finally:
        del sys.modules[module.__name__]
    found = [
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, strategies.Strategy) and v.__module__ == f"plain_{name}"
    ]
    assert len(found) == 1
    return found[0]


@pytest.mark.parametrize("path", sorted(SOURCES.glob("*.py")), ids=lambda p: p.stem)
def test_legitimate_source_loads_and_runs_as_plain_python_does(path: Path, sp500_bars) -> None:
    source = path.read_text()
    assert validate_strategy_code(source) == (True, None)
    loaded, plain = load_strategy(source), _plain(source, path.stem)
    cfg = engine.Config(fee_rate=0.0005)
    got = strategies.run(loaded, sp500_bars, cfg)
    want = strategies.run(plain, sp500_bars, cfg)
    assert got.stats["total_trades"] > 0
    assert got.stats == pytest.approx(want.stats, nan_ok=True, rel=0, abs=0)
    assert loaded.describe() == plain.describe()


def test_legitimate_sources_cover_both_kinds() -> None:
    kinds = {load_strategy(p.read_text()).is_vectorized() for p in SOURCES.glob("*.py")}
    assert kinds == {True, False}


def test_every_allowed_module_imports_and_works(sp500_bars) -> None:
    imports = "\n".join(f"import {m}" for m in ALLOWED_MODULES)
    source = (
        imports
        + "\nimport numpy.random as npr\nfrom collections.abc import Sequence\n"
        + "from strategies.blocks.crossing import crossover\nfrom engine.signals import HOLD\n\n\n"
        + "class UsesAll(strategies.Strategy):\n"
        + "    def signals(self, bars):\n"
        + "        c = bars.close\n"
        + "        noise = npr.default_rng(7).normal(size=len(c)) * 0\n"
        + "        assert isinstance([1], Sequence) and HOLD == engine.HOLD\n"
        + "        assert statistics.fmean([1, 3]) == 2 and math.isclose(numpy.linalg.norm([3, 4]), 5)\n"
        + "        assert str(numpy.arange(2)) == '[0 1]' and f'{c[0]:.1f}' == '1228.1'\n"
        + "        up = crossover(c + noise, strategies.indicators.sma(c, 20))\n"
        + "        return numpy.where(up, 1, engine.HOLD).astype(numpy.int8)\n"
    )
    assert validate_strategy_code(source) == (True, None)
    res = strategies.run(load_strategy(source), sp500_bars)
    assert res.stats["total_trades"] >= 1 or res.stats["exposure"] > 0


def test_own_private_attributes_and_super_init_are_allowed(sp500_bars) -> None:
    source = HEAD + (
        "class Counter(Strategy):\n"
        "    n = Int(3, low=1, high=10)\n\n"
        "    def __init__(self, **params):\n"
        "        super().__init__(**params)\n"
        "        self._seen = 0\n\n"
        "    def on_bar(self, bar, ctx):\n"
        "        self._seen += 1\n"
        "        if self._seen == self.n:\n"
        "            ctx.buy(0.5)\n"
    )
    res = strategies.run(load_strategy(source), sp500_bars)
    assert res.stats["exposure"] > 0.9


# -- robustness: any text gets a verdict, never a crash ------------------------------

_SNIPPETS = [
    "__class__",
    ".format(",
    "eval(",
    "import os\n",
    "(",
    "]",
    "\n    ",
    "lambda: ",
    "'",
    "\x00",
    "10**10**10",
    "class X(Strategy):\n",
    "@property\n",
    "async ",
    "\\",
    "yield",
    "break\n",
]


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    original=st.sampled_from(LIBRARY),
    cut=st.tuples(st.floats(0, 1), st.integers(0, 40)),
    snippet=st.sampled_from(_SNIPPETS) | st.text(max_size=30),
)
def test_any_edit_of_a_source_gets_a_verdict_not_a_crash(original, cut, snippet) -> None:
    source = inspect.getsource(sys.modules[original.__module__])
    at = int(cut[0] * len(source))
    edited = source[:at] + snippet + source[at + cut[1] :]
    ok, error = validate_strategy_code(edited)
    assert (ok and error is None) or (not ok and isinstance(error, str) and error)
    if ok:
        try:
            load_strategy(edited)
        except StrategyCodeError as exc:
            assert "loading the strategy" in str(exc) or "Strategy subclass" in str(exc)


@given(st.text(max_size=200) | st.binary(max_size=200))
def test_any_text_gets_a_verdict(source) -> None:
    ok, error = validate_strategy_code(source)
    assert not ok and isinstance(error, str) and error.startswith("strategy code refused: ")
