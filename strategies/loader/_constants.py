"""Constant expressions, worked out with their size checked before each step.

``10 ** 10 ** 10`` or ``"a" * 10 ** 10`` would take the interpreter hours or all
of memory; ``fold`` computes constant subexpressions the cheap way round (sizes
first) and refuses the ones that would be too big, wherever they appear.
"""

from __future__ import annotations

import ast
import math
import operator
from typing import Any, Callable

from strategies.loader._limits import MAX_CONSTANT_LENGTH, MAX_INT_BITS


class TooBig(Exception):
    """A constant expression whose value would exceed the loader's limits."""


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()
"""What ``fold`` returns for an expression that is not constant."""

_SEQUENCES = (str, bytes, tuple, list)

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
    ast.BitOr: operator.or_,
    ast.BitAnd: operator.and_,
    ast.BitXor: operator.xor,
}
_UNARY: dict[type, Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Invert: operator.invert,
    ast.Not: operator.not_,
}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 24 else text[:20] + "..."


def _bits(value: Any) -> int:
    return abs(value).bit_length() if isinstance(value, int) else 0


def _size(value: Any) -> int:
    return len(value) if isinstance(value, _SEQUENCES) else 0


def check_value(value: Any) -> None:
    """Raise TooBig when a constant is larger than the limits allow."""
    if isinstance(value, int) and _bits(value) > MAX_INT_BITS:
        raise TooBig(f"an integer of {_bits(value)} bits (the limit is {MAX_INT_BITS})")
    if _size(value) > MAX_CONSTANT_LENGTH:
        raise TooBig(f"a constant of {_size(value)} items (the limit is {MAX_CONSTANT_LENGTH})")


def _count(value: Any) -> int | None:
    """A known integer (bool included) as a repeat count, else None."""
    return int(value) if isinstance(value, int) and value is not UNKNOWN else None


def check_binop(op: ast.operator, left: Any, right: Any) -> None:
    """Raise TooBig when ``left <op> right`` would be too big to compute; operands may be UNKNOWN.

    A sequence literal with unknown items counts by its length: ``[x] * 10 ** 9``
    is refused. A power with an unknown base and a constant exponent above
    MAX_INT_BITS is refused too (``n ** 10 ** 6``); ``x * 1_000_000`` is not.
    """
    known = left is not UNKNOWN and right is not UNKNOWN
    if isinstance(op, ast.Pow):
        if isinstance(right, int) and right > 0:
            if left is UNKNOWN:
                if right > MAX_INT_BITS:
                    raise TooBig(f"a power with the exponent {right} (the limit is {MAX_INT_BITS})")
            elif isinstance(left, int) and abs(left) > 1 and (_bits(left) - 1) * right > MAX_INT_BITS:
                raise TooBig(f"{_short(left)} ** {right} (at least {(_bits(left) - 1) * right} bits)")
        return
    if isinstance(op, ast.LShift):
        if isinstance(right, int) and right > 0 and (left is UNKNOWN or left != 0):
            grown = right + (_bits(left) if left is not UNKNOWN else 0)
            if grown > MAX_INT_BITS:
                raise TooBig(f"a shift to {grown} bits (the limit is {MAX_INT_BITS})")
        return
    if isinstance(op, ast.Mult):
        for seq, count in ((left, right), (right, left)):
            n = _count(count)
            if n is None:
                continue
            if isinstance(seq, _SEQUENCES) and len(seq) * n > MAX_CONSTANT_LENGTH:
                raise TooBig(f"repeating {len(seq)} items {n} times (the limit is {MAX_CONSTANT_LENGTH})")
            if known and isinstance(seq, int) and _bits(seq) + _bits(n) > MAX_INT_BITS + 1:
                raise TooBig(f"{_short(seq)} * {n} (about {_bits(seq) + _bits(n)} bits)")
        return
    if isinstance(op, ast.Add) and known and _size(left) + _size(right) > MAX_CONSTANT_LENGTH:
        raise TooBig(f"a concatenation of {_size(left) + _size(right)} items")


def fold(node: ast.AST, names: dict[str, Any] | None = None) -> Any:
    """The value of a constant expression, or UNKNOWN; raise TooBig for one too large.

    Args:
        node: an expression node.
        names: values of module-level constants already folded, by name.
    """
    if isinstance(node, ast.Constant):
        check_value(node.value)
        return node.value
    if isinstance(node, ast.Name) and names is not None:
        return names.get(node.id, UNKNOWN)
    if isinstance(node, (ast.Tuple, ast.List)):
        items = [fold(e, names) for e in node.elts]
        if any(i is UNKNOWN for i in items) or any(isinstance(e, ast.Starred) for e in node.elts):
            return UNKNOWN
        return tuple(items) if isinstance(node, ast.Tuple) else items
    if isinstance(node, ast.UnaryOp):
        value = fold(node.operand, names)
        if value is UNKNOWN:
            return UNKNOWN
        try:
            return _UNARY[type(node.op)](value)
        except Exception:  # a TypeError the program would meet at run time
            return UNKNOWN
    if isinstance(node, ast.BinOp):
        left, right = fold(node.left, names), fold(node.right, names)
        if isinstance(node.left, (ast.List, ast.Tuple)) and left is UNKNOWN:
            left = [UNKNOWN] * len(node.left.elts)  # [x] * n: the length is known
        if isinstance(node.right, (ast.List, ast.Tuple)) and right is UNKNOWN:
            right = [UNKNOWN] * len(node.right.elts)
        check_binop(node.op, left, right)
        if UNKNOWN in (left, right) or _holds_unknown(left) or _holds_unknown(right):
            return UNKNOWN
        try:
            value = _BINOPS[type(node.op)](left, right)
        except Exception:  # ZeroDivisionError, TypeError...: the program's own error
            return UNKNOWN
        if isinstance(value, float) and not math.isfinite(value):
            return value
        check_value(value)
        return value
    return UNKNOWN


def _holds_unknown(value: Any) -> bool:
    return isinstance(value, list) and any(v is UNKNOWN for v in value)
