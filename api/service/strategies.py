"""Strategies the service knows: the built-in library and uploaded sources.

Uploaded code never runs in the service process: at upload the source is loaded
in a jail (``strategies.jail.describe``), which answers its name, parameters,
constraints and kind; jobs get a stand-in built from that description
(``strategies.jail.jailed``) whose calls go to jailed processes. Where jails cannot
be built here, uploads are refused — unless the operator set
``ANVIL_UNSAFE_INPROCESS_UPLOADS=1``, which runs them in-process behind the
loader's language-level checks only (``api.service.uploaded``).
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from api.jobstore import JobStore
from api.service.uploaded import stand_in, strategy_id
from api.settings import Settings
from strategies import Strategy, jail
from strategies.library import LIBRARY, UNIVERSE_LIBRARY, UnknownStrategyError, get_strategy, snake_case
from strategies.loader import MAX_SOURCE_BYTES

CHECKERS = 4  # uploads being loaded in jails at once
MAX_WAITING = 16  # uploads waiting for a checker; past that, 503


class StrategyRejected(ValueError):
    """Uploaded source that the loader refuses; the message says why (line by line)."""


class UploadsUnavailable(RuntimeError):
    """Uploaded strategies cannot run here (no jail, or too many uploads being checked)."""


class StrategyService:
    """Lists strategies, accepts uploads, and finds uploaded ones by id for jobs."""

    def __init__(self, store: JobStore, settings: Settings | None = None) -> None:
        self.store = store
        self.settings = settings or Settings()
        self._classes: dict[str, type[Strategy]] = {}
        self._lock = threading.Lock()
        self._checkers = ThreadPoolExecutor(CHECKERS, thread_name_prefix="anvil-upload-check")
        self._waiting = threading.BoundedSemaphore(MAX_WAITING)

    def list(self) -> list[dict[str, Any]]:
        """Every strategy: built-in single-series ones, built-in universe ones (by name),
        then uploaded ones (by id); each says what it ``runs_on``."""
        out = [_runs_on({"id": snake_case(cls.__name__), "builtin": True, **cls.describe()}) for cls in LIBRARY]
        out += [
            _runs_on({"id": snake_case(cls.__name__), "builtin": True, **cls.describe()}) for cls in UNIVERSE_LIBRARY
        ]
        for sid, description, created in self.store.strategies():
            out.append(_runs_on({"id": sid, "builtin": False, "uploaded_at": created, **_public(description)}))
        return out

    def jail_problem(self) -> str | None:
        """Why uploaded strategies cannot run here, or None."""
        if self.settings.unsafe_inprocess_uploads:
            return None
        reason = jail.available()
        if reason is None:
            return None
        return (
            f"uploaded strategies are off on this service: their jail cannot be built here ({reason}). "
            "Install bubblewrap, or have the operator set ANVIL_UNSAFE_INPROCESS_UPLOADS=1 to run them "
            "in the service process behind language-level checks only (unsafe; see the README)"
        )

    def upload_later(self, source: str) -> Future[dict[str, Any]]:
        """``upload`` on one of a few checker threads, so no request thread waits on uploaded code.

        Raises:
            UploadsUnavailable: too many uploads are being checked already.
        """
        if not self._waiting.acquire(blocking=False):
            raise UploadsUnavailable(f"{MAX_WAITING} uploads are being checked already; try again in a minute")
        try:
            future = self._checkers.submit(self.upload, source)
        except BaseException:
            self._waiting.release()
            raise
        future.add_done_callback(lambda _: self._waiting.release())
        return future

    def upload(self, source: str) -> dict[str, Any]:
        """Check and store uploaded strategy source; the same source gives the same id.

        Raises:
            StrategyRejected: the loader refused it (the message lists each problem),
                or loading it in its jail failed, crashed or took too long.
            UploadsUnavailable: no jail can be built here (and no opt-out is set).
        """
        if not isinstance(source, str) or len(source.encode("utf-8", "replace")) > MAX_SOURCE_BYTES:
            raise StrategyRejected(f"the source is larger than {MAX_SOURCE_BYTES:,} bytes")
        if self.settings.unsafe_inprocess_uploads:
            description, cls = self._upload_in_process(source)
        else:
            problem = self.jail_problem()
            if problem:
                raise UploadsUnavailable(problem)
            try:
                description = jail.describe(source, self.settings.jail_limits())
            except jail.StrategyFailed as exc:
                raise StrategyRejected(str(exc)) from None
            except jail.JailError as exc:
                raise StrategyRejected(f"the strategy could not be loaded in its jail: {exc}") from None
            description.pop("signals_many", None)
            try:
                cls = jail.jailed(source, description, limits=self.settings.jail_limits())
            except jail.JailError as exc:
                raise StrategyRejected(str(exc)) from None
        sid = strategy_id(source)
        self.store.add_strategy(sid, cls.name, source, description)
        with self._lock:
            self._classes[sid] = cls
        return _runs_on({"id": sid, "builtin": False, **_public(description)})

    def _upload_in_process(self, source: str) -> tuple[dict[str, Any], type[Strategy]]:
        from strategies.loader import StrategyCodeError, validate_strategy_code

        ok, error = validate_strategy_code(source)
        if not ok:
            raise StrategyRejected(error or "the strategy source was refused")
        try:
            cls = stand_in(source)
        except StrategyCodeError as exc:
            raise StrategyRejected(str(exc)) from None
        return cls.describe(), cls

    def lookup(self, name: str) -> type[Strategy]:
        """The strategy ``name`` names: an uploaded strategy's id (``api.specs`` asks here
        after the built-ins), or a built-in name. Nothing of an upload runs here.

        Raises:
            LookupError: no built-in strategy and no uploaded one has that name (the
                message suggests close built-in names), or uploads cannot run here.
        """
        with self._lock:
            cls = self._classes.get(name)
        if cls is not None:
            return cls
        stored = self.store.strategy(name)
        if stored is None:
            try:
                return get_strategy(name)
            except UnknownStrategyError as exc:
                raise LookupError(
                    f"{exc}; nor is it the id of an uploaded strategy (GET /api/v1/strategies lists both)"
                ) from None
        source, description = stored
        if self.settings.unsafe_inprocess_uploads:
            cls = stand_in(source)
        else:
            problem = self.jail_problem()
            if problem:
                raise LookupError(problem)
            try:
                cls = jail.jailed(source, description, limits=self.settings.jail_limits())
            except jail.JailError as exc:
                raise LookupError(f"the uploaded strategy {name}: {exc}") from None
        with self._lock:
            self._classes[name] = cls
        return cls

    def close(self) -> None:
        self._checkers.shutdown(wait=False, cancel_futures=True)


def _public(description: dict[str, Any]) -> dict[str, Any]:
    out = {k: description.get(k) for k in ("name", "doc", "kind", "parameters", "constraints")}
    out["universe"] = bool(description.get("universe", False))
    return out


RUNS_ON = {True: "universe", False: "series"}
"""What a strategy's ``runs_on`` says: a universe's panel (``data: {"symbols": [...]}`` or
``{"universe": NAME}``), or one series (``data: {"symbol": ...}``)."""


def _runs_on(entry: dict[str, Any]) -> dict[str, Any]:
    """``entry`` with ``universe`` (bool) and ``runs_on`` (``"universe"`` or ``"series"``)."""
    universe = bool(entry.get("universe", False))
    return {**entry, "universe": universe, "runs_on": RUNS_ON[universe]}
