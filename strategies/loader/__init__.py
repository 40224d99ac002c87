"""Load strategies uploaded as source code, safely: check first, then run confined.

    from strategies.loader import load_strategy, validate_strategy_code
    ok, error = validate_strategy_code(source)     # never runs anything
    MyStrategy = load_strategy(source)             # the one Strategy subclass it defines

What a source must be (``validate_strategy_code`` checks all of it on the syntax
tree, without running anything; ``load_strategy`` checks it again, then runs it):

- at most ``MAX_SOURCE_BYTES`` of UTF-8 text, with a syntax tree at most
  ``MAX_AST_DEPTH`` deep and ``MAX_AST_NODES`` large; constants and constant
  expressions no bigger than ``MAX_INT_BITS`` / ``MAX_CONSTANT_LENGTH``
  (``10 ** 10 ** 10`` and ``"a" * 10 ** 10`` are refused before compiling);
- imports only from numpy (and numpy.random, .linalg, .fft), math, statistics,
  collections, dataclasses, typing, enum, abc, functools, itertools, operator,
  and anvil's ``strategies`` (``base``, ``params``, ``context``, ``indicators``,
  ``blocks`` with its cross-sectional ``blocks.cross``, ``universe``) and ``engine`` (``errors``, ``signals``) — and of those only the
  public, side-effect-free names (no ``np.load``, ``np.lib``, ``np.ctypeslib``,
  ``operator.attrgetter``, ``typing.get_type_hints``, ``engine.Store``...; the
  list is ``_modules.POLICIES``);
- no double-underscore names or attributes (except defining ``__init__`` and a
  few other plain special methods, and calling ``super().__init__``), no
  single-underscore attributes except on ``self``/``cls``, no frame, traceback,
  generator or code attributes (``gi_frame``, ``f_globals``, ``tb_frame``,
  ``co_code``...), no ``exec``, ``eval``, ``compile``, ``open``, ``input``,
  ``print``, ``breakpoint``, ``getattr``/``setattr``/``globals``/``locals``/``vars``,
  ``type``, no ``str.format`` template that reads attributes or items, no
  metaclass or class keywords, no bare ``except:``, no async, no ``match``;
  identifiers are plain ASCII (after NFKC normalisation, as Python reads them);
- top-level and class-body code is declarations only (see ``_loadtime``): no
  loops, calls or comprehensions run while loading, except declarations such
  as ``Int(10, low=2, high=100)``;
- exactly one class deriving from ``strategies.Strategy`` (other helper classes
  are fine), which defines ``signals`` or ``on_bar`` — or, deriving from
  ``strategies.UniverseStrategy``, ``weights`` or ``on_bar``.

What running it guarantees: the code runs with a small set of builtins (no I/O,
no reflection, no code from strings) and a restricted ``__import__`` that hands
out read-only views of the allowed modules, never the modules themselves. Every
attribute read or write is rewritten through guards (``_guard``): names are
checked again as the code runs, a value may be read only if it comes from an
allowed module or from the strategy itself (never a module, frame, traceback,
code object, pandas or cffi object, nor ``eval`` and its kind), ``str.format``
templates are checked, and only the strategy's own objects can be changed (the
arrays it receives stay read-only, module views and anvil's classes cannot be
patched). Decorators that change their argument in place (``dataclass``,
``total_ordering``, ``abstractmethod``) apply only to the strategy's own classes
and functions, ``Enum("Name", ...)`` is not available (it would build special
methods from strings), and the time-of-day blocks take only time-zone names
(pandas reads ``tz="dateutil//etc/passwd"`` as a file). So the code cannot reach
the file system, the network, other modules, or the interpreter's internals
through the ways known to escape Python sandboxes (subclass walks, format
strings, frames of generators and tracebacks, ``__globals__``, encoded imports,
homoglyphs, metaclasses, descriptors handed back by ``__set_name__``).

What it does not guarantee: this is a static + restricted-builtins sandbox in
the same process, not an OS-level one, and in-process Python sandboxes have a
long history of escapes nobody foresaw; workers that run uploaded strategies
should still be unprivileged, without credentials, in a container. CPU time and
memory of a running strategy (``while True``, ``np.zeros(10**12)``) are bounded
by the cluster layer's timeouts and worker limits, not here; a crash inside
numpy or anvil's C core caused by legal arguments is not prevented here; and a
loaded class must be shipped to workers as its source (``load_strategy`` again
there; the class carries it as ``anvil_source``), never pickled, since
unpickling rebuilds its functions with ordinary builtins.

Raises ``StrategyCodeError`` (an ``EngineError`` and a ``ValueError``) whose
message lists each problem as ``line L:C: what: why``.
"""

