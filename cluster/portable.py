"""How a job's strategy travels to workers.

A strategy defined in code travels as itself (pickled by reference or by
value). One loaded from uploaded source (``strategies.loader``) must not be
pickled — its functions would come back with ordinary builtins — so it travels
as its source and is loaded again, in the sandbox, on arrival. Work objects mix
in ``ShipsStrategy`` to get this for their ``strategy`` field.
"""

from __future__ import annotations

import dataclasses
from typing import Any

SOURCE_ATTRIBUTE = "anvil_source"
"""Set by ``strategies.loader.load_strategy`` on the classes it returns."""


@dataclasses.dataclass(frozen=True)
class _Source:
    text: str


def _load(source: _Source) -> Any:
    from strategies.loader import load_strategy

    return load_strategy(source.text)


def _rebuild(cls: type, state: dict[str, Any]) -> Any:
    obj = cls.__new__(cls)
    for key, value in state.items():
        if isinstance(value, _Source):
            value = _load(value)
        object.__setattr__(obj, key, value)
    return obj


class ShipsStrategy:
    """Pickle support for work objects whose ``strategy`` may come from source."""

    def __reduce__(self) -> tuple[Any, ...]:
        state = dict(self.__getstate__() if hasattr(self, "__getstate__") else vars(self))
        strategy = state.get("strategy")
        source = getattr(strategy, SOURCE_ATTRIBUTE, None)
        if isinstance(source, str):
            state["strategy"] = _Source(source)
        return (_rebuild, (type(self), state))
