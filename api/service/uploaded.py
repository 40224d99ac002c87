"""Uploaded strategies run in-process: only with ``ANVIL_UNSAFE_INPROCESS_UPLOADS=1``.

The service runs uploads in jails (``strategies.jail``); this module is the
operator's opt-out where no jail can be built, behind the loader's
language-level checks only. It is also what ``anvil backtest -s file.py`` uses
for a local file of your own.

A class made by ``strategies.loader.load_strategy`` must never be pickled: an
unpickled copy would run with ordinary builtins, outside the loader's sandbox.
So jobs get a stand-in instead: a plain ``Strategy`` subclass declaring the same
parameters, constraints, name and rule, holding only the *source*, and passing
each call (``signals``, or ``prepare`` and ``on_bar``) to an instance of the
loaded class. Pickled for a Ray worker (cloudpickle, by value) it carries the
source; on the worker, its first call loads the source through the sandbox
again (once per process and source).
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any, ClassVar

from strategies import Strategy

_loaded: dict[str, type[Strategy]] = {}
_lock = threading.Lock()


def strategy_id(source: str) -> str:
    """The id of an uploaded source: ``up_`` and 16 hex digits of its SHA-256."""
    return "up_" + hashlib.sha256(source.encode()).hexdigest()[:16]


def loaded(source: str) -> type[Strategy]:
    """The sandboxed class ``source`` defines, loaded once per process."""
    key = hashlib.sha256(source.encode()).hexdigest()
    with _lock:
        cls = _loaded.get(key)
        if cls is None:
            from strategies.loader import load_strategy

            cls = _loaded[key] = load_strategy(source)
        return cls


class _Uploaded(Strategy):
    """Base of the stand-ins: holds the source, builds the sandboxed instance on first use."""

    _source: ClassVar[str] = ""

    def _inner(self) -> Strategy:
        inner = self.__dict__.get("_inner_instance")
        if inner is None:
            inner = self.__dict__["_inner_instance"] = loaded(self._source)(**self.params)
        return inner


class UploadedSignals(_Uploaded):
    """Stand-in for a vectorized uploaded strategy."""

    def signals(self, bars: Any, **params: Any) -> Any:
        return self._inner().signals(bars, **params)  # type: ignore[attr-defined]


class UploadedBars(_Uploaded):
    """Stand-in for a bar-by-bar uploaded strategy."""

    def prepare(self, bars: Any) -> None:
        prepare = getattr(self._inner(), "prepare", None)
        if callable(prepare):
            prepare(bars)

    def on_bar(self, bar: Any, ctx: Any) -> None:
        self._inner().on_bar(bar, ctx)  # type: ignore[attr-defined]


def stand_in(source: str) -> type[Strategy]:
    """A picklable stand-in for the strategy ``source`` defines (loading it here once).

    Raises:
        StrategyCodeError: the source breaks the loader's rules or fails to load.
    """
    cls = loaded(source)
    base = UploadedSignals if cls.is_vectorized() else UploadedBars
    attrs: dict[str, Any] = dict(cls._params)
    attrs.update(name=cls.name, constraints=tuple(cls.constraints), __doc__=cls.__doc__, _source=source,
                 __module__=__name__, __qualname__=cls.__name__)  # fmt: skip
    return type(cls.__name__, (base,), attrs)
