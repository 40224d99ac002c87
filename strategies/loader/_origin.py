"""Where an object comes from decides whether a strategy may hold it.

A strategy only ever touches objects of the modules it may import (numpy, the
allowed standard library, anvil's public strategy and engine modules), of plain
Python, and of its own making. Anything else — a module object, a frame, a
traceback, code, a pandas frame with its ``to_csv``, cffi's ``ffi``, the real
``eval`` — is refused the moment an attribute would hand it over or be read from
it. Nothing here calls code the strategy wrote: verdicts read only ``type(obj)``
and, for classes and functions, their ``__module__``.
"""

from __future__ import annotations

import builtins
import functools
import types
from typing import Any, Callable

SANDBOX_PREFIX = "<strategy upload"
"""Every loaded strategy's module name starts so (it can never be a real module's name)."""

ALLOWED_ROOTS = frozenset(
    {
        "builtins",
        "numpy",
        "math",
        "cmath",
        "statistics",
        "collections",
        "_collections",
        "_collections_abc",
        "dataclasses",
        "typing",
        "enum",
        "abc",
        "_abc",
        "functools",
        "_functools",
        "itertools",
        "operator",
        "_operator",
        "fractions",
        "decimal",
        "_decimal",
        "_pydecimal",
        "numbers",
        "datetime",
        "_datetime",
        "types",
        "strategies",
        "engine",
    }
)
"""Top-level packages whose objects a strategy may hold."""

DENIED_MODULES = (
    "numpy.ctypeslib",
    "numpy.testing",
    "numpy.f2py",
    "numpy.distutils",
    "numpy.lib.npyio",
    "numpy.lib._npyio_impl",
    "numpy.lib._datasource",
    "numpy.lib.format",
    "numpy.lib._format_impl",
    "numpy.lib.utils",
    "numpy.lib._utils_impl",
    "numpy.lib.stride_tricks",
    "numpy.lib._stride_tricks_impl",
    "numpy._pytesttester",
    "numpy.core._internal",
    "numpy._core._internal",
    "numpy._core.memmap",
    "strategies.loader",
    "engine.store",
    "engine.demo",
)
"""Modules (and their submodules) inside the allowed packages that read or write
files, reach raw memory, or are the loader itself."""

_DANGEROUS_BUILTINS = (
    "eval",
    "exec",
    "compile",
    "open",
    "input",
    "breakpoint",
    "help",
    "print",
    "__import__",
    "__build_class__",
    "getattr",
    "setattr",
    "delattr",
    "hasattr",
    "globals",
    "locals",
    "vars",
    "dir",
    "id",
    "type",
    "memoryview",
)
_REFUSED_TYPES: tuple[type, ...] = (
    types.ModuleType,
    types.FrameType,
    types.TracebackType,
    types.CodeType,
    types.CellType,
    memoryview,  # raw memory: over an object array's pointers, a way to forge objects
)
_REFUSED_IDS = frozenset(
    [id(getattr(builtins, n)) for n in _DANGEROUS_BUILTINS if hasattr(builtins, n)]
    + [id(t) for t in (*_REFUSED_TYPES, types.FunctionType, types.MethodType)]
)

_JUDGED_BY_ORIGIN: tuple[type, ...] = (
    type,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.WrapperDescriptorType,
    types.MethodWrapperType,
    types.MethodDescriptorType,
    types.ClassMethodDescriptorType,
    staticmethod,
    classmethod,
    functools.partial,
)

REFUSE, ALLOW, BY_ORIGIN, COPY = 0, 1, 2, 3
"""Verdicts on a type: refuse its instances, allow them, judge each by its own
``__module__`` (classes, functions), or hand out a copy (class-level declarations
such as a ``Param``, whose ``__set_name__`` would rename the original)."""


def module_allowed(module: object) -> bool:
    """Whether objects defined in ``module`` may reach a strategy."""
    if module is None:
        return True  # methods of built-in objects: their owner was judged already
    if type(module) is not str:
        return False  # never hash or compare an unknown object: its __eq__ may be the strategy's
    return _module_allowed(module)


@functools.lru_cache(maxsize=4096)
def _module_allowed(module: str) -> bool:
    if module.startswith(SANDBOX_PREFIX):
        return True
    parts = module.split(".")
    if parts[0] not in ALLOWED_ROOTS:
        return False
    if any(module == d or module.startswith(d + ".") for d in DENIED_MODULES):
        return False
    if parts[0] in ("strategies", "engine") and any(p.startswith("_") for p in parts[1:]):
        return False  # anvil's private modules: the C bindings, helpers
    return True


def module_of_type(t: type) -> str | None:
    """The module ``t`` was defined in, as a str (None if it holds anything else)."""
    module = type.__dict__["__module__"].__get__(t)  # what t.__module__ reads, metaclasses aside
    return module if type(module) is str else None


def type_verdict(t: type) -> int:
    """REFUSE, ALLOW, BY_ORIGIN or COPY for instances of ``t``."""
    if issubclass(t, _REFUSED_TYPES):
        return REFUSE
    if issubclass(t, _JUDGED_BY_ORIGIN) or isinstance(
        t.__dict__.get("__module__"), (types.MemberDescriptorType, types.GetSetDescriptorType)
    ):
        return BY_ORIGIN  # classes and functions: each says where it was defined (Cython's too)
    module = module_of_type(t)
    if module is None or not module_allowed(module):
        return REFUSE
    if hasattr(t, "__set_name__") and not module.startswith(SANDBOX_PREFIX):
        return COPY
    return ALLOW


_BOUND = (types.BuiltinMethodType, types.MethodType, types.MethodWrapperType)


def judged_by_origin(value: Any, holdable: Callable[[Any], bool] | None = None) -> bool:
    """The verdict on a class or function: not a dangerous built-in, from an allowed module,
    and, for a bound method, bound to an object a strategy may hold (not a file, a lock...).

    Args:
        holdable: the verdict on the object a method is bound to (``value_allowed``,
            or the guards' cached version of it).
    """
    holdable = holdable or value_allowed
    if id(value) in _REFUSED_IDS:
        return False
    if isinstance(value, (staticmethod, classmethod)):
        return judged_by_origin(value.__func__, holdable)
    if isinstance(value, functools.partial):
        return judged_by_origin(value.func, holdable)
    module = getattr(value, "__module__", None)
    if isinstance(value, _BOUND):
        owner = value.__self__
        if isinstance(owner, types.ModuleType):
            module = owner.__name__ if module is None else module
        elif owner is not None and not holdable(owner):
            return False
    return module_allowed(module)


def value_allowed(value: Any) -> bool:
    """Whether a strategy may hold ``value`` (the guards cache the per-type part)."""
    verdict = type_verdict(type(value))
    if verdict == BY_ORIGIN:
        return judged_by_origin(value)
    return verdict != REFUSE


def describe(value: Any) -> str:
    """A short name for what ``value`` is, for messages (without calling anything of the strategy's)."""
    if isinstance(value, types.ModuleType):
        return "a module"
    if isinstance(value, type):
        return f"the class {module_of_type(value)}.{type.__dict__['__qualname__'].__get__(value)}"
    t = type(value)
    return f"a {module_of_type(t)}.{type.__dict__['__qualname__'].__get__(t)} object"
