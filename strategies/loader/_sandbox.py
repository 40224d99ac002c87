"""Run checked strategy code with a small set of builtins and views of the allowed modules."""

from __future__ import annotations

import ast
import builtins
import itertools
import sys
from types import CodeType, TracebackType
from typing import Any

from strategies.loader._errors import FILENAME, Problem, StrategyCodeError
from strategies.loader._guard import READ, WRITE, Guards
from strategies.loader._modules import ALLOWED_MODULES, ModuleView, build_views
from strategies.loader._origin import SANDBOX_PREFIX

SAFE_BUILTINS = tuple(
    """
    abs all any ascii bin bool bytearray bytes callable chr classmethod complex dict divmod
    enumerate filter float format frozenset hash hex int isinstance issubclass iter len list
    map max min next oct ord pow property range repr reversed round set slice sorted
    staticmethod str sum super tuple zip
    NotImplemented Ellipsis
    ArithmeticError AssertionError AttributeError Exception FloatingPointError ImportError
    IndexError KeyError LookupError NameError NotImplementedError OverflowError RuntimeError
    StopIteration TypeError ValueError ZeroDivisionError
    Warning RuntimeWarning UserWarning DeprecationWarning
    """.split()
)
"""The builtins strategy code sees (plus ``__build_class__``, which class statements
need, and a restricted ``__import__``). No I/O (not even print), no reflection
(getattr, vars, globals, type), no code from strings (eval, exec, compile)."""

_counter = itertools.count(1)


SIDE_EFFECT_IMPORTS = frozenset(
    "numpy time _strptime datetime _datetime locale encodings warnings re decimal _decimal copyreg string math".split()
)
"""Packages that C code (numpy's, ``datetime``'s) may import for itself while the strategy's
frame is the current one: numpy imports ``numpy._core.arrayprint`` the first time an
array is printed, through whatever ``__import__`` that frame's builtins hold."""


def _import(views: dict[str, ModuleView]) -> Any:
    """An ``__import__`` that hands out views of the allowed modules only."""
    real_import = builtins.__import__

    def restricted_import(
        name: str,
        globals: Any = None,  # noqa: A002 - the signature Python calls
        locals: Any = None,  # noqa: A002
        fromlist: Any = (),
        level: int = 0,
    ) -> ModuleView | None:
        if type(fromlist) is list and not level:
            # PyImport_Import (C code) passes a list and then reads sys.modules itself;
            # import statements pass a tuple or None. The module never reaches the strategy.
            if name.partition(".")[0] not in SIDE_EFFECT_IMPORTS:
                raise ImportError(f"module {name!r} is not available to strategies")
            real_import(name, None, None, (), 0)
            return None
        if level:
            raise ImportError("relative imports are not available to strategies")
        view = views.get(name)
        if view is None:
            raise ImportError(f"module {name!r} is not available to strategies (allowed: {', '.join(ALLOWED_MODULES)})")
        if not fromlist:
            return views[name.partition(".")[0]]
        for item in fromlist:
            if not isinstance(item, str) or item.startswith("_") or not hasattr(view, item):
                raise ImportError(f"{name}.{item} is not available to strategies")
        return view

    return restricted_import


def namespace(module: str) -> tuple[dict[str, Any], Guards]:
    """Fresh globals for one strategy module named ``module``, and its guards."""
    glb: dict[str, Any] = {"__name__": module, "__doc__": None}
    guards = Guards(module, glb)
    views = build_views(guards.owns)
    safe = {name: getattr(builtins, name) for name in SAFE_BUILTINS}
    safe["__build_class__"] = builtins.__build_class__
    safe["__import__"] = _import(views)
    glb["__builtins__"] = safe
    glb[READ] = guards.read()
    glb[WRITE] = guards.write()
    return glb, guards


def new_module_name() -> str:
    """A module name no real module has, unique in this process."""
    return f"{SANDBOX_PREFIX} {next(_counter)}>"


def _line_in_strategy(tb: TracebackType | None) -> int:
    line = 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def compile_checked(tree: ast.Module) -> CodeType:
    """The code object of a checked, guarded tree (compiling runs nothing).

    Raises:
        StrategyCodeError: the compiler refused it (``break`` outside a loop, ...).
    """
    try:
        return compile(tree, FILENAME, "exec", dont_inherit=True)
    except SyntaxError as exc:
        where = (exc.lineno or 0, exc.offset or 0)
        raise StrategyCodeError([Problem(*where, "syntax error", exc.msg)]) from None
    except (MemoryError, RecursionError, ValueError) as exc:
        raise StrategyCodeError(
            [Problem(0, 0, "the source", f"is too complex to compile ({exc!r}); simplify it")]
        ) from None


def execute(code: CodeType) -> tuple[dict[str, Any], Guards]:
    """Run compiled strategy code in a fresh namespace.

    Raises:
        StrategyCodeError: running the top level failed; the message names the line.
    """
    name = new_module_name()
    glb, guards = namespace(name)
    sys.modules[name] = _StandIn(glb)  # type: ignore[assignment]
    try:
        exec(code, glb)  # noqa: S102 - checked code, restricted builtins, guarded attributes
    except StrategyCodeError:
        raise
    except Exception as exc:
        line = _line_in_strategy(sys.exc_info()[2])
        raise StrategyCodeError([Problem(line, 0, "loading the strategy", f"{type(exc).__name__}: {exc}")]) from exc
    finally:
        sys.modules.pop(name, None)
    return glb, guards


class _StandIn:
    """What ``sys.modules`` holds for a strategy while it loads: ``dataclasses`` looks its
    class's module up there to read string annotations (``from __future__ import annotations``)."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.__dict__ = namespace
