"""How a job's strategy travels to workers: the one way, for every job kind and front door.

A strategy defined in code travels as itself (pickled by reference or by value).
A class made by ``strategies.loader.load_strategy`` from uploaded source must never
be pickled: an unpickled copy would run with ordinary builtins, outside the
loader's sandbox. So it travels as a *stand-in*: a plain ``Strategy`` subclass
declaring the same parameters, constraints, name and rule, holding only the
source, and passing each call (``signals``, or ``prepare`` and ``on_bar``) to an
instance of the loaded class. Pickled for a Ray worker (cloudpickle, by value) it
carries the source; on the worker its first call loads the source through the
sandbox again (once per process and source).

``shippable(strategy)`` is what a job hands its workers: the stand-in for a
loaded class (found by the loader's ``SOURCE_ATTRIBUTE``), else the class itself.
``stand_in(source)`` makes one from source (the service and the CLI's ``-s file.py``).
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any, ClassVar

from strategies import Strategy, UniverseStrategy
from strategies.loader import SOURCE_ATTRIBUTE

_loaded: dict[str, type[Strategy]] = {}
_lock = threading.Lock()


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


class UploadedWeights(UniverseStrategy):
    """Stand-in for a vectorized uploaded universe strategy."""

    _source: ClassVar[str] = ""
    _inner = _Uploaded._inner

    def weights(self, panel: Any, **params: Any) -> Any:
        return self._inner().weights(panel, **params)  # type: ignore[attr-defined]


class UploadedUniverseBars(UniverseStrategy):
    """Stand-in for a bar-by-bar uploaded universe strategy."""

    _source: ClassVar[str] = ""
    _inner = _Uploaded._inner
    prepare = UploadedBars.prepare
    on_bar = UploadedBars.on_bar


def _base(cls: type[Strategy]) -> type[Strategy]:
    is_universe = getattr(cls, "is_universe", None)
    if callable(is_universe) and is_universe():
        return UploadedWeights if cls.is_vectorized() else UploadedUniverseBars
    return UploadedSignals if cls.is_vectorized() else UploadedBars


def _stand_in_for(cls: type[Strategy], source: str) -> type[Strategy]:
    base = _base(cls)
    attrs: dict[str, Any] = dict(cls._params)
    attrs.update(
        name=cls.name,
        constraints=tuple(cls.constraints),
        __doc__=cls.__doc__,
        _source=source,
        __module__=__name__,
        __qualname__=cls.__name__,
    )
    return type(cls.__name__, (base,), attrs)


def stand_in(source: str) -> type[Strategy]:
    """A picklable stand-in for the strategy ``source`` defines (loading it here once).

    Raises:
        StrategyCodeError: the source breaks the loader's rules or fails to load.
    """
    return _stand_in_for(loaded(source), source)


STAND_INS = (_Uploaded, UploadedWeights, UploadedUniverseBars)


def shippable(strategy: Any) -> Any:
    """What a job hands its workers for ``strategy``: a stand-in when it was loaded from
    uploaded source (it carries ``SOURCE_ATTRIBUTE``), else ``strategy`` itself."""
    source = getattr(strategy, SOURCE_ATTRIBUTE, None)
    if isinstance(source, str) and not issubclass(strategy, STAND_INS):
        return _stand_in_for(strategy, source)
    return strategy
