"""Jobs in the store's DuckDB file: records, result rows, uploaded strategies, a Sink.

Everything lives in the schema ``jobs`` of the same file as the market data:

- ``jobs.job``: one record per job — spec, status, progress, timings, error,
  summary, and the cluster's manifest (so a resumed job is the same job);
- ``jobs.chunk``: the rows of each finished chunk of a job, as a Parquet fragment
  (with its extra payload, if any), written in one transaction with the job's
  counts as the chunk arrives (``DuckSink``, the cluster's ``Sink`` protocol);
- ``jobs.result``: a finished job's result table (``api.specs.result_table``) in
  Parquet parts of ``PART_ROWS`` rows, which replace its chunks in the same
  transaction that marks it done;
- ``jobs.strategy``: uploaded strategies' source, by id.

Fragments (``api.fragments``) keep every column's type exactly (as
``cluster.sinks.DirectorySink`` does with files), whatever columns a job's rows
have, and thousands of jobs share four tables. A record is an
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

from api.fragments import pack, to_arrow, to_parquet, unpack
from api.jobrecord import STATUSES, JobRecord, dumps_json, is_job_id, jsonable, new_job_id, now
from api.journal import Journal, journal_path
from engine.store import Database

log = logging.getLogger("anvil.api")
PART_ROWS = 10_000  # rows per stored part of a finished job's results
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
CREATE TABLE IF NOT EXISTS {S}.chunk (
    job_id VARCHAR NOT NULL,
    chunk_id INTEGER NOT NULL,
    rows BIGINT NOT NULL,
    frame BLOB NOT NULL,
    extra BLOB,
    extra_kind VARCHAR
);
CREATE TABLE IF NOT EXISTS {S}.result (
    job_id VARCHAR NOT NULL,
    part INTEGER NOT NULL,
    first_row BIGINT NOT NULL,
    rows BIGINT NOT NULL,
    frame BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS {S}.strategy (
    id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    description VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL
);
"""

_RECORD_COLUMNS = ("id, kind, strategy, spec, status, items, total, done, failed, rows, best, error, "
                   "summary, attempts, created_at, started_at, finished_at")  # fmt: skip


@dataclass(frozen=True)
class _Pending:
    """A new job's record, durable in the journal, not yet in ``jobs.job``."""

    record: JobRecord
    row: tuple[Any, ...]  # id, kind, strategy, spec (JSON), items, created_at
    segment: int  # the journal segment that holds it


def _journal_line(row: tuple[Any, ...]) -> str:
    """A new record as one journal line (its spec is already JSON text)."""
    job_id, kind, strategy, spec, items, created = row
    return (f'{{"id": "{job_id}", "kind": {json.dumps(kind)}, "strategy": {json.dumps(strategy)}, '
            f'"items": {int(items)}, "created_at": "{created.isoformat()}", "spec": {spec}}}')  # fmt: skip


