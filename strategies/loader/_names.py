"""The names and attributes strategy code may not use, and why: the loader's word lists.

Identifiers are compared after NFKC normalisation, as Python itself compares them
(``ｅｖａｌ`` is ``eval``); identifiers outside ASCII are refused outright, so a
homoglyph (a Cyrillic ``е`` in ``еval``) cannot pass for something it is not.
"""

from __future__ import annotations

import string
import unicodedata

NO_CODE_FROM_STRINGS = "strategies cannot run code built from strings"
NO_REFLECTION = "strategies cannot look up attributes or scopes by name"
NO_IO = "strategies run without input or output (no files, no terminal)"
NO_INTERNALS = "strategies cannot reach the interpreter's internals"

FORBIDDEN_NAMES: dict[str, str] = {
    "exec": NO_CODE_FROM_STRINGS,
    "eval": NO_CODE_FROM_STRINGS,
    "compile": NO_CODE_FROM_STRINGS,
    "__import__": "import modules with an import statement, from the allowed list",
    "importlib": "import modules with an import statement, from the allowed list",
    "open": NO_IO,
    "input": NO_IO,
    "print": NO_IO + "; remove the print",
    "breakpoint": "strategies cannot start a debugger",
    "help": NO_IO,
    "exit": "strategies cannot stop the process",
    "quit": "strategies cannot stop the process",
    "getattr": NO_REFLECTION + "; write obj.name",
    "setattr": NO_REFLECTION + "; write obj.name = value",
    "delattr": NO_REFLECTION,
    "hasattr": NO_REFLECTION,
    "globals": NO_REFLECTION,
    "locals": NO_REFLECTION,
    "vars": NO_REFLECTION,
    "dir": NO_REFLECTION,
    "type": "type() is not available (it also builds classes); use isinstance()",
    "id": "object addresses are not available",
    "memoryview": NO_INTERNALS,
    "object": NO_INTERNALS + "; a class needs no explicit object base",
    "BaseException": "catch Exception (a strategy must not swallow interrupts)",
    "KeyboardInterrupt": "a strategy must not catch or raise interrupts",
    "SystemExit": "a strategy must not catch or raise SystemExit",
    "GeneratorExit": "a strategy must not catch or raise GeneratorExit",
    "sys": NO_INTERNALS,
    "os": NO_IO,
    "builtins": NO_INTERNALS,
}
"""Names refused wherever they appear (read, assigned, as parameters or imports)."""

FORBIDDEN_ATTRS: dict[str, str] = {
    # reflection and interpreter internals that need no underscore
    "mro": NO_INTERNALS,
    "func_globals": NO_INTERNALS,
    "func_code": NO_INTERNALS,
    "func_closure": NO_INTERNALS,
    "im_func": NO_INTERNALS,
    "im_self": NO_INTERNALS,
    "im_class": NO_INTERNALS,
    "modules": NO_INTERNALS,
    "builtins": NO_INTERNALS,
    "sys": NO_INTERNALS,
    "os": NO_IO,
    "importlib": NO_INTERNALS,
    "subprocess": NO_IO,
    "system": NO_IO,
    "popen": NO_IO,
    # foreign-function and raw-memory access (numpy arrays, bit generators, anvil's core)
    "ctypes": NO_INTERNALS,
    "ctypeslib": NO_INTERNALS,
    "cffi": NO_INTERNALS,
    "ffi": NO_INTERNALS,
    "dlopen": NO_INTERNALS,
    "capsule": NO_INTERNALS,
    "lib": NO_INTERNALS,
    # files, through numpy, pandas and anvil's store
    "load": NO_IO,
    "loads": NO_IO,
    "save": NO_IO,
    "savez": NO_IO,
    "savez_compressed": NO_IO,
    "savetxt": NO_IO,
    "loadtxt": NO_IO,
    "genfromtxt": NO_IO,
    "fromfile": NO_IO,
    "fromregex": NO_IO,
    "tofile": NO_IO,
    "memmap": NO_IO,
    "DataSource": NO_IO,
    "dump": NO_IO,
    "dumps": NO_IO,
    "testing": NO_IO,
    "f2py": NO_IO,
    "distutils": NO_IO,
    "show_config": NO_IO,
    "show_runtime": NO_IO,
    "get_include": NO_IO,
    "Store": NO_IO,
    "store": NO_IO,
    "to_csv": NO_IO,
    "to_pickle": NO_IO,
    "to_parquet": NO_IO,
    "to_json": NO_IO,
    "to_feather": NO_IO,
    "to_hdf": NO_IO,
    "to_sql": NO_IO,
    "to_excel": NO_IO,
    "to_clipboard": NO_IO,
}
"""Attribute names refused on any object (with underscores, every name is refused)."""

FORBIDDEN_ATTR_PREFIXES: dict[str, str] = {
    "f_": "frame attributes: " + NO_INTERNALS,
    "tb_": "traceback attributes: " + NO_INTERNALS,
    "gi_": "generator internals: " + NO_INTERNALS,
    "cr_": "coroutine internals: " + NO_INTERNALS,
    "ag_": "async generator internals: " + NO_INTERNALS,
    "co_": "code object internals: " + NO_INTERNALS,
}
"""Attribute name prefixes refused on any object (frames, tracebacks, code, generators)."""

