"""Tunable parameters of a strategy: declared once, validated everywhere.

    class SmaCross(Strategy):
        fast = Int(10, low=2, high=100)
        slow = Int(30, low=5, high=400)
        constraints = ("fast < slow",)

A declared parameter reads as its value on an instance (``self.fast``) and as its
declaration on the class (``SmaCross.fast.schema()``). Constraints are small
expressions over parameter names — comparisons, arithmetic, ``and``/``or``/``not``
— that work on single values and on numpy arrays of candidates alike, so a sweep
can filter a grid before scheduling it.
"""

from __future__ import annotations

import ast
import math
import numbers
import operator
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from engine.errors import EngineError, did_you_mean


class ParameterError(EngineError, ValueError):
    """A parameter value, name or constraint that the strategy does not accept."""


@dataclass(frozen=True)
class Param:
    """One tunable parameter. Build with ``Int``, ``Float`` or ``Categorical``."""

    type: str
    default: Any
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple[Any, ...] | None = None
    doc: str = ""
    name: str = field(default="", compare=False)

    def __set_name__(self, owner: type, name: str) -> None:
        object.__setattr__(self, "name", name)

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        return obj.params[self.name]

    def schema(self) -> dict[str, Any]:
        """The JSON-ready description: type, low, high, step, log, default, choices."""
        return {
            "type": self.type,
            "low": self.low,
            "high": self.high,
            "step": self.step,
            "log": self.log,
            "default": self.default,
            "choices": list(self.choices) if self.choices is not None else None,
            "doc": self.doc,
        }

    def check(self, value: Any) -> Any:
        """``value`` coerced to this parameter's type, or ParameterError saying why not."""
        where = f"parameter {self.name!r}"
        if self.type == "categorical":
            assert self.choices is not None
            if value not in self.choices:
                raise ParameterError(f"{where} is {value!r}; choose one of {', '.join(map(repr, self.choices))}")
            return value
        kind = type(value)  # exact int / float first: the ABC checks below cost more than the rest
        if kind is not int and kind is not float and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
            raise ParameterError(f"{where} must be a number, not {value!r}")
        if self.type == "int":
            if kind is int or isinstance(value, numbers.Integral):
                v: Any = int(value)
            elif float(value).is_integer():
                v = int(value)
            else:
                raise ParameterError(f"{where} must be a whole number, not {value!r}")
        else:
            v = float(value)
            if not math.isfinite(v):
                raise ParameterError(f"{where} must be finite, not {value!r}")
        if (self.low is not None and v < self.low) or (self.high is not None and v > self.high):
            raise ParameterError(f"{where} is {value!r}; it must lie in [{self.low}, {self.high}]")
        return v

    def grid_size(self) -> int | None:
        """How many values ``grid()`` holds, worked out without listing them
        (None for a float without a step, which has no grid)."""
        if self.type == "categorical":
            assert self.choices is not None
            return len(self.choices)
        if self.low is None or self.high is None:
            return None
        if self.type == "int":
            return len(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        if not self.step:
            return None
        return steps_between(self.low, self.high, self.step)

    def grid(self) -> Sequence[Any]:
        """Every value a grid search visits: choices, or low..high by step."""
        if self.type == "categorical":
            assert self.choices is not None
            return list(self.choices)
        if self.low is None or self.high is None:
            raise ParameterError(f"parameter {self.name!r} needs low and high to be gridded")
        if self.type == "int":
            return range(int(self.low), int(self.high) + 1, int(self.step or 1))
        if not self.step:
            raise ParameterError(
                f"parameter {self.name!r} is a float without a step; give step= to grid it, or search it with a sampler"
            )
        count = steps_between(self.low, self.high, self.step)
        return [self.low + i * self.step for i in range(count)]


def steps_between(low: float, high: float, step: float) -> int:
    """How many values ``low, low + step, ...`` up to ``high`` (included) holds: an exact
    count from the bounds, never a list (a Python int, however large; 0 when high < low).

    Raises:
        ParameterError: a bound or the step is not finite, or the step is not positive.
    """
    if not (math.isfinite(low) and math.isfinite(high) and math.isfinite(step) and step > 0):
        raise ParameterError(
            f"a grid needs finite bounds and a positive step (got low={low}, high={high}, step={step})"
        )
    span = (high - low) / step
    if span < 0:
        return 0
    if not math.isfinite(span):  # (1e308 - -1e308) / 1 overflows: count the halves
        span = high / step - low / step
    return int(math.floor(span + 1e-9)) + 1


def Int(  # noqa: N802 - reads as a type in a class body
    default: int, low: int, high: int, step: int = 1, log: bool = False, doc: str = ""
) -> Param:
    """A whole-number parameter in [low, high]."""
    if not low <= default <= high:
        raise ParameterError(f"default {default} lies outside [{low}, {high}]")
    if step < 1:
        raise ParameterError(f"step must be >= 1, not {step}")
    return Param("int", int(default), low, high, step, log, None, doc)


def Float(  # noqa: N802
    default: float,
    low: float,
    high: float,
    step: float | None = None,
    log: bool = False,
    doc: str = "",
) -> Param:
    """A real-valued parameter in [low, high]; ``log`` asks samplers to search in log space."""
    if not low <= default <= high:
        raise ParameterError(f"default {default} lies outside [{low}, {high}]")
    if log and low <= 0:
        raise ParameterError(f"a log-scaled parameter needs low > 0, not {low}")
    if step is not None and step <= 0:
        raise ParameterError(f"step must be > 0, not {step}")
    return Param("float", float(default), float(low), float(high), step, log, None, doc)


def Categorical(default: Any, choices: Iterable[Any], doc: str = "") -> Param:  # noqa: N802
    """A parameter that takes one of a few values."""
    options = tuple(choices)
    if default not in options:
        raise ParameterError(f"default {default!r} is not among the choices {options!r}")
    return Param("categorical", default, choices=options, doc=doc)


# -- constraints ----------------------------------------------------------------

MAX_CONSTRAINT_LENGTH = 200
"""The longest constraint expression, in characters (``"fast < slow"`` is 11)."""

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}
_DIVISIONS = {ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod}
_CMPOPS = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_GRAMMAR = (
    ast.Compare,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Name,
    ast.Constant,
    ast.Load,
    ast.And,
    ast.Or,
    ast.Not,
    ast.USub,
    ast.UAdd,
    *_BINOPS,
    *_DIVISIONS,
    *_CMPOPS,
)
_NUMERIC_KINDS = frozenset("biuf")


