"""``/jobs``: submit, list, look at, collect, cancel, resume and watch jobs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException, Query, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from api import specs
from api.deps import API_PREFIX, ServicesDep
from api.jobrecord import JobRecord
from api.routes.errors import field_error
from api.schemas.jobs import JobPublic, JobsPublic, JobStatus, ResultsPublic
from api.service.jobs import EXPORT_FORMATS, progress_of

router = APIRouter(prefix="/jobs", tags=["jobs"])

MAX_PAGE = 1000
NOT_FOUND = {404: {"description": "no job has that id"}}


def public(record: JobRecord) -> JobPublic:
    return JobPublic.of(record, API_PREFIX)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobPublic,
    responses={422: {"description": "the spec cannot run: the field and why"}},
)
async def submit_job(spec: Annotated[specs.JobSpec, Body()], svc: ServicesDep, response: Response) -> JobPublic:
    """Check a job spec and queue it; follow it at ``links.status`` (also the Location header)."""
    # Async with one thread hop for the submit (it waits on the journal's sync): a plain
    # def would also send the response's validation through the thread pool.
    record = await run_in_threadpool(svc.jobs.submit, spec)  # errors: api.routes.errors
    job = public(record)
    response.headers["Location"] = job.links.status
    return job


@router.get("", response_model=JobsPublic)
def list_jobs(
    svc: ServicesDep,
    status_: Annotated[JobStatus | None, Query(alias="status")] = None,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> JobsPublic:
    """Jobs newest first, optionally of one status, a page at a time."""
    records, count = svc.jobs.list(status_, offset, limit)
    return JobsPublic(data=[public(r) for r in records], count=count)


@router.get("/{job_id}", response_model=JobPublic, responses=NOT_FOUND)
async def get_job(job_id: str, svc: ServicesDep) -> JobPublic:
    """A job's status, progress, best run so far, timings and error."""
    # Async: the record is in memory (write-through cache) nearly always, so no thread hop.
    return public(svc.jobs.get(job_id))


@router.get(
    "/{job_id}/results",
    response_model=ResultsPublic,
    responses={**NOT_FOUND, 200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}}},
)
def get_results(
    job_id: str,
    svc: ServicesDep,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    format: Literal["json", "csv", "parquet"] = "json",  # noqa: A002
    sort: Annotated[
        str | None, Query(min_length=1, max_length=200, description="order the page's rows by this column (a metric)")
    ] = None,
    order: Literal["desc", "asc"] = "desc",
) -> Any:
    """The job's result rows: a JSON page, or every row streamed as CSV or Parquet.

    A finished job serves its results (sweep runs, walk-forward windows, Monte Carlo
    paths, backtest trades); an unfinished one the rows stored so far. ``sort`` orders
    the JSON page by a column (``order`` desc by default, missing values last): the top
    100 by sharpe is ``?sort=sharpe&limit=100``.
    """
    if format != "json":
        body = svc.jobs.export(job_id, format)
        name = f"{job_id}.{format}"
        return StreamingResponse(
            body, media_type=EXPORT_FORMATS[format], headers={"Content-Disposition": f'attachment; filename="{name}"'}
        )
    record = svc.jobs.get(job_id)
    try:
        columns, rows, count = svc.jobs.results(job_id, offset, limit, sort=sort, order=order)
    except ValueError as exc:  # an unknown sort column: a 422 at the query parameter
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, field_error(["query", "sort"], str(exc))) from None
    return ResultsPublic(
        job_id=job_id,
        status=record.status,
        columns=columns,
        data=rows,
        count=count,  # type: ignore[arg-type]
        offset=offset,
        limit=min(limit, svc.settings.max_page),
    )


@router.delete(
    "/{job_id}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobPublic,
    responses={**NOT_FOUND, 409: {"description": "the job has already finished"}},
)
def cancel_job(job_id: str, svc: ServicesDep) -> JobPublic:
    """Cancel a queued or running job; it stops within a second or two and keeps its rows."""
    return public(svc.jobs.cancel(job_id))


@router.post(
    "/{job_id}/resume",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobPublic,
    responses={**NOT_FOUND, 409: {"description": "the job is queued, running or done"}},
)
def resume_job(job_id: str, svc: ServicesDep) -> JobPublic:
    """Queue an interrupted, cancelled or failed job again; only its missing runs are computed."""
    return public(svc.jobs.resume(job_id))


@router.get(
    "/{job_id}/events",
    response_class=StreamingResponse,
    responses={
        **NOT_FOUND,
        200: {
            "content": {"text/event-stream": {}},
            "description": "progress events, then one named after the final status",
        },
    },
)
async def job_events(job_id: str, svc: ServicesDep) -> StreamingResponse:
    """Server-Sent Events: ``progress`` (done, total, failed, best so far) while the job is
    queued or running, then one event named after its final status (``done``, ``failed``,
    ``cancelled``, ``interrupted``) holding the job, and the stream ends."""
    events = svc.jobs.events(job_id)
    first = await events.__anext__()  # JobNotFound: 404 (api.routes.errors)

    async def stream() -> AsyncIterator[bytes]:
        try:
            yield _event(*first)
            async for name, payload in events:
                yield _event(name, payload)
        finally:
            await events.aclose()

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


def _event(name: str, payload: Any) -> bytes:
    if name == "ping":
        return b": ping\n\n"
    if name == "progress":
        data = json.dumps(progress_of(payload), allow_nan=False)
    else:
        data = public(payload).model_dump_json()
    return f"event: {name}\ndata: {data}\n\n".encode()
