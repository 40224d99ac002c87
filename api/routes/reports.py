"""``/jobs/{id}/report``: a finished job's self-contained HTML report."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import Response

from api.deps import ServicesDep
from api.service import reports

router = APIRouter(prefix="/jobs", tags=["jobs"])


def report_csp(document: str) -> str:
    """The report's Content-Security-Policy: its own inline scripts (by hash) and nothing
    from outside; it runs sandboxed, so it cannot read the page's cookies or call the API."""
    from api import report

    scripts = " ".join(report.script_hashes(document))
    return (
        f"default-src 'none'; script-src {scripts}; style-src 'unsafe-inline'; img-src data: blob:; "
        "font-src data:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox allow-scripts"
    )


@router.get(
    "/{job_id}/report",
    response_class=Response,
    responses={
        200: {"content": {"text/html": {}}, "description": "the report, one HTML file"},
        404: {"description": "no job has that id, or it has no report"},
        409: {"description": "the job has not finished"},
    },
)
def job_report(job_id: str, svc: ServicesDep, download: bool = False) -> Response:
    """The report of a finished job: charts and tables in one HTML file that opens offline."""
    record = svc.jobs.get(job_id)
    if record.status != "done":
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"job {job_id} is {record.status}; its report is written when it is done"
        )
    path = reports.path_of(svc.jobs.store, job_id)
    if not path.exists():
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"job {job_id} has no report (it finished before this service kept reports, or "
            "writing it failed: see the service's log); submit the job again to get one",
        )
    document = path.read_text(encoding="utf-8")
    headers = {
        "Content-Security-Policy": report_csp(document),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }
    if download:
        headers["Content-Disposition"] = f'attachment; filename="anvil-{job_id}.html"'
    return Response(document, media_type="text/html; charset=utf-8", headers=headers)
