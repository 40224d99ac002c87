"""numpy as a strategy sees it: no arrays over raw memory, no object dtypes.

An object array is an array of pointers. Built over bytes the strategy wrote
(``np.ndarray((1,), dtype="O", buffer=bytearray(...))``, ``np.recarray(buf=...)``,
``arr.data.cast("B")`` written through), it hands out any object at an address the
strategy chose — the real ``exec`` included. So:

- the constructors that take a buffer are not there (``frombuffer``, ``fromstring``,
  ``from_dlpack``, ``recarray``, ``chararray``, ``memmap``), and the ``ndarray`` a
  strategy sees is a stand-in that passes ``isinstance`` and annotations but builds
  arrays without ``buffer``, ``offset`` or ``strides`` and never of an object dtype;
- numpy's functions are wrapped so that one whose result is an object array
  (``np.empty(3, dtype=dict)``) raises instead;
- the guards refuse ``.data`` of an array, any ``memoryview`` and any attribute of an
  object array that got through another way (a ufunc with ``dtype=object``).

numpy itself already refuses to reinterpret memory between object and plain dtypes
(``view``, ``getfield``, assigning ``.dtype``, overlapping object fields); these
checks close the ways in that it leaves open.
"""

from __future__ import annotations

import functools
import types
from typing import Any, Callable

import numpy as np

from strategies.loader._errors import refusal

NO_RAW_MEMORY = "strategies cannot build arrays over raw memory; use np.zeros, np.empty or np.array"
NO_OBJECT_DTYPE = "object arrays (dtype 'O') are not available to strategies; use numeric, bool or string dtypes"
HIDDEN = frozenset("frombuffer fromstring from_dlpack recarray chararray memmap object_".split())
"""numpy names a strategy does not see (besides files and process-wide settings)."""

_MAX_DTYPE_TEXT = 200


def object_dtype(value: Any) -> bool:
    """Whether ``value`` (a dtype, a type or a string) means a dtype holding Python objects."""
    if isinstance(value, str) and len(value) > _MAX_DTYPE_TEXT:
        return False
    try:
        return bool(np.dtype(value).hasobject)
    except Exception:  # not a dtype at all: numpy will say so itself
        return False


def object_array(value: Any) -> bool:
    """Whether ``value`` is a numpy array or scalar whose dtype holds Python objects."""
    return isinstance(value, (np.ndarray, np.generic)) and value.dtype.hasobject


class _NdarrayMeta(type):
    """The stand-in's class: ``isinstance(x, np.ndarray)`` reads the real one; calls are checked."""

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, np.ndarray)

    def __subclasscheck__(cls, sub: Any) -> bool:
        return issubclass(sub, np.ndarray)

    def __call__(cls, shape: Any, dtype: Any = None, *rest: Any, **options: Any) -> Any:
        raw = [k for k in ("buffer", "offset", "strides") if k in options]
        if rest[:3] or raw:
            raise refusal(f"np.ndarray({', '.join(raw) or 'buffer'}=...)", NO_RAW_MEMORY)
        if object_dtype(dtype):
            raise refusal(f"np.ndarray(dtype={dtype!r})", NO_OBJECT_DTYPE)
        order = rest[3] if len(rest) > 3 else options.pop("order", None)
        if options:
            raise TypeError(f"ndarray() got unexpected keyword arguments {sorted(options)}")
        return np.ndarray(shape, dtype, order=order)


class ndarray(np.ndarray, metaclass=_NdarrayMeta):  # noqa: N801 - numpy's name
    """numpy's ndarray as strategies see it: no buffer, offset, strides or object dtype."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        raise refusal("subclassing np.ndarray", "use plain arrays; strategies cannot subclass it")


ndarray.__module__ = "numpy"
ndarray.__qualname__ = "ndarray"

_FUNCTIONS: tuple[type, ...] = (
    types.FunctionType,
    types.BuiltinFunctionType,
    type(np.concatenate),  # numpy's _ArrayFunctionDispatcher
)


def _checked_result(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` raising instead of returning an object array (or a tuple holding one)."""

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        out = fn(*args, **kwargs)
        if object_array(out) or (type(out) is tuple and any(object_array(o) for o in out)):
            raise refusal(f"np.{fn.__name__}(...)", NO_OBJECT_DTYPE)
        return out

    return call


@functools.lru_cache(maxsize=None)
def _guarded(path: str, name: str) -> Any:
    module = __import__(path, fromlist=["_"])
    value = getattr(module, name)
    if path == "numpy" and name == "ndarray":
        return ndarray
    if isinstance(value, _FUNCTIONS):
        return _checked_result(value)
    return value


def guarded(path: str, name: str, value: Any) -> Any:
    """What the view of numpy module ``path`` holds for ``name``: ``value`` or its checked stand-in."""
    if not path.startswith("numpy") or not (isinstance(value, _FUNCTIONS) or value is np.ndarray):
        return value
    return _guarded(path, name)