from __future__ import annotations

import ast
from typing import Any

from strategies.base import Strategy
from strategies.loader._errors import Problem, StrategyCodeError
from strategies.loader._limits import (
    MAX_AST_DEPTH,
    MAX_AST_NODES,
    MAX_CONSTANT_LENGTH,
    MAX_INT_BITS,
    MAX_SOURCE_BYTES,
)
from strategies.loader._loadtime import check_load_time
from strategies.loader._modules import ALLOWED_MODULES
from strategies.loader._parse import as_text, parse
from strategies.loader._rewrite import guarded
from strategies.loader._rules import check_nodes, problem
from strategies.loader._sandbox import compile_checked, execute

SOURCE_ATTRIBUTE = "anvil_source"
"""The attribute ``load_strategy`` sets on the class it returns: the source it came from,
so the cluster ships the source (and loads it again on the worker), never the class."""

__all__ = [
    "ALLOWED_MODULES",
    "MAX_AST_DEPTH",
    "MAX_AST_NODES",
    "MAX_CONSTANT_LENGTH",
    "MAX_INT_BITS",
    "MAX_SOURCE_BYTES",
    "Problem",
    "SOURCE_ATTRIBUTE",
    "StrategyCodeError",
    "load_strategy",
    "validate_strategy_code",
]


def _checked(source: Any) -> ast.Module:
    """The syntax tree of ``source`` once every static rule passes."""
    tree = parse(source)
    problems = check_nodes(tree)
    load_problems, classes = check_load_time(tree)
    problems += load_problems
    if not classes:
        problems.append(
            Problem(
                0,
                0,
                "the source",
                "defines no class deriving from Strategy; write `from strategies import Strategy` "
                "and `class MyStrategy(Strategy): ...`",
            )
        )
    for extra in classes[1:]:
        names = ", ".join(c.name for c in classes)
        problems.append(
            problem(
                extra,
                f"the class {extra.name!r}",
                f"a source defines exactly one Strategy subclass (found {names})",
            )
        )
    if problems:
        raise StrategyCodeError(problems)
    return tree


def validate_strategy_code(source: str) -> tuple[bool, str | None]:
    """Check strategy source without running any of it (it is parsed, checked and compiled).

    Returns:
        ``(True, None)`` when ``load_strategy`` would accept the source's code, or
        ``(False, message)`` with every problem as ``line L:C: what: why``.
    """
    try:
        compile_checked(guarded(_checked(source)))
    except StrategyCodeError as exc:
        return False, str(exc)
    return True, None


def load_strategy(source: str) -> type[Strategy]:
    """The Strategy subclass that ``source`` defines, checked and run in the sandbox.

    Raises:
        StrategyCodeError: the source breaks a rule, fails while loading, or does
            not define exactly one Strategy subclass with ``signals`` or ``on_bar``.
    """
    namespace, guards = execute(compile_checked(guarded(_checked(source))))
    found: list[type[Strategy]] = []
    for value in namespace.values():
        if isinstance(value, type) and issubclass(value, Strategy) and guards.owns(value) and value not in found:
            found.append(value)
    if len(found) != 1:
        names = ", ".join(c.__name__ for c in found) or "none"
        raise StrategyCodeError.at(
            0,
            0,
            "the source",
            f"must define exactly one Strategy subclass at its top level (found {names})",
        )
    cls = found[0]
    decides = "weights" if cls.is_universe() else "signals"
    if not (callable(getattr(cls, decides, None)) or callable(getattr(cls, "on_bar", None))):
        what = "weights(self, panel, **params)" if cls.is_universe() else "signals(self, bars, **params)"
        raise StrategyCodeError.at(
            0,
            0,
            f"the class {cls.__name__}",
            f"defines neither {what} nor on_bar(self, bar, ctx); a strategy needs one",
        )
    setattr(cls, SOURCE_ATTRIBUTE, as_text(source))
    return cls