READ_ONLY_ARRAYS = "arrays a strategy receives are read-only and stay so; take a .copy() to change one"

ARRAY_ATTRS: dict[str, str] = {
    "flags": READ_ONLY_ARRAYS,
    "setflags": READ_ONLY_ARRAYS,
    "base": READ_ONLY_ARRAYS,
    "resize": READ_ONLY_ARRAYS + " (resize changes read-only arrays in place; use np.resize)",
    "data": "an array's raw memory is not available to strategies; index the array instead",
}
"""Attribute names refused on numpy arrays only (checked as the strategy runs)."""

UFUNC_ATTRS: dict[str, str] = {
    "at": "ufunc.at writes into read-only arrays (numpy 2.4); use np.bincount or np.add.reduceat",
}
"""Attribute names refused on numpy ufuncs only (checked as the strategy runs)."""

FORMAT_METHODS = frozenset({"format", "format_map"})
"""str methods that look attributes up by name from inside the template. Whatever
the receiver's class (``str``, a subclass, ``collections.UserString``), the template
is checked, or the call refused when there is no ``str`` to check."""

RAW_MEMORY_KEYWORDS = frozenset({"buffer", "buf"})
"""Keyword arguments that build an array over memory the strategy wrote (``np.ndarray``,
``np.recarray``): refused wherever they appear."""

DTYPE_CALLS = frozenset(
    """array asarray asanyarray ascontiguousarray asfortranarray zeros ones empty full
    zeros_like ones_like empty_like full_like fromiter fromfunction arange astype view dtype
    ndarray getfield setfield can_cast result_type issubdtype""".split()
)
"""Functions and methods whose positional arguments may be dtypes (``x.astype("O")``):
their string constants are checked for object dtypes, like every ``dtype=``."""

ALLOWED_DUNDER_METHODS = frozenset(
    {
        "__init__",
        "__post_init__",
        "__repr__",
        "__str__",
        "__len__",
        "__iter__",
        "__next__",
        "__contains__",
        "__getitem__",
        "__call__",
        "__bool__",
    }
)
"""Special methods a strategy's classes may define; others (``__getattr__``,
``__set_name__``, ``__init_subclass__``, ``__del__``, ``__reduce__``, ``__eq__`` ...)
would let anvil's or Python's own machinery hand the strategy objects it must not see."""

SUPER_DUNDERS = frozenset({"__init__", "__post_init__"})
"""Special methods that may be called on ``super()`` (and only there)."""

NAMEDTUPLE_API = frozenset({"_asdict", "_replace", "_fields", "_make"})
"""The underscore names a named tuple (``bar``, ``ctx.history(n)``) documents as public."""

MODULE_DUNDERS = frozenset({"__all__"})
"""Dunder names a strategy module may assign at its top level."""


def normalise(name: str) -> str:
    """``name`` as Python compares identifiers (NFKC)."""
    return unicodedata.normalize("NFKC", name)


def is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def identifier_problem(name: str) -> str | None:
    """Why an identifier is refused wherever it appears, or None."""
    if not name.isascii():
        odd = next(ch for ch in name if not ch.isascii())
        what = unicodedata.name(odd, f"U+{ord(odd):04X}")
        return f"identifiers must be plain ASCII (found {odd!r}, {what})"
    return None


def name_problem(name: str) -> str | None:
    """Why a variable, parameter, function or class name is refused, or None."""
    name = normalise(name)
    if name in FORBIDDEN_NAMES:
        return FORBIDDEN_NAMES[name]
    if name.startswith("__"):
        return "names starting with a double underscore are Python's internals"
    return identifier_problem(name)


def attr_problem(attr: str) -> str | None:
    """Why reading or writing ``obj.<attr>`` is refused on any object, or None.

    Single-underscore attributes are judged elsewhere: they are allowed on the
    strategy's own objects (``self._state``) and refused on everything else.
    """
    attr = normalise(attr)
    if attr.startswith("__"):
        return "double-underscore attributes are Python's internals"
    if attr in FORBIDDEN_ATTRS:
        return FORBIDDEN_ATTRS[attr]
    for prefix, why in FORBIDDEN_ATTR_PREFIXES.items():
        if attr.startswith(prefix):
            return why
    return identifier_problem(attr)


def format_template_problem(template: str, depth: int = 0) -> str | None:
    """Why a ``str.format`` template is refused (fields that read attributes or items), or None.

    ``"{0.__class__}".format(x)`` reads attributes of ``x`` by name from inside a
    string; only plain fields (``{}``, ``{0}``, ``{name}``, with a format spec) pass.
    """
    if depth > 2:
        return "format specs nest too deeply"  # str.format itself stops at two levels
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        return f"the template does not parse ({exc})"
    for _literal, field, spec, _conversion in parsed:
        if field is not None and ("." in field or "[" in field):
            return (
                f"the field {{{field}}} reads an attribute or item from inside the template; "
                "compute the value first and pass it in"
            )
        if spec:
            nested = format_template_problem(spec, depth + 1)
            if nested:
                return nested
    return None
