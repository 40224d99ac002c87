"""What a job is doing right now, for pollers and event-stream watchers.

A ``LiveJob`` exists from submission until the job reaches a final status. The
thread that runs the job publishes snapshots; each watcher (an SSE stream, on the
event loop) is woken through ``call_soon_threadsafe`` and reads the latest
snapshot, so a slow watcher skips stale progress instead of queueing it.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

from api.jobstore import ACTIVE


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


@dataclass
class LiveJob:
    """A queued or running job: its spec, its cancel switch, its watchers."""

    id: str
    spec: Any
    snapshot: Snapshot
    cancel: threading.Event = field(default_factory=threading.Event)
    stop_reason: str = "cancelled"  # or "interrupted" when the service shuts down
    transition: threading.Lock = field(default_factory=threading.Lock)  # queued -> running -> final, or cancel
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _watchers: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = field(default_factory=set)

    def publish(self, **changes: Any) -> Snapshot:
        """Change the snapshot and wake every watcher."""
        with self._lock:
            values = {**self.snapshot.__dict__, **changes, "version": self.snapshot.version + 1}
            self.snapshot = Snapshot(**values)
            watchers = list(self._watchers)
        for loop, event in watchers:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # its loop is closed: the watcher is gone
                self._watchers.discard((loop, event))
        return self.snapshot

    def watch(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Event]:
        """Register the calling coroutine's loop for wake-ups; pair with ``unwatch``."""
        key = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._watchers.add(key)
        return key

    def unwatch(self, key: tuple[asyncio.AbstractEventLoop, asyncio.Event]) -> None:
        with self._lock:
            self._watchers.discard(key)
