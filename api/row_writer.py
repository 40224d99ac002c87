"""A job's result rows on their way into the store: ``DuckSink`` (the cluster's
``Sink`` of one job) hands each finished chunk to the store's one row writer thread,
which writes every waiting chunk's Parquet file and registers the files with the
job's counts in one transaction (so a chunk counts once, and a killed service loses
no registered chunk). ``api.jobstore.JobStore`` owns the writer and makes the sinks.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow.parquet as pq

from api.fragments import pack, to_arrow, unpack
from api.parquet_files import durable, sync, written

if TYPE_CHECKING:
    from api.jobstore import JobStore

log = logging.getLogger("anvil.api")

WRITE_QUEUE = 16  # chunks waiting for the row writer; a sink's write() waits while it is full
WRITE_BATCH = 32  # chunks the row writer registers in one transaction, at most


class DuckSink:
    """The cluster ``Sink`` of one job. Each chunk's rows become a Parquet file in the
    job's folder, registered with the job's done and failed counts in a transaction
    (the store's row writer stores several chunks in one), so a killed service loses no
    registered chunk and counts none twice. Reads (``done_chunks``, ``files``,
    ``frames``, ``extras``) wait for the chunks already handed over."""

    def __init__(self, store: JobStore, job_id: str) -> None:
        self.store = store
        self.job_id = job_id
        self.folder = store.results_dir(job_id)
        self._error: BaseException | None = None  # what storing a chunk raised, for the next write or flush
        self.handed = 0  # chunks given to ``write``
        self.stored = 0  # rows this sink has stored (committed), on the row writer's thread
        self.on_stored: Callable[[int], None] | None = None  # told ``stored`` after each commit

    def load_manifest(self) -> dict[str, Any] | None:
        row = (
            self.store.db.cursor()
            .execute(f"SELECT manifest FROM {self.store.S}.job WHERE id = ?", [self.job_id])
            .fetchone()
        )
        return None if row is None or row[0] is None else dict(json.loads(row[0]))

    def save_manifest(self, manifest: dict[str, Any]) -> None:
        with self.store._write() as cur:
            cur.execute(
                f"UPDATE {self.store.S}.job SET manifest = ? WHERE id = ?",
                [json.dumps(manifest, default=str), self.job_id],
            )

    def _chunks(self, columns: str) -> list[tuple[Any, ...]]:
        return (
            self.store.db.cursor()
            .execute(
                f"SELECT {columns} FROM {self.store.S}.fragment WHERE job_id = ? AND kind = 'chunk' ORDER BY key",
                [self.job_id],
            )
            .fetchall()
        )

    def done_chunks(self) -> set[int]:
        self.flush()
        return {int(r[0]) for r in self._chunks("key")}

    def write(self, chunk_id: int, frame: pd.DataFrame, extra: Any = None) -> None:
        """Hand one chunk to the store's row writer and return: its file is written and
        registered (with several other chunks, in one transaction) on the writer's
        thread. Waits only while ``WRITE_QUEUE`` chunks are already waiting.

        Raises:
            Exception: what storing an earlier chunk of this sink raised.
        """
        self._raise()
        self.handed += 1
        self.store._hand(self.job_id)
        self.store.rows.put(_Chunk(self, chunk_id, frame, extra))

    def wait(self) -> None:
        """Wait until every chunk handed to ``write`` is stored or has failed."""
        self.store.settle(self.job_id)

    def flush(self) -> None:
        """``wait``, then raise what storing a chunk raised, if it failed."""
        self.wait()
        self._raise()

    def _raise(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error

    def _stored(self, n: int, error: BaseException | None) -> None:
        if error is not None and self._error is None:
            self._error = error
        self.store._land(self.job_id, n)

    def _store(self, chunks: list[_Chunk]) -> None:
        """Chunks' rows as files, registered with the job's counts in one transaction, so a
        killed service loses no registered chunk and counts none twice. The files are
        written (and synced) before the transaction; the folder is synced once for them all."""
        first: dict[int, _Chunk] = {}
        for c in chunks:
            first.setdefault(c.chunk_id, c)  # one per id: the first
        chunks = list(first.values())
        tmps: dict[int, Path] = {}
        try:
            for c in chunks:
                tmps[c.chunk_id] = written(self.folder / c.name, to_arrow(c.frame))
            with self.store._writing(self.job_id) as cur:
                keys = [c.chunk_id for c in chunks]
                have = {
                    int(r[0])
                    for r in cur.execute(
                        f"SELECT key FROM {self.store.S}.fragment WHERE job_id = ? AND kind = 'chunk' "
                        "AND list_contains(?, key)",
                        [self.job_id, keys],
                    ).fetchall()
                }
                new = [c for c in chunks if c.chunk_id not in have]  # already stored: a chunk counts once
                if not new:
                    return
                for c in new:
                    durable(tmps[c.chunk_id], self.folder / c.name, sync_folder=False)
                sync(self.folder)
                rows = []
                for c in new:
                    payload, kind = pack(c.extra)
                    rows.append([self.job_id, c.chunk_id, len(c.frame), c.name, payload, kind])
                cur.executemany(f"INSERT INTO {self.store.S}.fragment VALUES (?, 'chunk', ?, ?, ?, ?, ?)", rows)
                n, failed = sum(len(c.frame) for c in new), sum(c.failed for c in new)
                cur.execute(
                    f"UPDATE {self.store.S}.job SET done = done + ?, failed = failed + ?, rows = rows + ? WHERE id = ?",
                    [n, failed, n, self.job_id],
                )
                self.store._changed(
                    self.job_id,
                    done=lambda r: r.done + n,
                    failed=lambda r: r.failed + failed,
                    rows=lambda r: r.rows + n,
                )
            self.stored += n  # committed
            if self.on_stored is not None:
                self.on_stored(self.stored)
        finally:
            for tmp in tmps.values():
                tmp.unlink(missing_ok=True)

    def files(self) -> list[Path]:
        """The job's row files now, in order (its chunks; once it is done, maybe the parts
        they were joined into): what DuckDB reads as one table."""
        self.flush()
        return [path for _, _, path in self.store._files(self.store.db.cursor(), self.job_id)]

    def frames(self) -> list[pd.DataFrame]:
        return [pq.read_table(path).to_pandas() for path in self.files()]

    def extras(self) -> list[Any]:
        self.flush()
        return [unpack(blob, kind) for blob, kind in self._chunks("extra, extra_kind")]


@dataclass(eq=False)
class _Chunk:
    """One chunk on its way to the row writer."""

    sink: DuckSink
    chunk_id: int
    frame: pd.DataFrame
    extra: Any

    @property
    def name(self) -> str:
        return f"chunk-{self.chunk_id:08d}.parquet"

    @property
    def failed(self) -> int:
        return int(self.frame["error"].notna().sum()) if "error" in self.frame.columns else 0


class RowWriter:
    """The job store's one thread that stores chunks (``DuckSink.write``): it takes every
    chunk waiting (up to ``WRITE_BATCH``) and stores each sink's in one transaction, so
    the driver that runs a sweep goes back to its workers at once and the database
    commits once for many chunks. Started on the first chunk, stopped by ``close``."""

    def __init__(self) -> None:
        self.queue: queue.Queue[_Chunk | None] = queue.Queue(WRITE_QUEUE)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.transactions = 0  # batches stored (tests count them)

    def put(self, chunk: _Chunk) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="anvil-job-rows", daemon=True)
                self._thread.start()
        self.queue.put(chunk)

    def close(self) -> None:
        """Store what is waiting, then stop the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self.queue.put(None)
            thread.join()

    def _run(self) -> None:
        stop = False
        while not stop:
            batch = [self.queue.get()]
            while len(batch) < WRITE_BATCH:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(c is None for c in batch)
            by_sink: dict[int, list[_Chunk]] = {}
            for c in batch:
                if c is not None:
                    by_sink.setdefault(id(c.sink), []).append(c)
            for chunks in by_sink.values():
                sink, error = chunks[0].sink, None
                try:
                    sink._store(chunks)
                    self.transactions += 1
                except BaseException as exc:  # the sink's next write or flush raises it
                    log.warning("job %s: storing %d chunk(s) failed: %s", sink.job_id, len(chunks), exc)
                    error = exc
                sink._stored(len(chunks), error)
