"""Submitting, watching, collecting, cancelling and resuming jobs.

Both the HTTP routes and the CLI call this; it raises plain exceptions
(``SpecError``, ``JobNotFound``, ``JobConflict``) that each front door turns into
its own kind of error.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pydantic import TypeAdapter

from api import specs
from api.jobrecord import ACTIVE, RESUMABLE, STATUSES, JobRecord
from api.jobstore import JobStore
from api.resolve import resolve_timeframes
from api.service.data import DataService, check_universe_names
from api.service.live import Snapshot
from api.service.runner import Runner
from api.service.strategies import StrategyService
from api.settings import Settings

SPEC = TypeAdapter(specs.JobSpec)
EXPORT_FORMATS = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}
PING_EVERY = 15.0  # seconds of silence after which an event stream says it is alive


class JobNotFound(LookupError):
    """No job has that id."""


class JobConflict(RuntimeError):
    """The job is in a status that does not allow what was asked."""


class JobService:
    """The job half of the service: everything a client can do with jobs."""

    def __init__(
        self, store: JobStore, runner: Runner, strategies: StrategyService, data: DataService, settings: Settings
    ) -> None:
        self.store = store
        self.runner = runner
        self.strategies = strategies
        self.data = data
        self.settings = settings

    # -- submit -----------------------------------------------------------------
    def parse(self, data: Any) -> Any:
        """A spec from plain data (JSON); raises pydantic's ValidationError."""
        return SPEC.validate_python(data)

    def submit(self, spec: Any) -> JobRecord:
        """Check ``spec`` and queue it.

        Raises:
            SpecError: the spec cannot run (the field and why), or it would make
                more runs than ``max_items_per_job``.
        """
        check_universe_names(spec, self.data.store)
        items = (
            specs.check(
                spec,
                self.strategies.lookup,
                self.settings.max_items_per_job,
                self.settings.max_grid_points,
                bars=self.data.bars,
            ).items
            or 0
        )
        stored = resolve_timeframes(spec, self.data.store)  # what it runs on: the timeframe, a universe's symbols
        record = self.store.create(spec.kind, spec.strategy, stored.model_dump(mode="json"), items)
        self.runner.enqueue(record.id, total=items)
        return record

    # -- look ---------------------------------------------------------------------
    def get(self, job_id: str) -> JobRecord:
        """The job as it is now (live progress included)."""
        record = self.store.get(job_id)
        if record is None:
            raise JobNotFound(f"no job has the id {job_id!r}; GET /api/v1/jobs lists them")
        return self._overlay(record)

    def list(self, status: str | None = None, offset: int = 0, limit: int = 100) -> tuple[list[JobRecord], int]:
        """A page of jobs, newest first, and how many there are."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; use one of {', '.join(STATUSES)}")
        records, count = self.store.list(status, offset, min(limit, self.settings.max_page))
        return [self._overlay(r) for r in records], count

    def _overlay(self, record: JobRecord) -> JobRecord:
        """A queued or running job's record with its live progress.

        A record already final is returned as stored: the runner writes the final
        record before it drops the live state, and between the two the live snapshot
        is older than the record.
        """
        live = self.runner.live(record.id) if record.status in ACTIVE else None
        if live is None:
            return record
        snap = live.snapshot
        return dataclasses.replace(
            record,
            done=snap.done,
            total=snap.total,
            failed=snap.failed,
            best=snap.best if snap.best is not None else record.best,
        )

    def results(
        self, job_id: str, offset: int = 0, limit: int = 100, sort: str | None = None, order: str = "desc"
    ) -> tuple[list[str], list[dict[str, Any]], int]:
        """A page of the job's rows: its results when done, else the rows stored so far;
        with ``sort``, every row ordered by that column (``order`` "desc" or "asc"; missing
        values last) — the top 100 by a metric is one DuckDB query over the job's files.

        Returns:
            (columns, rows with NaN and infinities as None, total row count).

        Raises:
            ValueError: ``sort`` is not a column of the rows, or ``order`` is neither.
        """
        if order not in ("desc", "asc"):
            raise ValueError(f"order must be 'desc' or 'asc', not {order!r}")
        self.get(job_id)
        return self.store.page(
            job_id, offset, min(limit, self.settings.max_page), sort=sort, descending=order == "desc"
        )

    def export(self, job_id: str, format: str) -> Iterator[bytes]:  # noqa: A002
        """Every row of the job as CSV or Parquet, produced piece by piece."""
        if format not in EXPORT_FORMATS:
            raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}, not {format!r}")
        self.get(job_id)
        schema, batches = self.store.batches(job_id)
        return _csv(schema, batches) if format == "csv" else _parquet(schema, batches)

    # -- control ------------------------------------------------------------------
    def cancel(self, job_id: str) -> JobRecord:
        """Stop a queued or running job; the rows it has are kept.

        Raises:
            JobConflict: the job has already finished.
        """
        record = self.get(job_id)
        if record.status == "cancelled":
            return record
        if record.status not in ACTIVE or not self.runner.cancel(job_id):
            raise JobConflict(f"job {job_id} is {record.status}; only queued or running jobs can be cancelled")
        return self.get(job_id)

    def resume(self, job_id: str) -> JobRecord:
        """Queue an interrupted, cancelled or failed job again; it runs only what is missing.

        Raises:
            JobConflict: the job is queued, running or done.
            SpecError: its spec no longer checks (say, its data was deleted).
        """
        record = self.get(job_id)
        if record.status not in RESUMABLE:
            raise JobConflict(
                f"job {job_id} is {record.status}; only interrupted, cancelled or failed jobs can be resumed"
            )
        specs.check(
            self.parse(record.spec),
            self.strategies.lookup,
            self.settings.max_items_per_job,
            self.settings.max_grid_points,
            bars=self.data.bars,
        )
        self.store.set_status(job_id, "queued")
        self.runner.enqueue(job_id, total=record.total, done=record.done, failed=record.failed)
        return self.get(job_id)

    # -- watch --------------------------------------------------------------------
    async def events(self, job_id: str) -> AsyncIterator[tuple[str, Any]]:
        """The job's events: ``("progress", Snapshot)`` as it runs, then its final
        record once, as ``(status, JobRecord)``; ``("ping", None)`` after a quiet spell.

        Raises:
            JobNotFound: before the first event, for an unknown id.
        """
        record = self.get(job_id)
        live = self.runner.live(job_id)
        if live is None:
            yield record.status, record
            return
        key = live.watch()
        try:
            seen = -1
            while True:
                key[1].clear()
                snap = live.snapshot
                if snap.final:
                    final = self.get(job_id)
                    yield final.status, final
                    return
                if snap.version != seen:
                    seen = snap.version
                    yield "progress", snap
                try:
                    await asyncio.wait_for(key[1].wait(), timeout=PING_EVERY)
                except asyncio.TimeoutError:
                    yield "ping", None
        finally:
            live.unwatch(key)


def runnable(data: DataService, spec: dict[str, Any], uploaded: specs.StrategyLookup) -> specs.Checked:
    """A stored job's spec (plain data, checked when it was submitted) as ``specs.execute``
    runs it: parsed, its strategy found through ``uploaded`` (bound to the job's jails), its
    bars read through ``data``; not checked again."""
    return specs.prepare(SPEC.validate_python(spec), uploaded, bars=data.bars)


def progress_of(snap: Snapshot) -> dict[str, Any]:
    """A progress event's payload."""
    return {"status": snap.status, "done": snap.done, "total": snap.total, "failed": snap.failed, "best": snap.best}


def _csv(schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> Iterator[bytes]:
    header = True
    for batch in batches:
        buf = io.BytesIO()
        pacsv.write_csv(batch, buf, pacsv.WriteOptions(include_header=header))
        header = False
        yield buf.getvalue()
    if header:  # no rows: the header alone
        buf = io.BytesIO()
        pacsv.write_csv(schema.empty_table(), buf)
        yield buf.getvalue()


class _Drain(io.RawIOBase):
    """A write-only file whose bytes are taken away as they come (its position keeps counting)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        data = bytes(b)
        self.parts.append(data)
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def _parquet(schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> Iterator[bytes]:
    drain = _Drain()
    with pq.ParquetWriter(pa.PythonFile(drain, mode="w"), schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
            yield drain.take()
    yield drain.take()
