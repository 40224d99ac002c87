"""Job reports: written once when a job finishes, from the result object it returned,
and served as they were written (``GET /jobs/{id}/report``).

``<db>.reports/<job id>.html``, beside the store file (like sampler studies).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from api.jobrecord import is_job_id
from api.jobstore import JobStore

log = logging.getLogger("anvil.api")


def path_of(store: JobStore, job_id: str) -> Path:
    """Where the job's report is kept."""
    if not is_job_id(job_id):
        raise ValueError(f"{job_id!r} is not a job id")
    return store.db.path.with_name(store.db.path.name + ".reports") / f"{job_id}.html"


def save(store: JobStore, job_id: str, result: Any, title: str | None = None) -> Path | None:
    """Write the report of a finished job's result; a report that fails is logged, never
    fatal to the job (its rows are already stored)."""
    try:
        from api import report

        path = path_of(store, job_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(report.html(result, **({"title": title} if title else {})), encoding="utf-8")
        os.replace(tmp, path)
        return path
    except Exception:  # noqa: BLE001 - the job is done either way
        log.exception("job %s: its report could not be written", job_id)
        return None
