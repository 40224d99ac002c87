"""strategies.loader: the two escapes of issue 16 and their variants, refused.

- Object dtypes over raw memory: ``np.ndarray((1,), dtype="O", buffer=bytearray(...))``
  forges object pointers from bytes the strategy wrote (and through them the real
  ``exec``). Every way found to an object array over written memory, or to an object
  dtype at all, is refused — statically where the source shows it, as it runs where
  it is hidden.
- Templates on any ``str`` subclass: ``UserString("{0.__globals__...}").format(f)``
  skipped the template check, which only looked at ``str`` receivers.

The language layer is the first wall only (the jail is the boundary); these tests
keep it honest.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import strategies
from strategies.loader import StrategyCodeError, load_strategy, validate_strategy_code
from tests.strategies.test_loader import HEAD, at_top, in_signals

SECRET_READ = "{0.__globals__[sys].modules[os].environ[HOME]}"


def with_classes(classes: str, code: str) -> str:
    """A strategy whose ``signals`` runs ``code``, after top-level ``classes``."""
    return HEAD + classes + "\n\n" + in_signals(code)[len(HEAD) :]


STATIC = [
    pytest.param(in_signals('a = np.ndarray((1,), dtype="O", buffer=bytearray(8))'), "raw memory", id="ndarray-buffer"),
    pytest.param(in_signals("a = np.ndarray((1,), np.float64)"), "raw memory", id="ndarray-call"),
    pytest.param(in_signals('a = np.zeros(3, dtype="O")'), "object arrays", id="zeros-dtype-O"),
    pytest.param(in_signals('a = np.array([1], dtype="object")'), "object arrays", id="array-dtype-object"),
    pytest.param(in_signals('a = np.zeros(3).astype("|O")'), "object arrays", id="astype-O"),
    pytest.param(in_signals('a = np.zeros(3, "O8")'), "object arrays", id="positional-O8"),
    pytest.param(
        in_signals('a = np.zeros(2, dtype=[("x", "f8"), ("y", "O")])'), "object arrays", id="structured-object-field"
    ),
    pytest.param(in_signals("a = np.zeros(3, dtype=np.object_)"), "not available", id="np-object_"),
    pytest.param(in_signals('a = np.frombuffer(bytearray(8), "O")'), "not available", id="frombuffer"),
    pytest.param(in_signals('a = np.fromstring("1 2", sep=" ")'), "not available", id="fromstring"),
    pytest.param(
        in_signals('a = np.recarray((1,), dtype=[("x", "f8")], buf=bytearray(8))'), "raw memory", id="recarray-buf"
    ),
    pytest.param(at_top("from numpy import chararray"), "not available", id="chararray"),
    pytest.param(in_signals("f = bars.close.__array_interface__"), "double-underscore", id="array-interface"),
    pytest.param(in_signals("p = bars.close.ctypes.data"), "interpreter's internals", id="array-ctypes"),
    pytest.param(at_top("import string"), "strategies may import only", id="string-formatter"),
    pytest.param(at_top("from string import Formatter"), "strategies may import only", id="from-string-formatter"),
]


@pytest.mark.parametrize("source, why", STATIC)
def test_escape_is_refused_before_anything_runs(source: str, why: str) -> None:
    ok, error = validate_strategy_code(source)
    assert not ok and error is not None and why in error, error
    with pytest.raises(StrategyCodeError, match=re.escape(why)):
        load_strategy(source)


AT_RUN_TIME = [
    # -- object dtypes and raw memory, hidden from the static checks ----------------
    pytest.param(
        in_signals('k = {"dtype": "O"}\nk["buf" + "fer"] = bytearray(8)\nA = np.ndarray\na = A((1,), **k)'),
        "raw memory",
        id="ndarray-buffer-by-keywords",
    ),
    pytest.param(
        in_signals('A = np.ndarray\na = A((1,), "f8", bytearray(8))'),
        "raw memory",
        id="ndarray-buffer-positional",
    ),
    pytest.param(
        in_signals('A = np.ndarray\nd = "o".upper()\na = A((1,), d)'),
        "object arrays",
        id="ndarray-object-dtype",
    ),
    pytest.param(in_signals('d = "o".upper()\na = np.zeros(1, d)'), "object arrays", id="dtype-built-at-run-time"),
    pytest.param(in_signals("a = np.empty(2, dtype=dict)"), "object arrays", id="python-class-as-dtype"),
    pytest.param(in_signals("a = np.array([1.0, 2.0], dtype=list)"), "object arrays", id="object-array-of-values"),
    pytest.param(
        in_signals("a = np.array([1]).astype(dict)\nb, i = np.unique(a, return_index=True)"),
        "object arrays",
        id="astype-python-class",
    ),
    pytest.param(
        in_signals("a = np.add(np.zeros(2), 1, dtype=dict)\nb = a.tolist()"),
        "object array",
        id="ufunc-object-loop",
    ),
    pytest.param(in_signals("m = np.zeros(8).data"), "raw memory", id="array-data"),
    pytest.param(in_signals("m = bars.close.data.cast('B')"), "raw memory", id="input-array-data"),
    pytest.param(in_signals("m = np.ndarray.data"), "raw memory", id="unbound-array-data"),
    pytest.param(
        in_signals("f = np.zeros(1)\ng = f.view(dict)"),
        "Cannot change data-type",
        id="view-as-object",
    ),
    pytest.param(
        in_signals("f = np.zeros(1)\ng = f.getfield(dict, 0)"),
        "object array",
        id="getfield-object",
    ),
    # -- templates on any str subclass ------------------------------------------------
    pytest.param(
        with_classes(
            "from collections import UserString\nimport typing\n\n\nclass U(UserString):\n    pass\n",
            f"t = {SECRET_READ!r}.replace('_', '_')\ns = U(t).format(typing.cast)",
        ),
        "plain str template",
        id="userstring-subclass-secret-read",
    ),
    pytest.param(
        in_signals('from collections import UserString\ns = UserString("{0.clo" + "se}").format(bars)'),
        "plain str template",
        id="userstring",
    ),
    pytest.param(
        in_signals('from collections import UserString\ns = UserString("{b.clo" + "se}").format_map({"b": bars})'),
        "plain str template",
        id="userstring-format-map",
    ),
    pytest.param(
        with_classes(
            "class T(str):\n    def format(self, *args):\n        return super().format(*args)\n",
            's = T("{0.clo" + "se}").format(bars)',
        ),
        "reads an attribute",
        id="str-subclass-own-format",
    ),
    pytest.param(
        with_classes(
            "class T(str):\n    pass\n",
            'f = T("{0[0].clo" + "se}").format_map\ns = f([bars])',
        ),
        "reads an attribute",
        id="str-subclass-format-map",
    ),
    pytest.param(
        with_classes(
            "from collections import UserString\n\n\nclass M(UserString):\n    def show(self, x):\n"
            "        return UserString.format(self, x)\n",
            's = M("{0.clo" + "se}").show(bars)',
        ),
        "plain str template",
        id="userstring-unbound-format",
    ),
    pytest.param(
        with_classes(
            "from collections import UserString\n\n\nclass M(UserString):\n    fmt = UserString.format\n",
            's = M("{0.clo" + "se}").fmt(bars)',
        ),
        "plain str template",
        id="userstring-format-under-another-name",
    ),
]


@pytest.mark.parametrize("source, why", AT_RUN_TIME)
def test_escape_is_refused_as_it_runs(source: str, why: str, sp500_bars) -> None:
    with pytest.raises((StrategyCodeError, TypeError), match=re.escape(why)):
        strategies.run(load_strategy(source), sp500_bars)  # some refuse while loading already


def test_subclassing_ndarray_is_refused_while_loading() -> None:
    source = at_top("class Raw(np.ndarray):\n    pass")
    with pytest.raises(StrategyCodeError, match="cannot subclass"):
        load_strategy(source)


def test_the_ndarray_a_strategy_sees_still_works(sp500_bars) -> None:
    """isinstance, annotations, plain construction and numeric dtypes keep working."""
    source = HEAD + (
        "class Plain(Strategy):\n"
        "    def signals(self, bars) -> np.ndarray:\n"
        "        assert isinstance(bars.close, np.ndarray) and not isinstance(1.0, np.ndarray)\n"
        "        make = np.ndarray  # np.ndarray(...) itself is refused by the static checks\n"
        "        a = make((len(bars.close),), np.int8)\n"
        "        a[:] = 0\n"
        "        b = np.zeros(3, dtype='f8').astype('i4').view('u4')\n"
        "        assert b.dtype == np.uint32 and np.array(['a']).dtype.kind == 'U'\n"
        "        s = np.nonzero(np.ones(2))\n"
        "        t = '{0} {x:>4}'.format(1, x=2) + '{a}'.format_map({'a': 1})\n"
        "        return a\n"
    )
    sig = load_strategy(source)().signals(sp500_bars)
    assert sig.dtype == np.int8 and not sig.any()


def test_own_format_method_is_still_allowed(sp500_bars) -> None:
    source = HEAD + (
        "class Fmt:\n"
        "    def format(self, x):\n"
        "        return x\n\n\n"
        "class Plain(Strategy):\n"
        "    def signals(self, bars):\n"
        "        return np.zeros(len(bars.close), np.int8) + Fmt().format(0)\n"
    )
    assert not load_strategy(source)().signals(sp500_bars).any()


def test_real_numpy_is_unchanged_after_a_load() -> None:
    load_strategy(in_signals("a = np.zeros(1)"))
    assert np.ndarray.__module__ == "numpy" and np.zeros.__module__ == "numpy"
    a = np.ndarray((1,), dtype=np.float64, buffer=bytearray(8))  # trusted code keeps all of numpy
    assert a.shape == (1,)
