"""What a job is doing right now, for pollers and event-stream watchers.

A ``LiveJob`` exists from submission until the job reaches a final status. The
thread that runs the job publishes snapshots; each watcher (an SSE stream, on the
event loop) is woken through ``call_soon_threadsafe`` and reads the latest
snapshot, so a slow watcher skips stale progress instead of queueing it.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from dataclasses import dataclass
from typing import Any

from api.jobrecord import ACTIVE


_runs = itertools.count(1)


@dataclass
class Snapshot:
    """A job's state at one moment."""

    status: str
    done: int = 0
    total: int = 0
    failed: int = 0
    best: dict[str, Any] | None = None
    version: int = 0

    @property
    def final(self) -> bool:
        return self.status not in ACTIVE


class LiveJob:
    """A queued or running job: its snapshot, its cancel switch, its watchers.

    A service may hold thousands of queued jobs, and every object they keep is one
    more for each full pass of Python's garbage collector (a pause every request
    waits out). So a job keeps only its id and snapshot: the locks are its runner's,
    shared by all its jobs, and the cancel switch and the watcher set are made when
    first needed. Its spec stays in its stored record until the job starts.

    Args:
        id: the job's id.
        snapshot: its state now.
        transition: the lock held while a job moves queued -> running -> final or is
            cancelled (shared by the runner's jobs).
        lock: guards snapshots and watchers (shared as well).
    """

    __slots__ = (
        "id",
        "jail_key",
        "snapshot",
        "stop_reason",
        "stop_error",
        "transition",
        "_lock",
        "_cancel",
        "_watchers",
    )

    def __init__(self, id: str, snapshot: Snapshot, transition: threading.RLock, lock: threading.Lock) -> None:  # noqa: A002
        self.id = id
        self.jail_key = f"{id}.{next(_runs)}"  # this run's jails (a resumed job gets new ones)
        self.snapshot = snapshot
        self.stop_reason = "cancelled"  # or "interrupted" when the service shuts down, or "failed"
        self.stop_error: str | None = None  # why, when "failed" (a time limit, a broken jail)
        self.transition = transition
        self._lock = lock
        self._cancel: threading.Event | None = None
        self._watchers: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] | None = None

    @property
    def cancel(self) -> threading.Event:
        """Set to stop the job (the cluster checks it between chunks)."""
        with self._lock:
            if self._cancel is None:
                self._cancel = threading.Event()
            return self._cancel

    @property
    def cancelled(self) -> bool:
        """Whether the job was asked to stop (without making its switch)."""
        event = self._cancel
        return event is not None and event.is_set()

    def publish(self, **changes: Any) -> Snapshot:
        """Change the snapshot and wake every watcher."""
        with self._lock:
            values = {**self.snapshot.__dict__, **changes, "version": self.snapshot.version + 1}
            self.snapshot = Snapshot(**values)
            watchers = list(self._watchers or ())
        for loop, event in watchers:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # its loop is closed: the watcher is gone
                with self._lock:
                    if self._watchers is not None:
                        self._watchers.discard((loop, event))
        return self.snapshot

    def watch(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Event]:
        """Register the calling coroutine's loop for wake-ups; pair with ``unwatch``."""
        key = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            if self._watchers is None:
                self._watchers = set()
            self._watchers.add(key)
        return key

    def unwatch(self, key: tuple[asyncio.AbstractEventLoop, asyncio.Event]) -> None:
        with self._lock:
            if self._watchers is not None:
                self._watchers.discard(key)
