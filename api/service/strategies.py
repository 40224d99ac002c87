"""Strategies the service knows: the built-in library and uploaded sources."""

from __future__ import annotations

import threading
from typing import Any

from api.jobstore import JobStore
from api.service.uploaded import stand_in, strategy_id
from strategies import Strategy
from strategies.library import LIBRARY, UnknownStrategyError, get_strategy, snake_case


class StrategyRejected(ValueError):
    """Uploaded source that the loader refuses; the message says why (line by line)."""


class StrategyService:
    """Lists strategies, accepts uploads, and finds uploaded ones by id for jobs."""

    def __init__(self, store: JobStore) -> None:
        self.store = store
        self._classes: dict[str, type[Strategy]] = {}
        self._lock = threading.Lock()

    def list(self) -> list[dict[str, Any]]:
        """Every strategy: built-in ones (by name), then uploaded ones (by id)."""
        out = [{"id": snake_case(cls.__name__), "builtin": True, **cls.describe()} for cls in LIBRARY]
        for sid, description, created in self.store.strategies():
            out.append({"id": sid, "builtin": False, "uploaded_at": created, **description})
        return out

    def upload(self, source: str) -> dict[str, Any]:
        """Check and store uploaded strategy source; the same source gives the same id.

        Raises:
            StrategyRejected: the loader refused it (the message lists each problem).
        """
        from strategies.loader import StrategyCodeError, validate_strategy_code

        ok, error = validate_strategy_code(source)
        if not ok:
            raise StrategyRejected(error or "the strategy source was refused")
        try:
            cls = stand_in(source)
        except StrategyCodeError as exc:
            raise StrategyRejected(str(exc)) from None
        sid = strategy_id(source)
        description = cls.describe()
        self.store.add_strategy(sid, cls.name, source, description)
        with self._lock:
            self._classes[sid] = cls
        return {"id": sid, "builtin": False, **description}

    def lookup(self, name: str) -> type[Strategy]:
        """The strategy ``name`` names: an uploaded strategy's id (``api.specs`` asks here
        after the built-ins), or a built-in name.

        Raises:
            LookupError: no built-in strategy and no uploaded one has that name; the
                message suggests close built-in names.
        """
        with self._lock:
            cls = self._classes.get(name)
        if cls is not None:
            return cls
        source = self.store.strategy_source(name)
        if source is None:
            try:
                return get_strategy(name)
            except UnknownStrategyError as exc:
                raise LookupError(f"{exc}; nor is it the id of an uploaded strategy (GET /api/v1/strategies "
                                  "lists both)") from None  # fmt: skip
        cls = stand_in(source)
        with self._lock:
            self._classes[name] = cls
        return cls
