"""Value objects that cross the executor boundary: chunks in, chunk results out.

Only these (and the job's shared ``Work``, shipped once) travel to workers, so
everything here is frozen and picklable. A chunk's id is its position in the
job's fixed sequence of chunks: it never depends on which worker ran it, how
many workers there were, or how often it was retried.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from engine.records import STATS_DTYPE


@dataclass(frozen=True)
class Chunk:
    """A batch of items run together by one worker.

    Attributes:
        id: the chunk's stable position in its job.
        item_ids: the job-wide ids of its items, in order.
        items: what the job's ``Work`` needs per item (parameter dicts, window
            numbers, seeds ...), aligned with ``item_ids``.
        attempt: 0 for the first try, then 1, 2 ... after a worker was lost.
    """

    id: int
    item_ids: tuple[int, ...]
    items: tuple[Any, ...]
    attempt: int = 0

    def retry(self) -> Chunk:
        return Chunk(self.id, self.item_ids, self.items, self.attempt + 1)


@dataclass(frozen=True)
class ChunkResult:
    """The outcome of one chunk: a stats record per item, failures by item.

    Attributes:
        chunk_id: the chunk this answers.
        item_ids: ids of the items, aligned with ``stats``.
        stats: ``engine.records.STATS_DTYPE`` records; NaN rows for failed items.
        errors: ``(item_id, message)`` for each item that failed.
        extra: optional per-item payload a job asked for (e.g. per-bar returns).
        worker: who ran it (node and process), for diagnostics.
        seconds: the time the chunk took on its worker.
    """

    chunk_id: int
    item_ids: np.ndarray
    stats: np.ndarray
    errors: tuple[tuple[int, str], ...] = ()
    extra: Any = None
    worker: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class Lost:
    """A chunk whose worker died or stalled before answering; the scheduler retries it."""

    chunk: Chunk
    reason: str

    @property
    def chunk_id(self) -> int:
        return self.chunk.id


@dataclass(frozen=True)
class Failed:
    """A chunk whose run raised as a whole (a bug, not a per-item error)."""

    chunk: Chunk
    error: str

    @property
    def chunk_id(self) -> int:
        return self.chunk.id


Outcome = ChunkResult | Lost | Failed


class Work(Protocol):
    """What a job runs on each chunk. Shipped to every worker once, so it holds the
    shared data (bars, strategy, config); ``run`` must depend only on its inputs."""

    def run(self, chunk: Chunk) -> ChunkResult: ...


def empty_stats(n: int) -> np.ndarray:
    """n stats records full of NaN (the row of a failed item)."""
    out = np.empty(n, STATS_DTYPE)
    for name in STATS_DTYPE.names or ():
        out[name] = np.nan
    return out


@dataclass
class Progress:
    """What a progress callback receives."""

    done: int
    total: int
    failed: int = 0
    best: dict[str, Any] | None = field(default=None)
