"""The checks that run with the strategy: every attribute it reads or writes.

The loader rewrites ``obj.name`` into ``__anvil_read__(obj, "name")`` and the
target of ``obj.name = value`` (or ``del obj.name``) into
``__anvil_write__(obj).name``. Reading checks the name (no underscores on objects
not the strategy's own, nothing from the refused lists, no ``str.format``
template that reads attributes), and both the object read from and the value
read against their origin (``_origin``). Writing is allowed only on the
strategy's own classes, instances and functions, so it cannot change numpy,
anvil's classes or a view of a module.
"""

from __future__ import annotations

import abc
import copy
import types
from typing import Any, Callable

import numpy as np

from strategies.loader import _names, _numpy, _origin
from strategies.loader._errors import refusal
from strategies.loader._modules import ModuleView

READ = "__anvil_read__"
WRITE = "__anvil_write__"

_FORBIDDEN = frozenset(_names.FORBIDDEN_ATTRS)
_PREFIXES = tuple(_names.FORBIDDEN_ATTR_PREFIXES)
_ARRAYS = (np.ndarray, np.generic)
object_array = _numpy.object_array


def _is(obj: Any, kinds: Any) -> bool:
    """``obj`` is an instance of ``kinds`` or, for unbound methods (np.ndarray.resize), a subclass."""
    return isinstance(obj, kinds) or (isinstance(obj, type) and issubclass(obj, kinds))


class Guards:
    """The read and write checks of one loaded strategy, and what it owns.

    Args:
        module: the loaded strategy's module name (its classes' ``__module__``).
        namespace: its globals (its functions' ``__globals__``).
    """

    def __init__(self, module: str, namespace: dict[str, Any]) -> None:
        self.module = module
        self.namespace = namespace
        verdicts: dict[type, int] = {ModuleView: _origin.ALLOW}

        def allowed(value: Any) -> int:
            """The verdict on one value (REFUSE, ALLOW or COPY)."""
            t = type(value)
            verdict = verdicts.get(t)
            if verdict is None:
                verdict = verdicts[t] = _origin.type_verdict(t)
            if verdict == _origin.BY_ORIGIN:
                ok = _origin.judged_by_origin(value, holdable)
                return _origin.ALLOW if ok else _origin.REFUSE
            return verdict

        def holdable(value: Any) -> bool:
            return allowed(value) != _origin.REFUSE

        self.allowed: Callable[[Any], int] = allowed

    def owns(self, obj: Any) -> bool:
        """Whether ``obj`` is a class, instance or function of the strategy's own."""
        if isinstance(obj, types.FunctionType):
            return obj.__globals__ is self.namespace
        cls = obj if isinstance(obj, type) else type(obj)
        module = cls.__dict__.get("__module__")
        return type(module) is str and module == self.module

    def _private_ok(self, obj: Any, name: str) -> bool:
        if _names.is_dunder(name):
            return type(obj) is super and name in _names.SUPER_DUNDERS
        if name.startswith("__"):
            return False
        if name in _names.NAMEDTUPLE_API:
            cls = obj if isinstance(obj, type) else type(obj)
            return issubclass(cls, tuple)
        return not isinstance(obj, types.FunctionType) and self.owns(obj)

    def read(self) -> Callable[[Any, str], Any]:
        """The function that stands for every ``obj.name`` the strategy reads."""
        allowed, private_ok, owns = self.allowed, self._private_ok, self.owns
        refuse_verdict, copy_verdict = _origin.REFUSE, _origin.COPY

        def read(obj: Any, name: str) -> Any:
            if name[0] == "_":
                if not private_ok(obj, name):
                    raise refusal(
                        f"reading .{name}",
                        "underscore attributes are internals; only your own objects' "
                        "single-underscore attributes (self._x) can be read",
                    )
            elif name in _FORBIDDEN or name.startswith(_PREFIXES):
                raise refusal(f"reading .{name}", _names.attr_problem(name) or "refused")
            if allowed(obj) == refuse_verdict:
                raise refusal(f"reading .{name} of {_origin.describe(obj)}", "strategies cannot use it")
            if _is(obj, _ARRAYS):
                if name in _names.ARRAY_ATTRS:
                    raise refusal(f"reading .{name} of an array", _names.ARRAY_ATTRS[name])
                if object_array(obj):
                    raise refusal(f"reading .{name} of an object array", _numpy.NO_OBJECT_DTYPE)
            if name in _names.UFUNC_ATTRS and _is(obj, np.ufunc):
                raise refusal(f"reading .{name} of a ufunc", _names.UFUNC_ATTRS[name])
            if name == "register" and isinstance(obj, abc.ABCMeta) and not owns(obj):
                raise refusal(
                    f"{_origin.describe(obj)}.register",
                    "registering with a built-in abstract class would change isinstance for all code",
                )
            value = getattr(obj, name)
            if name in _names.FORMAT_METHODS:
                check_format(obj, name, value)
            verdict = allowed(value)
            if verdict == refuse_verdict:
                raise refusal(
                    f"reading .{name}",
                    f"it is {_origin.describe(value)}, which strategies cannot use",
                )
            if verdict == copy_verdict:
                return copy.copy(value)
            if object_array(value):
                raise refusal(f"reading .{name}", f"it is an object array: {_numpy.NO_OBJECT_DTYPE}")
            return value

        def check_format(obj: Any, name: str, method: Any) -> None:
            """``obj.format`` / ``.format_map``: a ``str`` template (of any class) that passes the
            template rules, or a method the strategy wrote itself; nothing else (a ``UserString``,
            whose ``format`` formats a template the check never saw)."""
            if isinstance(obj, str):
                text = str.__str__(obj)  # the text itself, never a __str__ of the strategy's
                why = _names.format_template_problem(text)
                if why:
                    raise refusal(f"the template of .{name}", why)
                return
            func = getattr(method, "__func__", method)
            if not isinstance(obj, type) and isinstance(func, types.FunctionType) and owns(func):
                return  # the strategy's own method, whose body the checks have seen
            raise refusal(
                f"reading .{name} of {_origin.describe(obj)}",
                "call format on a plain str template (str(x).format(...))",
            )

        return read

    def write(self) -> Callable[[Any], Any]:
        """The function that stands for the object of every ``obj.name = ...`` and ``del obj.name``."""
        owns = self.owns

        def write(obj: Any) -> Any:
            if not owns(obj):
                raise refusal(
                    f"changing an attribute of {_origin.describe(obj)}",
                    "a strategy may change only its own objects (self.x = ...)",
                )
            return obj

        return write
