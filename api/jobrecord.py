"""A job as the service stores and serves it: ``JobRecord``, job ids, statuses, JSON values."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
ACTIVE = frozenset({"queued", "running"})
RESUMABLE = frozenset({"interrupted", "cancelled", "failed"})

_ID = re.compile(r"^[0-9a-f]{32}$")


def new_job_id() -> str:
    """A fresh job id: 32 lowercase hex digits."""
    return uuid.uuid4().hex


def is_job_id(text: str) -> bool:
    """Whether ``text`` has the shape of a job id."""
    return bool(_ID.match(text))


def now() -> dt.datetime:
    """The current time in UTC, without tzinfo (as stored)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: NaN and infinities become None, numpy scalars
    Python numbers, tuples lists, times ISO 8601 strings."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (dt.timedelta, pd.Timedelta)):
        return pd.Timedelta(value).total_seconds()
    return str(value)


@dataclass(frozen=True)
class JobRecord:
    """One job as stored."""

    id: str
    kind: str
    strategy: str
    spec: dict[str, Any]
    status: str
    items: int
    total: int
    done: int
    failed: int
    rows: int
    best: dict[str, Any] | None
    error: str | None
    summary: dict[str, Any] | None
    attempts: int
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> JobRecord:
        (
            id_,
            kind,
            strategy,
            spec,
            status,
            items,
            total,
            done,
            failed,
            rows,
            best,
            error,
            summary,
            attempts,
            created,
            started,
            finished,
        ) = row
        utc = dt.timezone.utc
        return cls(
            id_,
            kind,
            strategy,
            json.loads(spec),
            status,
            int(items),
            int(total),
            int(done),
            int(failed),
            int(rows),
            loads_json(best),
            error,
            loads_json(summary),
            int(attempts),
            created.replace(tzinfo=utc),
            started and started.replace(tzinfo=utc),
            finished and finished.replace(tzinfo=utc),
        )


def loads_json(text: str | None) -> Any:
    """A stored JSON text as data (None stays None)."""
    return None if text is None else json.loads(text)


def dumps_json(value: Any) -> str | None:
    """``value`` as JSON text to store (None stays None; NaN and infinities become null)."""
    return None if value is None else json.dumps(jsonable(value), allow_nan=False)