class Constraint:
    """A rule between parameters, e.g. ``"fast < slow"`` or ``"slow >= 2 * fast"``.

    The grammar is small and checked when the strategy class is made: parameter
    names, numbers (``2``, ``0.5``, ``True``), ``+ - * / // %``, comparisons (chained
    too), ``and``/``or``/``not`` and parentheses, at most ``MAX_CONSTRAINT_LENGTH``
    characters. No strings, no calls, no attributes, no ``**``. It is evaluated on
    numbers only (a parameter holding text is an error that names it); a division by
    zero gives NaN, so a comparison with it is false, for one value and for arrays of
    candidates alike.
    """

    def __init__(self, expr: str, names: Iterable[str]) -> None:
        if not isinstance(expr, str):
            raise ParameterError(f"a constraint is a string such as 'fast < slow', not {expr!r}")
        self.expr = expr
        if len(expr) > MAX_CONSTRAINT_LENGTH:
            raise ParameterError(
                f"constraint {expr[:40]!r}... is {len(expr):,} characters long; the limit is {MAX_CONSTRAINT_LENGTH}"
            )
        try:
            tree = ast.parse(expr.strip(), mode="eval").body
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            why = getattr(exc, "msg", None) or str(exc)
            raise ParameterError(f"constraint {expr!r} is not an expression: {why}") from None
        self._tree = tree
        self._check_nodes(tree)
        known = set(names)
        self._names: tuple[str, ...] = ()
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                if node.id not in known:
                    more = did_you_mean(node.id, known)
                    raise ParameterError(f"constraint {expr!r} names {node.id!r}, not a parameter{more}")
                if node.id not in self._names:
                    self._names += (node.id,)

    def _check_nodes(self, node: ast.AST) -> None:
        for sub in ast.walk(node):
            if not isinstance(sub, _GRAMMAR):
                what = "**" if isinstance(sub, ast.Pow) else type(sub).__name__
                raise ParameterError(
                    f"constraint {self.expr!r} uses {what}; constraints take parameter names, "
                    "numbers, + - * / // %, comparisons, and/or/not"
                )
            if isinstance(sub, ast.Constant) and not isinstance(sub.value, (int, float)):
                raise ParameterError(
                    f"constraint {self.expr!r} holds the {type(sub.value).__name__} {sub.value!r}; "
                    "constraints compare numbers only"
                )

    def _number(self, name: str, value: Any) -> Any:
        """``value`` of parameter ``name`` as a number (int arrays as float64: no wrap-around)."""
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in _NUMERIC_KINDS:
                raise ParameterError(f"constraint {self.expr!r} uses {name!r}, whose values are not numbers")
            return value.astype(np.float64) if value.dtype.kind in "iu" else value
        if type(value) is int or type(value) is float:
            return value
        if isinstance(value, (numbers.Real, np.bool_)):
            return value.item() if isinstance(value, np.generic) else value
        raise ParameterError(f"constraint {self.expr!r} uses {name!r}, which is {value!r}, not a number")

    def __call__(self, values: dict[str, Any]) -> Any:
        """True/False for one parameter set, or a bool array for arrays of candidates.

        Raises:
            ParameterError: a parameter it names is missing or not a number, or the
                arithmetic fails (an overflow).
        """
        try:
            env = {name: self._number(name, values[name]) for name in self._names}
        except KeyError as exc:
            raise ParameterError(f"constraint {self.expr!r} needs parameter {exc.args[0]!r}") from None
        try:
            if not any(isinstance(v, np.ndarray) for v in env.values()):
                return _eval(self._tree, env)  # plain numbers: no NumPy state to set (a sweep checks thousands)
            with np.errstate(all="ignore"):
                return _eval(self._tree, env)
        except (ArithmeticError, TypeError, ValueError) as exc:
            raise ParameterError(f"constraint {self.expr!r} cannot be evaluated: {type(exc).__name__}: {exc}") from None

    def __repr__(self) -> str:
        return f"Constraint({self.expr!r})"


