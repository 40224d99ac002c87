"""What the job routes take and return."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from api.jobrecord import JobRecord

JobStatus = Literal["queued", "running", "done", "failed", "cancelled", "interrupted"]


class JobProgress(BaseModel):
    """How far a job has come: runs done (failed ones included) out of the total."""

    done: int
    total: int
    failed: int
    fraction: float = Field(description="done / total, 0..1")


class JobLinks(BaseModel):
    """Where to follow the job."""

    status: str
    results: str
    events: str


class JobPublic(BaseModel):
    """A job: what was asked, where it stands, how long it took, what went wrong."""

    id: str
    kind: str
    strategy: str
    status: JobStatus
    spec: dict[str, Any]
    items: int = Field(description="runs the job makes, as counted when it was submitted")
    progress: JobProgress
    best: dict[str, Any] | None = Field(description="the best run so far (sweeps, walk-forward)")
    rows: int = Field(description="result rows stored")
    error: str | None
    summary: dict[str, Any] | None = Field(description="a digest of the result, once done")
    attempts: int = Field(description="how many times the job was started (resumes count)")
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    seconds: float | None = Field(description="running time of the last attempt")
    links: JobLinks

    @classmethod
    def of(cls, record: JobRecord, prefix: str) -> JobPublic:
        """The public view of a stored job; ``prefix`` is the API's path (``/api/v1``)."""
        end = record.finished_at or (dt.datetime.now(dt.timezone.utc) if record.status == "running" else None)
        seconds = (end - record.started_at).total_seconds() if end and record.started_at else None
        url = f"{prefix}/jobs/{record.id}"
        return cls(
            id=record.id,
            kind=record.kind,
            strategy=record.strategy,
            status=record.status,  # type: ignore[arg-type]
            spec=record.spec,
            items=record.items,
            progress=JobProgress(
                done=record.done,
                total=record.total,
                failed=record.failed,
                fraction=min(1.0, record.done / record.total) if record.total else 0.0,
            ),
            best=record.best,
            rows=record.rows,
            error=record.error,
            summary=record.summary,
            attempts=record.attempts,
            created_at=record.created_at,
            started_at=record.started_at,
            finished_at=record.finished_at,
            seconds=seconds,
            links=JobLinks(status=url, results=f"{url}/results", events=f"{url}/events"),
        )


class JobsPublic(BaseModel):
    """A page of jobs and how many there are in all."""

    data: list[JobPublic]
    count: int


class ResultsPublic(BaseModel):
    """A page of a job's result rows (NaN and infinities as null)."""

    job_id: str
    status: JobStatus
    columns: list[str]
    data: list[dict[str, Any]]
    count: int = Field(description="rows in all")
    offset: int
    limit: int
