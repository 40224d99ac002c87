"""``RayExecutor``: chunks run by Ray actors that hold the job's data once.

The actors are started once per process and shared by every job (``runtime.POOL``).
A job's work (bars, strategy, config) goes into the object store once and each
actor loads it once, by key, so a chunk call carries only its items. Each actor
keeps up to ``depth`` chunks in flight, so it never waits for the driver between
chunks. When an actor or its node dies, its chunks come back as ``Lost`` (the
scheduler retries them) and a replacement actor is started wherever the cluster
has room; a chunk running far longer than expected marks its actor stalled,
which is killed and replaced the same way.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import OrderedDict
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
from cluster.runtime import POOL
from cluster.executor import Executor, run_chunk
from cluster.tasks import Chunk, Failed, Lost, Outcome, Work

NICENESS = 10  # added to a worker's CPU niceness

log = logging.getLogger(__name__)

_INFRA_ERRORS = (RayActorError, WorkerCrashedError, NodeDiedError, ObjectLostError, OwnerDiedError)


@ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)
class ChunkWorker:
    """One worker process: holds the work of a few jobs by key, runs their chunks."""

    def __init__(self) -> None:
        self.works: OrderedDict[str, Work] = OrderedDict()
        self.where = f"{socket.gethostname()}:{os.getpid()}"
        # Backtests yield the CPU to the control plane (a job service, the driver) when
        # both want it; alone on a core they run at full speed all the same.
        os.nice(NICENESS)

    def load(self, key: str, work: Work) -> None:
        self.works[key] = work
        self.works.move_to_end(key)
        while len(self.works) > 4:  # jobs that never said goodbye
            self.works.popitem(last=False)

    def unload(self, key: str) -> None:
        work = self.works.pop(key, None)
        strategy = getattr(work, "strategy", None)
        if getattr(strategy, "_job", None) is not None and callable(getattr(strategy, "release", None)):
            strategy.release()  # an uploaded strategy: kill the job's jailed processes here

    def run(self, key: str, chunk: Chunk) -> Outcome:
        work = self.works.get(key)
        if work is None:
            return Failed(chunk, f"{self.where} holds no work for job {key}")
        out = run_chunk(work, chunk)
        if hasattr(out, "worker"):
            object.__setattr__(out, "worker", self.where)
        return out

    def pid(self) -> int:
        return os.getpid()


@dataclass
class _Slot:
    actor: Any
    name: str
    ready: Any = None  # the actor's load call; chunks go to the actor once it answered
    up: bool = False
    broken: str = ""  # why the actor could not load the job's work
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

    def __init__(
        self, address: str | None = None, workers: int = 0, depth: int = 2, stall_after: float = 600.0
    ) -> None:
        runtime.ensure(address)
        self._n = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._depth = depth
        self.stall_after = stall_after
        self._slots: list[_Slot] = []
        self._work_ref: Any = None
        self._key = ""
        self._queue: list[Chunk] = []
        self._lost: list[Outcome] = []
        self._started = 0
        self._up_said = 0  # workers up when last logged

    @property
    def capacity(self) -> int:
        return self._n

    @property
    def actors(self) -> list[Any]:
        """The live actor handles (for diagnostics and fault-injection tests)."""
        return [s.actor for s in self._slots]

    def start(self, work: Work) -> None:
        self._release()
        self._work_ref = ray.put(work)
        self._key = self._work_ref.hex()
        self._slots = []
        for actor in POOL.take(self._n, ChunkWorker.remote):
            self._started += 1
            self._slots.append(_Slot(actor, f"worker-{self._started}", actor.load.remote(self._key, self._work_ref)))
        self._up_said = 0
        cpus = int(ray.cluster_resources().get("CPU", 0))
        if self._n > cpus:
            log.info(
                "%d workers asked, the cluster has %d CPUs now: the job starts on those that fit, "
                "the others join as nodes do",
                self._n,
                cpus,
            )

    def _release(self) -> None:
        for slot in self._slots:
            try:
                slot.actor.unload.remote(self._key)
            except Exception:  # a dead actor holds nothing
                pass

    def submit(self, chunk: Chunk) -> None:
        self._queue.append(chunk)
        self._dispatch()

    def _dispatch(self) -> None:
        while self._queue:
            slot = min((s for s in self._slots if s.up), key=lambda s: len(s.running), default=None)
            if slot is None or len(slot.running) >= self._depth:
                return
            chunk = self._queue.pop(0)
            if slot.broken:
                self._lost.append(Failed(chunk, f"{slot.name} could not load the job: {slot.broken}"))
                continue
            ref = slot.actor.run.remote(self._key, chunk)
            slot.running[ref] = (chunk, time.monotonic())

    def _replace(self, slot: _Slot, reason: str) -> None:
        """Put a fresh actor (with this job's work) in the slot's place.

        The actor runs its chunks one at a time in the order sent, so only the first
        was running: it is reported lost (the scheduler counts an attempt); the others
        never started and go back to the front of the queue, attempts untouched.
        """
        waiting = [chunk for chunk, _ in slot.running.values()]
        if waiting:
            self._lost.append(Lost(waiting[0], f"{slot.name}: {reason}"))
            self._queue[:0] = waiting[1:]
        slot.running.clear()
        dead = slot.actor
        try:
            ray.kill(dead, no_restart=True)
        except Exception:  # already gone with its node
            pass
        slot.actor = POOL.replace(dead, ChunkWorker.remote)
        slot.ready, slot.up, slot.broken = slot.actor.load.remote(self._key, self._work_ref), False, ""
        self._started += 1
        slot.name = f"worker-{self._started}"

    def _check_ready(self) -> None:
        """Mark actors that have loaded the work as up; replace those that died starting."""
        waiting = {s.ready: s for s in self._slots if not s.up}
        if not waiting:
            return
        done, _ = ray.wait(list(waiting), num_returns=len(waiting), timeout=0)
        for ref in done:
            try:
                ray.get(ref)
                waiting[ref].up = True
            except _INFRA_ERRORS as exc:
                self._replace(waiting[ref], type(exc).__name__)
            except ray.exceptions.RayTaskError as exc:  # e.g. a module the worker cannot import
                waiting[ref].up, waiting[ref].broken = True, str(exc)
        up = sum(s.up for s in self._slots)
        if up != self._up_said:
            self._up_said = up
            log.info("%d of %d workers up", up, self._n)

    def poll(self, timeout: float) -> list[Outcome]:
        out, self._lost = self._lost, []
        self._check_ready()
        self._dispatch()
        refs = [r for s in self._slots for r in s.running]
        waiting = [s.ready for s in self._slots if not s.up]
        if refs or waiting:
            ray.wait(refs + waiting, num_returns=1, timeout=0 if out else timeout)
            self._check_ready()
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0) if refs else ([], [])
            for ref in ready:
                slot = next((s for s in self._slots if ref in s.running), None)
                if slot is None:  # its actor was replaced meanwhile; reported lost
                    continue
                chunk, _ = slot.running[ref]
                try:
                    out.append(ray.get(ref, timeout=60))
                except _INFRA_ERRORS as exc:
                    self._replace(slot, type(exc).__name__)
                    continue
                except GetTimeoutError:
                    self._replace(slot, "result could not be fetched")
                    continue
                except ray.exceptions.RayTaskError as exc:
                    out.append(Failed(chunk, str(exc)))
                del slot.running[ref]
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
        """Drop queued chunks; running ones are stopped by restarting their actors."""
        self._queue.clear()
        for slot in self._slots:
            if slot.running:
                slot.running.clear()
                dead = slot.actor
                try:
                    ray.kill(dead, no_restart=True)
                except Exception as exc:  # already gone with its node: replaced all the same
                    log.debug("cancel: the actor of a running chunk could not be killed: %s", exc)
                slot.actor = POOL.replace(dead, ChunkWorker.remote)
        self._lost = []

    def close(self) -> None:
        self.cancel()
        self._release()
        self._slots = []
        self._work_ref = None
