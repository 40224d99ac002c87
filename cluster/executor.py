"""The executor contract, and the in-process executor.

An executor runs the chunks of one job against a ``Work`` shipped to its workers
once. The scheduler (``cluster.scheduler``) is the only caller; it keeps the
executor fed, collects outcomes, retries lost chunks and never counts one twice.
``cluster.ray_executor.RayExecutor`` is the distributed implementation; the
tests run one suite against both.
"""

from __future__ import annotations

import abc
import os
import threading
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from cluster.tasks import Chunk, Failed, Outcome, Work


class Executor(abc.ABC):
    """Runs chunks of one job at a time.

    Contract:
        - ``start(work)`` ships the job's shared data to the workers, once.
        - ``submit(chunk)`` queues a chunk and returns at once.
        - ``poll(timeout)`` returns the outcomes (ChunkResult, Lost, Failed)
          that finished since the last call, waiting up to ``timeout`` seconds
          for the first one; every submitted chunk yields exactly one outcome
          unless ``cancel`` is called.
        - ``capacity`` is how many chunks can run at the same time.
        - ``cancel()`` drops queued chunks and stops running ones within a
          second or two; ``close()`` releases the workers.
    """

    @property
    @abc.abstractmethod
    def capacity(self) -> int:
        """Chunks that can run at the same time."""

    @abc.abstractmethod
    def start(self, work: Work) -> None:
        """Ship ``work`` to the workers."""

    @abc.abstractmethod
    def submit(self, chunk: Chunk) -> None:
        """Queue ``chunk``."""

    @abc.abstractmethod
    def poll(self, timeout: float) -> list[Outcome]:
        """Outcomes finished since the last call."""

    @abc.abstractmethod
    def cancel(self) -> None:
        """Stop everything queued or running."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the workers."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_chunk(work: Work, chunk: Chunk) -> Outcome:
    """Run one chunk, turning an exception that escapes the work into ``Failed``."""
    try:
        return work.run(chunk)
    except Exception as exc:  # the work's own bug: report it, do not sink the job
        return Failed(chunk, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}")


class InProcessExecutor(Executor):
    """Runs chunks on threads of this process (the C core releases the GIL).

    Args:
        workers: threads; 0 means every core this process may use.
    """

    def __init__(self, workers: int = 0) -> None:
        if workers <= 0:
            workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._work: Work | None = None
        self._futures: set[Future[Outcome]] = set()
        self._cancelled = threading.Event()

    @property
    def capacity(self) -> int:
        return self._workers

    def start(self, work: Work) -> None:
        self._work = work
        self._cancelled.clear()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="anvil-chunk")

    def submit(self, chunk: Chunk) -> None:
        if self._pool is None or self._work is None:
            raise RuntimeError("start(work) the executor before submitting chunks")
        work, cancelled = self._work, self._cancelled

        def job() -> Outcome:
            if cancelled.is_set():
                return Failed(chunk, "cancelled")
            return run_chunk(work, chunk)

        self._futures.add(self._pool.submit(job))

    def poll(self, timeout: float) -> list[Outcome]:
        if not self._futures:
            time.sleep(min(timeout, 0.01))
            return []
        done, _ = wait(self._futures, timeout=timeout, return_when=FIRST_COMPLETED)
        self._futures -= done
        return [f.result() for f in done]

    def cancel(self) -> None:
        self._cancelled.set()
        for f in self._futures:
            f.cancel()
        self._futures.clear()

    def close(self) -> None:
        self.cancel()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