def _journaled_row(line: dict[str, Any]) -> tuple[Any, ...] | None:
    """The row a journal line holds, or None for a line that is not a job record."""
    try:
        job_id, kind, strategy, items = line["id"], line["kind"], line["strategy"], line["items"]
        created = dt.datetime.fromisoformat(line["created_at"])
        spec = line["spec"]
    except (KeyError, TypeError, ValueError):
        return None
    if not (isinstance(job_id, str) and is_job_id(job_id) and isinstance(kind, str) and isinstance(strategy, str)
            and isinstance(items, int) and isinstance(spec, dict)):  # fmt: skip
        return None
    return (job_id, kind, strategy, json.dumps(spec), items, created.replace(tzinfo=None))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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
        row = db.cursor().execute("SELECT current_database()").fetchone()
        self.catalog = str(row[0]) if row else "memory"
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
        self.journal = Journal(journal_path(db.path))
        try:
            with db.write() as cur:
                self._replay(cur)
            self.journal.drop_leftovers()
        except BaseException:
            self.journal.close()
            raise
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._flusher = threading.Thread(target=self._flush_in_background, name="anvil-job-journal", daemon=True)
        self._flusher.start()

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
            log.info("anvil: %d job record(s) recovered from the journal (%d were already stored)",
                     added, len(rows) - added)  # fmt: skip

    def _count(self, cur: duckdb.DuckDBPyConnection) -> int:
        row = cur.execute(f"SELECT count(*) FROM {self.S}.job").fetchone()
        return int(row[0]) if row else 0

    def _insert(self, cur: duckdb.DuckDBPyConnection, rows: list[tuple[Any, ...]], skip_existing: bool = False) -> None:
        """New queued records into ``jobs.job``: one statement for the lot (a column of each
        field, unnested), whose cost hardly grows with the number of rows."""
        conflict = " ON CONFLICT DO NOTHING" if skip_existing else ""
        ids, kinds, strategies, specs, items, created = (list(column) for column in zip(*rows))
        cur.execute(f"INSERT INTO {self.S}.job (id, kind, strategy, spec, status, items, total, created_at) "
                    "SELECT unnest($1), unnest($2), unnest($3), unnest($4), 'queued', unnest($5), unnest($5), "
                    f"unnest($6){conflict}", [ids, kinds, strategies, specs, items, created])  # fmt: skip

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
                log.exception("anvil: storing journaled job records failed; they stay in the journal, "
                              "retried in a second")  # fmt: skip
                self._closing.wait(1.0)
                self._wake.set()

    def close(self) -> None:
        """Store every journaled record, stop the flusher and close the journal (then removed).

        Records that cannot be stored now stay in the journal; the next start stores them.
        """
        self._closing.set()
        self._wake.set()
        self._flusher.join()
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
        record = JobRecord(job_id, kind, strategy, spec, "queued", items, items, 0, 0, 0, None, None, None, 0,
                           created.replace(tzinfo=dt.timezone.utc), None, None)  # fmt: skip
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
        rows = cur.execute(f"SELECT {_RECORD_COLUMNS} FROM {self.S}.job {where} ORDER BY created_at DESC, id "
                           "LIMIT ? OFFSET ?", [*args, limit, offset]).fetchall()  # fmt: skip
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
                cur.execute(f"UPDATE {self.S}.job SET status = 'running', started_at = ?, finished_at = NULL, "
                            "error = NULL, attempts = attempts + 1 WHERE id = ?", [when, job_id])  # fmt: skip
                self._changed(job_id, status=status, started_at=utc, finished_at=None, error=None,
                              attempts=lambda r: r.attempts + 1)  # fmt: skip
            elif status == "queued":
                cur.execute(f"UPDATE {self.S}.job SET status = 'queued', error = NULL, finished_at = NULL "
                            "WHERE id = ?", [job_id])  # fmt: skip
                self._changed(job_id, status=status, error=None, finished_at=None)
            else:
                cur.execute(f"UPDATE {self.S}.job SET status = ?, error = ?, finished_at = ? WHERE id = ?",
                            [status, error, when, job_id])  # fmt: skip
                self._changed(job_id, status=status, error=error, finished_at=utc)

    def set_progress(self, job_id: str, total: int, best: dict[str, Any] | None) -> None:
        """Record the job's planned runs and best result so far."""
        with self._writing(job_id) as cur:
            cur.execute(f"UPDATE {self.S}.job SET total = ?, best = ? WHERE id = ?", [total, dumps_json(best), job_id])
            self._changed(job_id, total=total, best=jsonable(best))

    def complete(self, job_id: str, table: pd.DataFrame, summary: dict[str, Any], done: int, failed: int) -> None:
        """Store a finished job's result table and summary, and mark it done — one transaction."""
        data = to_arrow(table)
        parts = [(k, start, min(PART_ROWS, data.num_rows - start), to_parquet(data.slice(start, PART_ROWS)))
                 for k, start in enumerate(range(0, max(data.num_rows, 1), PART_ROWS))]  # fmt: skip
        with self._writing(job_id) as cur:
            cur.execute(f"DELETE FROM {self.S}.result WHERE job_id = ?", [job_id])
            cur.executemany(f"INSERT INTO {self.S}.result VALUES (?, ?, ?, ?, ?)",
                            [[job_id, k, start, n, blob] for k, start, n, blob in parts])  # fmt: skip
            cur.execute(f"DELETE FROM {self.S}.chunk WHERE job_id = ?", [job_id])
            when = now()
            cur.execute(f"UPDATE {self.S}.job SET status = 'done', rows = ?, summary = ?, done = ?, failed = ?, "
                        "error = NULL, finished_at = ? WHERE id = ?",
                        [data.num_rows, dumps_json(summary), done, failed, when, job_id])  # fmt: skip
            self._changed(job_id, status="done", rows=data.num_rows, summary=jsonable(summary), done=done,
                          failed=failed, error=None, finished_at=when.replace(tzinfo=dt.timezone.utc))  # fmt: skip

    def recover(self) -> list[str]:
        """Mark every job left queued or running by a previous process as interrupted."""
        with self._write() as cur:
            ids = [r[0] for r in cur.execute(f"SELECT id FROM {self.S}.job WHERE status IN ('queued', 'running')").fetchall()]
            cur.execute(f"UPDATE {self.S}.job SET status = 'interrupted', finished_at = ?, "
                        "error = 'the service stopped before the job finished; resume it' "
                        "WHERE status IN ('queued', 'running')", [now()])  # fmt: skip
            with self._cache_lock:
                self._cache.clear()
        return ids

    # -- result rows ------------------------------------------------------------
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

    def _parts(self, cur: duckdb.DuckDBPyConnection, job_id: str) -> tuple[str, list[tuple[int, int, int]]]:
        """Where the job's rows are now: ("result" or "chunk", [(key, first row, rows)] in order)."""
        for table, key in (("result", "part"), ("chunk", "chunk_id")):
            parts = cur.execute(f"SELECT {key}, sum(rows) OVER (ORDER BY {key}) - rows, rows FROM {self.S}.{table} "
                                f"WHERE job_id = ? ORDER BY {key}", [job_id]).fetchall()  # fmt: skip
            if parts:
                return table, [(int(k), int(first), int(n)) for k, first, n in parts]
        return "chunk", []

    def _fragment(self, cur: duckdb.DuckDBPyConnection, table: str, job_id: str, key: int) -> pa.Table | None:
        column = "part" if table == "result" else "chunk_id"
        row = cur.execute(f"SELECT frame FROM {self.S}.{table} WHERE job_id = ? AND {column} = ?", [job_id, key]).fetchone()
        return None if row is None else pq.read_table(pa.BufferReader(row[0]))

    def page(self, job_id: str, offset: int, limit: int) -> tuple[list[str], list[dict[str, Any]], int]:
        """One page of the job's rows (its results once done, else the chunks stored so far).

        Returns:
            (columns, rows as JSON-ready dicts, how many rows there are in all).
        """
        cur = self.db.cursor()
        for _ in range(3):  # the job may finish (and move its rows) between two queries
            table, parts = self._parts(cur, job_id)
            count = parts[-1][1] + parts[-1][2] if parts else 0
            wanted = [p for p in parts if p[1] < offset + limit and p[1] + p[2] > offset and p[2]]
            pieces = [self._fragment(cur, table, job_id, key) for key, _, _ in wanted]
            if any(p is None for p in pieces):
                continue
            if not pieces:
                first = self._fragment(cur, table, job_id, parts[0][0]) if parts else None
                return (first.column_names if first is not None else []), [], count
            data = pa.concat_tables(pieces, promote_options="permissive")  # type: ignore[arg-type]
            data = data.slice(offset - wanted[0][1], limit)
            rows = [{k: jsonable(v) for k, v in r.items()} for r in data.to_pylist()]
            return data.column_names, rows, count
        raise RuntimeError(f"the rows of job {job_id} kept moving; try again")

    def batches(self, job_id: str) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
        """Every row of the job as Arrow batches, one stored part at a time, under one schema."""
        cur = self.db.cursor()
        table, parts = self._parts(cur, job_id)
        if table == "result":  # parts of one table: one schema
            first = self._fragment(cur, table, job_id, parts[0][0])
            schema = first.schema if first is not None else pa.schema([])
        else:  # chunks may differ in columns (walk-forward): their union
            schemas = [f.schema for f in (self._fragment(cur, table, job_id, k) for k, _, _ in parts) if f is not None]
            schema = pa.unify_schemas(schemas, promote_options="permissive") if schemas else pa.schema([])
        schema = schema.remove_metadata()

        def read() -> Iterator[pa.RecordBatch]:
            reader = self.db.cursor()
            for key, _, _ in parts:
                fragment = self._fragment(reader, table, job_id, key)
                if fragment is None:
                    continue
                columns = [fragment.column(f.name).cast(f.type) if f.name in fragment.column_names
                           else pa.nulls(fragment.num_rows, f.type) for f in schema]  # fmt: skip
                yield from pa.Table.from_arrays(columns, schema=schema).to_batches()

        return schema, read()

    # -- uploaded strategies ------------------------------------------------------
    def add_strategy(self, strategy_id: str, name: str, source: str, description: dict[str, Any]) -> None:
        """Store an uploaded strategy (the same id twice keeps the first)."""
        with self._write() as cur:
            cur.execute(f"INSERT INTO {self.S}.strategy VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        [strategy_id, name, source, json.dumps(jsonable(description)), now()])  # fmt: skip

    def strategy_source(self, strategy_id: str) -> str | None:
        row = self.db.cursor().execute(f"SELECT source FROM {self.S}.strategy WHERE id = ?", [strategy_id]).fetchone()
        return None if row is None else str(row[0])

    def strategy(self, strategy_id: str) -> tuple[str, dict[str, Any]] | None:
        """An uploaded strategy's source and description, or None."""
        row = self.db.cursor().execute(f"SELECT source, description FROM {self.S}.strategy WHERE id = ?",
                                       [strategy_id]).fetchone()  # fmt: skip
        return None if row is None else (str(row[0]), json.loads(row[1]))

    def strategies(self) -> list[tuple[str, dict[str, Any], dt.datetime]]:
        """Uploaded strategies: (id, description, uploaded at), oldest first."""
        rows = self.db.cursor().execute(f"SELECT id, description, created_at FROM {self.S}.strategy "
                                        "ORDER BY created_at, id").fetchall()  # fmt: skip
        return [(r[0], json.loads(r[1]), r[2].replace(tzinfo=dt.timezone.utc)) for r in rows]


class DuckSink:
    """The cluster ``Sink`` of one job: each chunk's rows land in one transaction,
    with the job's done and failed counts, so a killed service loses no finished chunk."""

    def __init__(self, store: JobStore, job_id: str) -> None:
        self.store = store
        self.job_id = job_id

    def load_manifest(self) -> dict[str, Any] | None:
        row = self.store.db.cursor().execute(f"SELECT manifest FROM {self.store.S}.job WHERE id = ?", [self.job_id]).fetchone()
        return None if row is None or row[0] is None else dict(json.loads(row[0]))

    def save_manifest(self, manifest: dict[str, Any]) -> None:
        with self.store._write() as cur:
            cur.execute(f"UPDATE {self.store.S}.job SET manifest = ? WHERE id = ?",
                        [json.dumps(manifest, default=str), self.job_id])  # fmt: skip

    def done_chunks(self) -> set[int]:
        rows = self.store.db.cursor().execute(f"SELECT chunk_id FROM {self.store.S}.chunk WHERE job_id = ?",
                                              [self.job_id]).fetchall()  # fmt: skip
        return {int(r[0]) for r in rows}

    def write(self, chunk_id: int, frame: pd.DataFrame, extra: Any = None) -> None:
        blob = to_parquet(to_arrow(frame))
        failed = int(frame["error"].notna().sum()) if "error" in frame.columns else 0
        payload, kind = pack(extra)
        n = len(frame)
        with self.store._writing(self.job_id) as cur:
            if cur.execute(f"SELECT 1 FROM {self.store.S}.chunk WHERE job_id = ? AND chunk_id = ?",
                           [self.job_id, chunk_id]).fetchone():  # fmt: skip
                return  # already stored: a chunk counts once
            cur.execute(f"INSERT INTO {self.store.S}.chunk VALUES (?, ?, ?, ?, ?, ?)",
                        [self.job_id, chunk_id, n, blob, payload, kind])  # fmt: skip
            cur.execute(f"UPDATE {self.store.S}.job SET done = done + ?, failed = failed + ?, rows = rows + ? "
                        "WHERE id = ?", [n, failed, n, self.job_id])  # fmt: skip
            self.store._changed(self.job_id, done=lambda r: r.done + n, failed=lambda r: r.failed + failed,
                                rows=lambda r: r.rows + n)  # fmt: skip

    def frames(self) -> list[pd.DataFrame]:
        rows = self.store.db.cursor().execute(f"SELECT frame FROM {self.store.S}.chunk WHERE job_id = ? "
                                              "ORDER BY chunk_id", [self.job_id]).fetchall()  # fmt: skip
        return [pq.read_table(pa.BufferReader(r[0])).to_pandas() for r in rows]

    def extras(self) -> list[Any]:
        rows = self.store.db.cursor().execute(f"SELECT extra, extra_kind FROM {self.store.S}.chunk WHERE job_id = ? "
                                              "ORDER BY chunk_id", [self.job_id]).fetchall()  # fmt: skip
        return [unpack(blob, kind) for blob, kind in rows]