def _divide(op: Any, a: Any, b: Any) -> Any:
    """``op`` (/, //, %) with NaN where the divisor is zero."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        b = np.asarray(b, dtype=np.float64)
        return op(np.asarray(a, dtype=np.float64), np.where(b == 0, np.nan, b))
    if b == 0:
        return math.nan
    return op(float(a), float(b)) if isinstance(a, float) or isinstance(b, float) else op(a, b)


def _both(a: Any, b: Any, vectorised: Any, scalar: Any) -> Any:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return vectorised(a, b)
    return scalar(a, b)


def _eval(node: ast.AST, env: dict[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, env)
        if isinstance(node.op, ast.Not):
            return np.logical_not(v) if isinstance(v, np.ndarray) else not v
        return -v if isinstance(node.op, ast.USub) else +v
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, env), _eval(node.right, env)
        if type(node.op) in _DIVISIONS:
            return _divide(_DIVISIONS[type(node.op)], left, right)
        return _BINOPS[type(node.op)](left, right)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, env)
        result: Any = True
        for op, right_node in zip(node.ops, node.comparators):
            right = _eval(right_node, env)
            step = _CMPOPS[type(op)](left, right)
            result = _both(result, step, np.logical_and, lambda x, y: x and y)
            left = right
        return result
    if isinstance(node, ast.BoolOp):
        values = [_eval(v, env) for v in node.values]
        if isinstance(node.op, ast.And):
            out = values[0]
            for v in values[1:]:
                out = _both(out, v, np.logical_and, lambda x, y: x and y)
            return out
        out = values[0]
        for v in values[1:]:
            out = _both(out, v, np.logical_or, lambda x, y: x or y)
        return out
    raise ParameterError(f"cannot evaluate {type(node).__name__}")  # guarded by _check_nodes
