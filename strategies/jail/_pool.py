"""Jailed processes pooled per job: started once, reused by every call, killed on cancel.

A pool holds up to ``limits.pool_size`` processes of one source for one job in
this process. A call takes an idle process (or starts one), sends the bars it
does not hold yet, then the request. When the process dies under a call (a
crash, a resource limit, the time limit), the call is tried once more in a fresh
process — unless it ran out of time, which a second try would only repeat. Each
death is a strike; after ``STRIKES`` the pool is broken and every later call
fails at once with the reason, so a job whose items crash their process twice
stops instead of crashing on. ``close()`` (a cancel) kills every process, busy
ones too: their callers get ``JailClosed`` at once.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any, Callable, Sequence

import numpy as np

from strategies.jail._limits import Limits
from strategies.jail._process import JailDied, JailError, JailProcess

STRIKES = 2
BROKEN = "crashed its jail twice"
"""In the error of every call to a broken pool, so a job's runner can tell (``broken_reason``)."""
KEEP_JOBS = 16  # pools of this many jobs are kept per process (a backstop: jobs release theirs)


class JailClosed(JailError):
    """The pool was closed (the job was cancelled or ended) while the call waited or ran."""


class JailBroken(JailError):
    """The strategy killed its jail twice in this job; its calls fail at once."""


def broken_reason(error: str | None) -> str | None:
    """The reason of a broken pool, if ``error`` (an item's error) is one."""
    return error if error and BROKEN in error else None


class JailPool:
    """The jailed processes of one source for one job, in this process."""

    def __init__(self, source: str, limits: Limits, checks: bool = True) -> None:
        self.source = source
        self.limits = limits
        self.checks = checks
        self.broken: str | None = None
        self.closed = False
        self.strikes = 0
        self._idle: list[JailProcess] = []
        self._all: set[JailProcess] = set()
        self._slots = threading.BoundedSemaphore(max(1, limits.pool_size))
        self._lock = threading.Lock()
        self.on_broken: Callable[[str], None] | None = None

    def call(
        self,
        request: dict[str, Any],
        arrays: Sequence[np.ndarray] = (),
        bars: tuple[str, dict[str, Any], Sequence[np.ndarray]] | None = None,
    ) -> tuple[dict[str, Any], list[np.ndarray]]:
        """Answer ``request`` in one of the pool's processes, first sending ``bars``
        (key, header, arrays) to a process that does not hold them.

        Raises:
            StrategyFailed: the strategy raised (its message).
            JailDied: the call ran out of time, or the process died twice.
            JailBroken, JailClosed: see the classes.
        """
        for attempt in (0, 1):
            self._check()
            with self._slots:  # a process is given back before its slot is: no needless new process
                proc: JailProcess | None = None
                try:
                    proc = self._take()
                    if bars is not None and bars[0] not in proc.bars:
                        proc.call({"op": "bars", "key": bars[0], **bars[1]}, bars[2])
                        proc.bars.add(bars[0])
                    out = proc.call(request, arrays)
                except JailDied as exc:
                    self._drop(proc)
                    self._check()  # closed meanwhile: say so, not why the process died
                    self._strike(str(exc))
                    if exc.timed_out or attempt:
                        raise
                    continue
                except BaseException:
                    self._give_back(proc)
                    raise
                self._give_back(proc)
                return out
        raise AssertionError("unreachable")

    def warm(self) -> None:
        """Start one process now (so a caller timing calls does not time the start-up)."""
        self._check()
        with self._slots:
            self._give_back(self._take())

    def _check(self) -> None:
        if self.closed:
            raise JailClosed("the job was stopped; its jailed processes were killed")
        if self.broken:
            raise JailBroken(self.broken)

    def _take(self) -> JailProcess:
        self._check()  # closed while this call waited for a slot: start nothing
        with self._lock:
            while self._idle:
                proc = self._idle.pop()
                if proc.alive:
                    return proc
                self._all.discard(proc)
        born: list[JailProcess] = []

        def started(proc: JailProcess) -> None:
            """Known to the pool from its first moment, so ``close()`` kills it mid-start too."""
            with self._lock:
                self._all.add(proc)
                born.append(proc)
                closed = self.closed
            if closed:
                proc.kill()

        try:
            proc = JailProcess(self.source, self.limits, self.checks, on_start=started)
        except JailError:
            with self._lock:
                self._all.difference_update(born)
            self._check()  # killed by a cancel while it started: say so, not how it died
            raise
        self._check()
        return proc

    def _give_back(self, proc: JailProcess | None) -> None:
        if proc is None:
            return
        retire = proc.cpu > self.limits.cpu_seconds / 2 or not proc.alive
        with self._lock:
            if self.closed or retire:
                self._all.discard(proc)
            else:
                self._idle.append(proc)
                return
        proc.kill()

    def _drop(self, proc: JailProcess | None) -> None:
        if proc is not None:
            proc.kill()
            with self._lock:
                self._all.discard(proc)

    def _strike(self, why: str) -> None:
        with self._lock:
            self.strikes += 1
            if self.strikes < STRIKES or self.broken:
                return
            self.broken = f"the strategy {BROKEN} in this job (last: {why}); the job is stopped"
            reason, notify = self.broken, self.on_broken
        if notify is not None:
            notify(reason)

    def close(self) -> None:
        """Kill every process of the pool; calls waiting or running end with ``JailClosed``."""
        with self._lock:
            self.closed = True
            procs, self._all, self._idle = list(self._all), set(), []
        for proc in procs:
            proc.kill()


# -- the pools of this process, by job ---------------------------------------------------------
_pools: OrderedDict[str, dict[str, JailPool]] = OrderedDict()
_watchers: dict[str, Callable[[str], None]] = {}
_released: OrderedDict[str, None] = OrderedDict()
_registry = threading.Lock()


def pool(job: str, source: str, limits: Limits) -> JailPool:
    """The pool of ``source`` for ``job`` in this process (made on first use; closed
    from the start once ``release(job)`` was called)."""
    digest = hashlib.sha256(source.encode()).hexdigest()
    stale: list[JailPool] = []
    with _registry:
        pools = _pools.setdefault(job, {})
        _pools.move_to_end(job)
        found = pools.get(digest)
        if found is None:
            found = pools[digest] = JailPool(source, limits)
            found.on_broken = _watchers.get(job)
            found.closed = job in _released
        while len(_pools) > KEEP_JOBS:
            _, old = _pools.popitem(last=False)
            stale.extend(old.values())
    for p in stale:
        p.close()
    return found


def watch(job: str, on_broken: Callable[[str], None]) -> None:
    """Have ``on_broken(reason)`` called when a pool of ``job`` in this process breaks."""
    with _registry:
        _watchers[job] = on_broken
        for p in _pools.get(job, {}).values():
            p.on_broken = on_broken


def release(job: str) -> None:
    """Kill the jailed processes of ``job`` in this process (its end, or its cancel);
    its later calls here fail with ``JailClosed``, so ``job`` names one run of a job
    (a resumed job gets a new one)."""
    with _registry:
        closing = list(_pools.pop(job, {}).values())
        _watchers.pop(job, None)
        _released[job] = None
        while len(_released) > 1000:
            _released.popitem(last=False)
    for p in closing:
        p.close()
