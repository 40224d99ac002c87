"""``RayExecutor``: chunks run by Ray actors that hold the job's data once.

The work (bars, strategy, config) goes into the object store once; each actor
receives it at construction, so a chunk call carries only its items. Each actor
keeps up to ``depth`` chunks in flight, so it never waits for the driver between
chunks. When an actor or its node dies, its chunks come back as ``Lost`` (the
scheduler retries them) and a replacement actor is started wherever the cluster
has room; a chunk running far longer than expected marks its actor stalled,
which is killed and replaced the same way.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import ray
from ray.exceptions import (
    GetTimeoutError,
    NodeDiedError,
    ObjectLostError,
    OwnerDiedError,
    RayActorError,
    WorkerCrashedError,
)

from cluster import runtime
from cluster.executor import Executor, run_chunk
from cluster.tasks import Chunk, Failed, Lost, Outcome, Work

_INFRA_ERRORS = (RayActorError, WorkerCrashedError, NodeDiedError, ObjectLostError, OwnerDiedError)


@ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)
class ChunkWorker:
    """One worker process: holds the job's work, runs chunks on request."""

    def __init__(self, work: Work) -> None:
        self.work = work
        self.where = f"{socket.gethostname()}:{os.getpid()}"

    def run(self, chunk: Chunk) -> Outcome:
        out = run_chunk(self.work, chunk)
        if hasattr(out, "worker"):
            object.__setattr__(out, "worker", self.where)
        return out

    def pid(self) -> int:
        return os.getpid()


@dataclass
class _Slot:
    actor: Any
    name: str
    running: dict[Any, tuple[Chunk, float]] = field(default_factory=dict)  # ref -> (chunk, start)


class RayExecutor(Executor):
    """Runs chunks on Ray actors, one per CPU of the cluster by default.

    Args:
        address: None for a local Ray on this machine (started once per process),
            "auto" or "ray://host:port" to join a running cluster.
        workers: actors to start; 0 means one per CPU the cluster has.
        depth: chunks queued per actor (2 keeps an actor busy between calls).
        stall_after: seconds after which a running chunk counts as stalled.
    """

    def __init__(self, address: str | None = None, workers: int = 0, depth: int = 2,
                 stall_after: float = 600.0) -> None:  # fmt: skip
        runtime.ensure(address)
        self._n = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._depth = depth
        self.stall_after = stall_after
        self._slots: list[_Slot] = []
        self._work_ref: Any = None
        self._queue: list[Chunk] = []
        self._lost: list[Outcome] = []
        self._started = 0

    @property
    def capacity(self) -> int:
        return self._n

    @property
    def actors(self) -> list[Any]:
        """The live actor handles (for diagnostics and fault-injection tests)."""
        return [s.actor for s in self._slots]

    def start(self, work: Work) -> None:
        self._work_ref = ray.put(work)
        self._slots = [self._new_slot() for _ in range(self._n)]

    def _new_slot(self) -> _Slot:
        self._started += 1
        actor = ChunkWorker.options(name=None).remote(self._work_ref)
        return _Slot(actor, f"worker-{self._started}")

    def submit(self, chunk: Chunk) -> None:
        self._queue.append(chunk)
        self._dispatch()

    def _dispatch(self) -> None:
        while self._queue:
            slot = min(self._slots, key=lambda s: len(s.running), default=None)
            if slot is None or len(slot.running) >= self._depth:
                return
            chunk = self._queue.pop(0)
            ref = slot.actor.run.remote(chunk)
            slot.running[ref] = (chunk, time.monotonic())

    def _replace(self, slot: _Slot, reason: str) -> None:
        """Report the slot's chunks lost and put a fresh actor in its place."""
        for chunk, _ in slot.running.values():
            self._lost.append(Lost(chunk, f"{slot.name}: {reason}"))
        slot.running.clear()
        try:
            ray.kill(slot.actor, no_restart=True)
        except Exception:  # already gone with its node
            pass
        fresh = self._new_slot()
        slot.actor, slot.name = fresh.actor, fresh.name

    def poll(self, timeout: float) -> list[Outcome]:
        out, self._lost = self._lost, []
        refs = [r for s in self._slots for r in s.running]
        if refs:
            ready, _ = ray.wait(refs, num_returns=1, timeout=0 if out else timeout)
            if ready:
                ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            for ref in ready:
                slot = next((s for s in self._slots if ref in s.running), None)
                if slot is None:  # its actor was replaced meanwhile; reported lost
                    continue
                chunk, _ = slot.running.pop(ref)
                try:
                    out.append(ray.get(ref, timeout=60))
                except _INFRA_ERRORS as exc:
                    slot.running[ref] = (chunk, 0.0)
                    self._replace(slot, type(exc).__name__)
                except GetTimeoutError:
                    slot.running[ref] = (chunk, 0.0)
                    self._replace(slot, "result could not be fetched")
                except ray.exceptions.RayTaskError as exc:
                    out.append(Failed(chunk, str(exc)))
        elif not out:
            time.sleep(min(timeout, 0.01))
        now = time.monotonic()
        for slot in self._slots:
            if any(now - start > self.stall_after for _, start in slot.running.values()):
                self._replace(slot, f"stalled for more than {self.stall_after:.0f} s")
        out.extend(self._lost)
        self._lost = []
        self._dispatch()
        return out

    def cancel(self) -> None:
        self._queue.clear()
        for slot in self._slots:
            try:
                ray.kill(slot.actor, no_restart=True)
            except Exception:
                pass
        self._slots = []

    def close(self) -> None:
        self.cancel()
        self._work_ref = None
