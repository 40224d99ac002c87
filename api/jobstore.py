"""Jobs in the store's DuckDB file: records, result rows, uploaded strategies, a Sink.

Everything lives in the schema ``jobs`` of the same file as the market data:

- ``jobs.job``: one record per job — spec, status, progress, timings, error,
  summary, and the cluster's manifest (so a resumed job is the same job);
- ``jobs.fragment``: where a job's rows are. Each is a Parquet file in
  ``<db>.results/<job id>/`` (``results_dir``): ``chunk-<id>.parquet`` holds the
  rows of one finished chunk (handed by ``DuckSink`` to the store's row writer thread
  (both in ``api.row_writer``),
  which writes the files of every chunk waiting and registers them with the job's
  counts in one transaction, so a chunk counts once), and
  ``part-<k>.parquet`` a finished job's result table when it is not simply its
  chunks (walk-forward windows, Monte Carlo paths, backtest trades). A grid or
  random sweep's chunks *are* its result: ``complete`` keeps them as they are, so a
  row is written once (a job of more than ``MAX_CHUNK_FILES`` chunks has them joined
  into a few large parts, file to file, never through pandas — by ``join_chunks``
  before its result is queried, else by ``complete``). Reads go through the
  registered files only, never a glob, so a file a crash left unregistered is never counted; DuckDB reads the files as
  one table (``top``), and pages and exports read one file at a time;
- ``jobs.strategy``: uploaded strategies' source, by id.

Fragments (``api.fragments``) keep every column's type exactly (as
``cluster.sinks.DirectorySink`` does), whatever columns a job's rows have. The
database holds only the small things (records, the list of fragments, a chunk's
extra payload), so its single writer is never busy with result rows. Stores written
before fragments became files (rows as blobs in ``jobs.chunk`` and ``jobs.result``)
have them moved out on opening. A record is an
``api.jobrecord.JobRecord``.

A new job's record does not wait for the database's write lock (a running sweep
holds it while it stores each chunk): ``create`` appends it to a write-ahead
journal beside the file (``api.journal``) and returns once that line is durable.
Journaled records reach ``jobs.job`` at the start of the store's next write
transaction — the background flusher's, every ``flush_every`` seconds, or any
other write's, so a change to a job always finds its row — and a store opened on
a folder where a crash left journal segments stores their records first.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from api.fragments import to_arrow
from api.jobrecord import STATUSES, JobRecord, dumps_json, is_job_id, jsonable, new_job_id, now
from api.journal import Journal, journal_path
from api.parquet_files import conform, durable, json_rows, rows_at, sync, written
from api.row_writer import DuckSink, RowWriter
from engine.errors import did_you_mean
from engine.store import Database

log = logging.getLogger("anvil.api")
PART_ROWS = 10_000  # rows per stored part of a finished job's result table
MAX_CHUNK_FILES = 64  # a finished sweep with more chunk files than this has them joined into parts
COMPACT_ROWS = 250_000  # rows per part joined from chunk files
ROW_GROUP_ROWS = 65_536  # rows per Parquet row group of a joined part (what it holds in memory)
CACHED_RECORDS = 10_000  # job records kept in memory (the most recently used)
FLUSH_EVERY = 0.05  # seconds new records gather in the journal before the flusher stores them

_DDL = """
CREATE SCHEMA IF NOT EXISTS {S};
CREATE TABLE IF NOT EXISTS {S}.job (
    id VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,
    strategy VARCHAR NOT NULL,
    spec VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    items BIGINT NOT NULL,
    total BIGINT NOT NULL,
    done BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    rows BIGINT NOT NULL DEFAULT 0,
    best VARCHAR,
    error VARCHAR,
    summary VARCHAR,
    manifest VARCHAR,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    started_at TIMESTAMP,
    finished_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS {S}.fragment (
    job_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    key INTEGER NOT NULL,
    rows BIGINT NOT NULL,
    file VARCHAR NOT NULL,
    extra BLOB,
    extra_kind VARCHAR,
    PRIMARY KEY (job_id, kind, key)
);
CREATE TABLE IF NOT EXISTS {S}.strategy (
    id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    description VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL
);
"""

_RECORD_COLUMNS = (
    "id, kind, strategy, spec, status, items, total, done, failed, rows, best, error, "
    "summary, attempts, created_at, started_at, finished_at"
)


@dataclass(frozen=True)
class _Pending:
    """A new job's record, durable in the journal, not yet in ``jobs.job``."""

    record: JobRecord
    row: tuple[Any, ...]  # id, kind, strategy, spec (JSON), items, created_at
    segment: int  # the journal segment that holds it


def _journal_line(row: tuple[Any, ...]) -> str:
    """A new record as one journal line (its spec is already JSON text)."""
    job_id, kind, strategy, spec, items, created = row
    return (
        f'{{"id": "{job_id}", "kind": {json.dumps(kind)}, "strategy": {json.dumps(strategy)}, '
        f'"items": {int(items)}, "created_at": "{created.isoformat()}", "spec": {spec}}}'
    )


def _journaled_row(line: dict[str, Any]) -> tuple[Any, ...] | None:
    """The row a journal line holds, or None for a line that is not a job record."""
    try:
        job_id, kind, strategy, items = line["id"], line["kind"], line["strategy"], line["items"]
        created = dt.datetime.fromisoformat(line["created_at"])
        spec = line["spec"]
    except (KeyError, TypeError, ValueError):
        return None
    if not (
        isinstance(job_id, str)
        and is_job_id(job_id)
        and isinstance(kind, str)
        and isinstance(strategy, str)
        and isinstance(items, int)
        and isinstance(spec, dict)
    ):
        return None
    return (job_id, kind, strategy, json.dumps(spec), items, created.replace(tzinfo=None))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


FLUSHER_JOIN_SECONDS = 30.0
"""How long ``JobStore.close`` waits for its flusher thread to end."""


class JobStore:
    """Job records, result rows and uploaded strategies in a store's DuckDB file.

    Opening stores what an earlier process left in the journal (a crash); ``close``
    stores every journaled record and stops the flusher.

    Args:
        db: the process's connection to the file (``engine.store.Store(...).database``).
        flush_every: seconds new records gather in the journal before the background
            flusher stores them (any write transaction stores them sooner).

    Raises:
        JournalError: the journal cannot be created beside the file.
    """

    def __init__(self, db: Database, flush_every: float = FLUSH_EVERY) -> None:
        self.db = db
        self.flush_every = flush_every
        self.catalog = db.catalog  # the name the file is attached under in this process
        self.S = f"{_quote(self.catalog)}.jobs"  # qualified: a file named jobs.duckdb is a catalog "jobs"
        # Write-through: this process is the file's only writer (DuckDB locks it), so the
        # records it changed are known without asking the database.
        self._cache: OrderedDict[str, JobRecord] = OrderedDict()
        self._cache_lock = threading.Lock()
        # Journaled records waiting for a write transaction, then in one until it commits.
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        self._storing: dict[str, _Pending] = {}
        self._pending_lock = threading.Lock()
        self._local = threading.local()
        with db.write() as cur:
            cur.execute(_DDL.format(S=self.S))
            self._move_blobs(cur)
        self.journal = Journal(journal_path(db.path))
        try:
            with db.write() as cur:
                self._replay(cur)
            self.journal.drop_leftovers()
        except BaseException:
            self.journal.close()
            raise
        self.rows = RowWriter()
        self._rows_landed = threading.Condition()
        self._handed: dict[str, int] = {}  # chunks handed to the row writer, per job
        self._landed: dict[str, int] = {}  # of those, stored or failed
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._flusher = threading.Thread(target=self._flush_in_background, name="anvil-job-journal", daemon=True)
        self._flusher.start()

    def _move_blobs(self, cur: duckdb.DuckDBPyConnection) -> None:
        """Move the rows an older store kept as blobs (``jobs.chunk``, ``jobs.result``) into files."""
        tables = {
            r[0]
            for r in cur.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_catalog = ? AND table_schema = 'jobs'",
                [self.catalog],
            ).fetchall()
        }
        for table, kind, key, extras in (
            ("chunk", "chunk", "chunk_id", "extra, extra_kind"),
            ("result", "result", "part", "NULL, NULL"),
        ):
            if table not in tables:
                continue
            found = cur.execute(f"SELECT job_id, {key}, rows FROM {self.S}.{table}").fetchall()
            for job_id, k, n in found:  # one blob in memory at a time
                blob, extra, extra_kind = cur.execute(
                    f"SELECT frame, {extras} FROM {self.S}.{table} WHERE job_id = ? AND {key} = ?", [job_id, k]
                ).fetchone()
                name = f"chunk-{k:08d}.parquet" if kind == "chunk" else f"part-{k:06d}.parquet"
                path = self.results_dir(job_id) / name
                durable(written(path, pq.read_table(pa.BufferReader(blob))), path)
                cur.execute(
                    f"INSERT INTO {self.S}.fragment VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    [job_id, kind, k, n, name, extra, extra_kind],
                )
            moved = len(found)
            cur.execute(f"DROP TABLE {self.S}.{table}")
            if moved:
                log.info("anvil: %d stored %s fragment(s) moved into files beside the store", moved, table)

    def _replay(self, cur: duckdb.DuckDBPyConnection) -> None:
        """Store the records an earlier process journaled but did not store (idempotent)."""
        lines = self.journal.leftovers()
        rows = [row for row in map(_journaled_row, lines) if row is not None]
        if len(rows) < len(lines):
            log.warning("anvil: skipped %d journal line(s) that are not job records", len(lines) - len(rows))
        rows = list({row[0]: row for row in reversed(rows)}.values())  # one row per id (the first)
        if rows:
            before = self._count(cur)
            self._insert(cur, rows, skip_existing=True)
            added = self._count(cur) - before
            log.info(
                "anvil: %d job record(s) recovered from the journal (%d were already stored)", added, len(rows) - added
            )

    def _count(self, cur: duckdb.DuckDBPyConnection) -> int:
        row = cur.execute(f"SELECT count(*) FROM {self.S}.job").fetchone()
        return int(row[0]) if row else 0

    def _insert(self, cur: duckdb.DuckDBPyConnection, rows: list[tuple[Any, ...]], skip_existing: bool = False) -> None:
        """New queued records into ``jobs.job``: one statement for the lot (a column of each
        field, unnested), whose cost hardly grows with the number of rows."""
        conflict = " ON CONFLICT DO NOTHING" if skip_existing else ""
        ids, kinds, strategies, specs, items, created = (list(column) for column in zip(*rows))
        cur.execute(
            f"INSERT INTO {self.S}.job (id, kind, strategy, spec, status, items, total, created_at) "
            "SELECT unnest($1), unnest($2), unnest($3), unnest($4), 'queued', unnest($5), unnest($5), "
            f"unnest($6){conflict}",
            [ids, kinds, strategies, specs, items, created],
        )

    @contextmanager
    def _write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write transaction of the job store; journaled records are stored first, in it.

        Every write about a job goes through here, so it always finds the job's row. If
        the transaction fails, its journaled records wait for the next one.
        """
        if getattr(self._local, "writing", False):  # nested: the outer transaction stored them
            with self.db.write() as cur:
                yield cur
            return
        batch: list[_Pending] = []
        self._local.writing = True
        try:
            with self.db.write() as cur:
                with self._pending_lock:
                    if self._pending:
                        batch = list(self._pending.values())
                        self._storing.update(self._pending)
                        self._pending = OrderedDict()
                if batch:
                    self._insert(cur, [p.row for p in batch])
                yield cur
        except BaseException:
            if batch:
                with self._pending_lock:
                    for p in batch:
                        self._storing.pop(p.record.id, None)
                    self._pending = OrderedDict([*((p.record.id, p) for p in batch), *self._pending.items()])
            raise
        finally:
            self._local.writing = False
        if batch:
            with self._pending_lock:
                for p in batch:
                    self._storing.pop(p.record.id, None)
            self.journal.stored(p.segment for p in batch)

    def unstored(self) -> int:
        """How many new records are in the journal and not yet in ``jobs.job``."""
        with self._pending_lock:
            return len(self._pending) + len(self._storing)

    def flush(self) -> None:
        """Store every journaled record in ``jobs.job`` now."""
        with self._write():
            pass

    def _flush_in_background(self) -> None:
        """The flusher: moves journaled records into the database, a batch at a time."""
        while True:
            self._wake.wait()
            if self._closing.wait(self.flush_every):
                return  # close() stores the rest
            self._wake.clear()
            try:
                if self.unstored():
                    self.flush()
                self.journal.rotate()  # retired, the segment is deleted once everything in it is stored
            except Exception:
                log.exception(
                    "anvil: storing journaled job records failed; they stay in the journal, retried in a second"
                )
                self._closing.wait(1.0)
                self._wake.set()

    def close(self) -> None:
        """Store every journaled record, stop the flusher and close the journal (then removed).

        Records that cannot be stored now stay in the journal; the next start stores them.
        Chunks handed to sinks are stored first.
        """
        self.rows.close()
        self._closing.set()
        self._wake.set()
        # Bounded: once (1 of ~2,450 tests, clean-clone CI) the flusher had returned but its
        # thread state was not torn down and join() waited forever; what it would store is
        # stored below in any case, so a stuck end is logged, not waited on.
        self._flusher.join(timeout=FLUSHER_JOIN_SECONDS)
        if self._flusher.is_alive():
            log.warning(
                "anvil: the job-record flusher did not stop within %s s; closing without it", FLUSHER_JOIN_SECONDS
            )
        try:
            if self.unstored():
                self.flush()
        except Exception:
            log.exception("anvil: the journaled job records could not be stored; the next start stores them")
        finally:
            self.journal.close()

    def _remember(self, record: JobRecord) -> JobRecord:
        with self._cache_lock:
            self._cache[record.id] = record
            self._cache.move_to_end(record.id)
            while len(self._cache) > CACHED_RECORDS:
                self._cache.popitem(last=False)
        return record

    @contextmanager
    def _writing(self, job_id: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write transaction about one job; its cached record goes if the transaction fails.
        Callers update the cache inside the block, so it changes under the same lock."""
        try:
            with self._write() as cur:
                yield cur
        except BaseException:
            with self._cache_lock:
                self._cache.pop(job_id, None)
            raise

    def _changed(self, job_id: str, **changes: Any) -> None:
        """Apply committed changes to the cached record (values, or functions of the old record)."""
        with self._cache_lock:
            old = self._cache.get(job_id)
            if old is not None:
                values = {k: v(old) if callable(v) else v for k, v in changes.items()}
                self._cache[job_id] = dataclasses.replace(old, **values)

    # -- records --------------------------------------------------------------
    def create(self, kind: str, strategy: str, spec: dict[str, Any], items: int) -> JobRecord:
        """Store a new queued job: durable in the journal on return, in ``jobs.job`` soon after.

        Raises:
            JournalError: the record could not be made durable (the job is not created).
        """
        job_id, created, spec = new_job_id(), now(), jsonable(spec)
        record = JobRecord(
            job_id,
            kind,
            strategy,
            spec,
            "queued",
            items,
            items,
            0,
            0,
            0,
            None,
            None,
            None,
            0,
            created.replace(tzinfo=dt.timezone.utc),
            None,
            None,
        )
        row = (job_id, kind, strategy, json.dumps(spec), items, created)
        segment = self.journal.append(_journal_line(row))
        with self._pending_lock:
            self._pending[job_id] = _Pending(record, row, segment)
        self._remember(record)
        self._wake.set()
        return record

    def get(self, job_id: str) -> JobRecord | None:
        """The job with this id, or None."""
        with self._cache_lock:
            cached = self._cache.get(job_id)
        if cached is not None:
            return cached
        with self._pending_lock:  # journaled, and no longer cached (thousands created since)
            pending = self._pending.get(job_id) or self._storing.get(job_id)
        if pending is not None:
            return pending.record
        sql = f"SELECT {_RECORD_COLUMNS} FROM {self.S}.job WHERE id = ?"
        if self.db.cursor().execute(sql, [job_id]).fetchone() is None:
            return None  # unknown ids never take the writers' lock
        with self._write() as cur:  # read under the writers' lock: no change slips in before caching
            row = cur.execute(sql, [job_id]).fetchone()
            return None if row is None else self._remember(JobRecord.from_row(row))

    def list(self, status: str | None = None, offset: int = 0, limit: int = 100) -> tuple[list[JobRecord], int]:
        """Jobs newest first (optionally of one status), one page, and how many there are."""
        if self.unstored():
            self.flush()  # so the query sees every job created before this call
        where, args = ("WHERE status = ?", [status]) if status else ("", [])
        cur = self.db.cursor()
        rows = cur.execute(
            f"SELECT {_RECORD_COLUMNS} FROM {self.S}.job {where} ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
            [*args, limit, offset],
        ).fetchall()
        count = cur.execute(f"SELECT count(*) FROM {self.S}.job {where}", args).fetchone()
        return [JobRecord.from_row(r) for r in rows], int(count[0]) if count else 0

    def set_status(self, job_id: str, status: str, error: str | None = None) -> None:
        """Move a job to ``status``; a final status stamps ``finished_at``."""
        if status not in STATUSES:
            raise ValueError(f"unknown job status {status!r}")
        when = now()
        utc = when.replace(tzinfo=dt.timezone.utc)
        with self._writing(job_id) as cur:
            if status == "running":
                cur.execute(
                    f"UPDATE {self.S}.job SET status = 'running', started_at = ?, finished_at = NULL, "
                    "error = NULL, attempts = attempts + 1 WHERE id = ?",
                    [when, job_id],
                )
                self._changed(
                    job_id,
                    status=status,
                    started_at=utc,
                    finished_at=None,
                    error=None,
                    attempts=lambda r: r.attempts + 1,
                )
            elif status == "queued":
                cur.execute(
                    f"UPDATE {self.S}.job SET status = 'queued', error = NULL, finished_at = NULL WHERE id = ?",
                    [job_id],
                )
                self._changed(job_id, status=status, error=None, finished_at=None)
            else:
                cur.execute(
                    f"UPDATE {self.S}.job SET status = ?, error = ?, finished_at = ? WHERE id = ?",
                    [status, error, when, job_id],
                )
                self._changed(job_id, status=status, error=error, finished_at=utc)

    def set_progress(self, job_id: str, total: int, best: dict[str, Any] | None) -> None:
        """Record the job's planned runs and best result so far."""
        with self._writing(job_id) as cur:
            cur.execute(f"UPDATE {self.S}.job SET total = ?, best = ? WHERE id = ?", [total, dumps_json(best), job_id])
            self._changed(job_id, total=total, best=jsonable(best))

    def complete(
        self, job_id: str, table: pd.DataFrame | None, summary: dict[str, Any], done: int, failed: int
    ) -> None:
        """Mark a finished job done with its summary and results — one transaction.

        ``table`` None: the job's chunks are its result (a grid or random sweep's runs,
        in chunk order) and stay as they are — no row is written again — unless there
        are more than ``MAX_CHUNK_FILES`` of them: then they are joined, file to file
        (Arrow batches, never a whole table in memory), into parts of about
        ``COMPACT_ROWS`` rows, so a query reads a few large files rather than thousands
        of small ones. Otherwise ``table`` is stored as parts of ``PART_ROWS`` rows.
        Parts replace the chunks.
        """
        self.settle(job_id)
        folder = self.results_dir(job_id)
        parts: list[tuple[int, int, str]] | None = None
        if table is not None:
            parts, data = [], to_arrow(table)
            for k, start in enumerate(range(0, max(data.num_rows, 1), PART_ROWS)):
                piece = data.slice(start, PART_ROWS)
                name = f"part-{k:06d}.parquet"
                durable(written(folder / name, piece), folder / name, sync_folder=False)
                parts.append((k, piece.num_rows, name))
            sync(folder)
        else:
            files = self._files(self.db.cursor(), job_id)
            if len(files) > MAX_CHUNK_FILES:
                parts = self._compact(folder, files)
        with self._writing(job_id) as cur:
            if parts is None:  # its chunks, or the parts ``join_chunks`` made of them, are its result
                cur.execute(
                    f"DELETE FROM {self.S}.fragment WHERE job_id = $job AND kind = 'chunk' AND EXISTS "
                    f"(SELECT 1 FROM {self.S}.fragment WHERE job_id = $job AND kind = 'result')",
                    {"job": job_id},
                )
                row = cur.execute(
                    f"SELECT coalesce(sum(rows), 0) FROM {self.S}.fragment WHERE job_id = ?", [job_id]
                ).fetchone()
                rows = int(row[0]) if row else 0
                cur.execute(f"UPDATE {self.S}.fragment SET extra = NULL, extra_kind = NULL WHERE job_id = ?", [job_id])
            else:
                rows = sum(n for _, n, _ in parts)
                cur.execute(f"DELETE FROM {self.S}.fragment WHERE job_id = ?", [job_id])
                cur.executemany(
                    f"INSERT INTO {self.S}.fragment VALUES (?, 'result', ?, ?, ?, NULL, NULL)",
                    [[job_id, k, n, name] for k, n, name in parts],
                )
            when = now()
            cur.execute(
                f"UPDATE {self.S}.job SET status = 'done', rows = ?, summary = ?, done = ?, failed = ?, "
                "error = NULL, finished_at = ? WHERE id = ?",
                [rows, dumps_json(summary), done, failed, when, job_id],
            )
            self._changed(
                job_id,
                status="done",
                rows=rows,
                summary=jsonable(summary),
                done=done,
                failed=failed,
                error=None,
                finished_at=when.replace(tzinfo=dt.timezone.utc),
            )
        if parts is not None:  # the chunks the parts replaced (a crash before this leaves them unread)
            keep = {name for _, _, name in parts}
            for path in folder.glob("chunk-*.parquet"):
                if path.name not in keep:
                    path.unlink(missing_ok=True)

    def join_chunks(self, job_id: str) -> bool:
        """Join a finished run's chunk files into parts now, before its result is queried
        (DuckDB scanning thousands of small files at once took hundreds of MB; a few
        parts, a fraction): the parts are registered as the job's result rows and the
        chunk files removed, while the chunks stay listed as done, so a job interrupted
        before ``complete`` resumes with nothing to rerun. Only with more than
        ``MAX_CHUNK_FILES`` chunk files; True if it joined them."""
        self.settle(job_id)
        files = self._files(self.db.cursor(), job_id)
        if len(files) <= MAX_CHUNK_FILES or any(path.name.startswith("part-") for _, _, path in files):
            return False
        folder = self.results_dir(job_id)
        parts = self._compact(folder, files)
        with self._writing(job_id) as cur:
            cur.executemany(
                f"INSERT INTO {self.S}.fragment VALUES (?, 'result', ?, ?, ?, NULL, NULL)",
                [[job_id, k, n, name] for k, n, name in parts],
            )
        for _, _, path in files:
            path.unlink(missing_ok=True)
        return True

    def _compact(self, folder: Path, files: list[tuple[int, int, Path]]) -> list[tuple[int, int, str]]:
        """The chunk files joined in order into parts of about COMPACT_ROWS rows (durable,
        not yet registered); at most one row group of rows is in memory at a time."""
        schema = self._schema(files)
        parts: list[tuple[int, int, str]] = []
        writer: pq.ParquetWriter | None = None
        pending: list[pa.Table] = []
        rows = in_part = 0
        tmp = target = folder

        def flush_group() -> None:
            nonlocal pending
            if pending and writer is not None:
                writer.write_table(pa.concat_tables(pending))
            pending = []

        def close_part() -> None:
            nonlocal writer
            flush_group()
            if writer is not None:
                writer.close()
                sync(tmp)
                durable(tmp, target, sync_folder=False)
                parts.append((len(parts), in_part, target.name))
                writer = None

        try:
            for _, _, path in files:
                fragment = pq.read_table(path)
                columns = [
                    fragment.column(f.name).cast(f.type)
                    if f.name in fragment.column_names
                    else pa.nulls(fragment.num_rows, f.type)
                    for f in schema
                ]
                piece = pa.Table.from_arrays(columns, schema=schema)
                if writer is None:
                    target = folder / f"part-{len(parts):06d}.parquet"
                    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
                    writer, in_part, rows = pq.ParquetWriter(tmp, schema), 0, 0
                pending.append(piece)
                rows += piece.num_rows
                in_part += piece.num_rows
                if rows >= ROW_GROUP_ROWS:
                    flush_group()
                    rows = 0
                if in_part >= COMPACT_ROWS:
                    close_part()
            close_part()
        except BaseException:
            if writer is not None:
                writer.close()
                tmp.unlink(missing_ok=True)
            raise
        sync(folder)
        return parts

    def recover(self) -> list[str]:
        """Mark every job left queued or running by a previous process as interrupted."""
        with self._write() as cur:
            ids = [
                r[0]
                for r in cur.execute(f"SELECT id FROM {self.S}.job WHERE status IN ('queued', 'running')").fetchall()
            ]
            cur.execute(
                f"UPDATE {self.S}.job SET status = 'interrupted', finished_at = ?, "
                "error = 'the service stopped before the job finished; resume it' "
                "WHERE status IN ('queued', 'running')",
                [now()],
            )
            with self._cache_lock:
                self._cache.clear()
        return ids

    # -- result rows ------------------------------------------------------------
    def _hand(self, job_id: str) -> None:
        with self._rows_landed:
            self._handed[job_id] = self._handed.get(job_id, 0) + 1

    def _land(self, job_id: str, n: int) -> None:
        with self._rows_landed:
            self._landed[job_id] = self._landed.get(job_id, 0) + n
            self._rows_landed.notify_all()

    def settle(self, job_id: str) -> None:
        """Wait until the chunks of the job handed to the row writer before this call are
        stored (or failed), so a read sees every chunk written before it. Chunks written
        meanwhile are not waited for: a reader never waits on a running job for long."""
        with self._rows_landed:
            target = self._handed.get(job_id, 0)
            self._rows_landed.wait_for(lambda: self._landed.get(job_id, 0) >= target)

    def sink(self, job_id: str) -> DuckSink:
        """The cluster Sink that stores this job's chunks."""
        return DuckSink(self, job_id)

    def study_path(self, job_id: str) -> Path:
        """Where a sampler sweep (TPE, CMA-ES, NSGA-II) keeps its Optuna study while it
        runs, so an interrupted one resumes with the trials it finished:
        ``<db>.studies/<job id>.journal``, beside the store file."""
        if not is_job_id(job_id):
            raise ValueError(f"{job_id!r} is not a job id")
        return self.db.path.with_name(self.db.path.name + ".studies") / f"{job_id}.journal"

    def results_dir(self, job_id: str) -> Path:
        """The folder of the job's row files: ``<db>.results/<job id>/``, beside the store file."""
        if not is_job_id(job_id):
            raise ValueError(f"{job_id!r} is not a job id")
        return self.db.path.with_name(self.db.path.name + ".results") / job_id

    def _files(self, cur: duckdb.DuckDBPyConnection, job_id: str) -> list[tuple[int, int, Path]]:
        """Where the job's rows are now, in order: [(first row, rows, file)] — its result
        parts once it has them, else its chunks."""
        found = cur.execute(
            f"SELECT kind, rows, file FROM {self.S}.fragment WHERE job_id = ? ORDER BY kind DESC, key", [job_id]
        ).fetchall()
        folder, out, first = self.results_dir(job_id), [], 0
        for kind, n, name in found:
            if kind != found[0][0]:
                break
            out.append((first, int(n), folder / name))
            first += int(n)
        return out

    def _schema(self, files: list[tuple[int, int, Path]]) -> pa.Schema:
        """The one schema of the files' rows (chunks may differ in columns: their union)."""
        schemas = [pq.read_schema(path) for _, _, path in files]
        schema = pa.unify_schemas(schemas, promote_options="permissive") if schemas else pa.schema([])
        return schema.remove_metadata()

    def page(
        self, job_id: str, offset: int, limit: int, sort: str | None = None, descending: bool = True
    ) -> tuple[list[str], list[dict[str, Any]], int]:
        """One page of the job's rows (its results once done, else the chunks stored so far).

        ``sort`` orders every row by that column first (a query in DuckDB over the job's
        files; missing and NaN values last, ties in stored order), so the top 100 by a
        metric is ``page(job, 0, 100, sort="sharpe")``.

        Returns:
            (columns, rows as JSON-ready dicts, how many rows there are in all).

        Raises:
            ValueError: ``sort`` is not one of the job's columns.
        """
        self.settle(job_id)
        cur = self.db.cursor()
        for _ in range(3):  # the job may finish (and move its rows) between two reads
            files = self._files(cur, job_id)
            count = sum(n for _, n, _ in files)
            try:
                if sort is not None:
                    return self._sorted(cur, files, count, offset, limit, sort, descending)
                wanted = [(first, path) for first, n, path in files if first < offset + limit and first + n > offset]
                if not wanted:
                    names = pq.read_schema(files[0][2]).names if files else []
                    return names, [], count
                data = pa.concat_tables([pq.read_table(path) for _, path in wanted], promote_options="permissive")
            except (FileNotFoundError, duckdb.IOException):  # the job finished: its chunks made way for parts
                continue
            data = data.slice(offset - wanted[0][0], limit)
            return data.column_names, json_rows(data), count
        raise RuntimeError(f"the rows of job {job_id} kept moving; try again")

    def _sorted(
        self,
        cur: duckdb.DuckDBPyConnection,
        files: list[tuple[int, int, Path]],
        count: int,
        offset: int,
        limit: int,
        sort: str,
        descending: bool,
    ) -> tuple[list[str], list[dict[str, Any]], int]:
        """A page of the files' rows ordered by ``sort``: DuckDB reads them as one table."""
        if not files:  # no rows yet: nothing to rank
            return [], [], 0
        schema = self._schema(files)
        if sort not in schema.names:
            raise ValueError(
                f"sort: the results have no column {sort!r}"
                + did_you_mean(sort, schema.names, before="; ", after="")
                + f" (columns: {', '.join(schema.names)})"
            )
        column = _quote(sort)
        missing = f"{column} IS NULL"
        if pa.types.is_floating(schema.field(sort).type):
            missing += f" OR isnan({column})"
        paths = ", ".join("'" + str(path).replace("'", "''") + "'" for _, _, path in files)
        # First where the page's rows are (DuckDB reads the sort column only), then those
        # rows (the row groups that hold them): not every column of every row.
        found = cur.sql(
            f"SELECT filename, file_row_number FROM read_parquet([{paths}], union_by_name = true, filename = true, "
            f"file_row_number = true) ORDER BY ({missing}), {column} {'DESC' if descending else 'ASC'}, "
            "filename, file_row_number LIMIT $limit OFFSET $offset",
            params={"limit": limit, "offset": offset},
        ).fetchall()
        data = rows_at(found, schema)
        return data.column_names, json_rows(data), count

    def batches(self, job_id: str) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
        """Every row of the job as Arrow batches under one schema, read as they are taken: at
        most ``ROW_GROUP_ROWS`` rows of one stored file at a time."""
        self.settle(job_id)
        files = self._files(self.db.cursor(), job_id)
        schema = self._schema(files)

        def read() -> Iterator[pa.RecordBatch]:
            for _, _, path in files:
                for batch in pq.ParquetFile(path).iter_batches(batch_size=ROW_GROUP_ROWS):
                    yield pa.RecordBatch.from_arrays(conform(batch, schema), schema=schema)

        return schema, read()

    # -- uploaded strategies ------------------------------------------------------
    def add_strategy(self, strategy_id: str, name: str, source: str, description: dict[str, Any]) -> None:
        """Store an uploaded strategy (the same id twice keeps the first)."""
        with self._write() as cur:
            cur.execute(
                f"INSERT INTO {self.S}.strategy VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [strategy_id, name, source, json.dumps(jsonable(description)), now()],
            )

    def strategy_source(self, strategy_id: str) -> str | None:
        row = self.db.cursor().execute(f"SELECT source FROM {self.S}.strategy WHERE id = ?", [strategy_id]).fetchone()
        return None if row is None else str(row[0])

    def strategy(self, strategy_id: str) -> tuple[str, dict[str, Any]] | None:
        """An uploaded strategy's source and description, or None."""
        row = (
            self.db.cursor()
            .execute(f"SELECT source, description FROM {self.S}.strategy WHERE id = ?", [strategy_id])
            .fetchone()
        )
        return None if row is None else (str(row[0]), json.loads(row[1]))

    def strategies(self) -> list[tuple[str, dict[str, Any], dt.datetime]]:
        """Uploaded strategies: (id, description, uploaded at), oldest first."""
        rows = (
            self.db.cursor()
            .execute(f"SELECT id, description, created_at FROM {self.S}.strategy ORDER BY created_at, id")
            .fetchall()
        )
        return [(r[0], json.loads(r[1]), r[2].replace(tzinfo=dt.timezone.utc)) for r in rows]
