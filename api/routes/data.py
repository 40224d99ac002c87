"""``/data``: the store's catalog, and CSV or Parquet uploads imported into it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool

from api.deps import ServicesDep
from api.schemas.data import CatalogPublic, ImportPublic, SeriesPublic
from api.service import DataRejected

router = APIRouter(prefix="/data", tags=["data"])

_BODY = {
    "required": True,
    "description": "the file's bytes (CSV or Parquet), sent as the request body",
    "content": {
        "text/csv": {"schema": {"type": "string"}},
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
    },
}


@router.get("", response_model=CatalogPublic)
def catalog(svc: ServicesDep) -> CatalogPublic:
    """Every stored series: symbol, timeframe, first and last bar, bar count."""
    found = [SeriesPublic(**s) for s in svc.data.catalog()]
    return CatalogPublic(data=found, count=len(found))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ImportPublic, openapi_extra={"requestBody": _BODY},
             responses={413: {"description": "the file is larger than the upload limit"},
                        422: {"description": "the store refused the file: why, and its bad rows"}})  # fmt: skip
async def upload(
    request: Request,
    svc: ServicesDep,
    symbol: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    timeframe: Annotated[str | None, Query(min_length=1, max_length=16)] = None,
    name: Annotated[str | None, Query(max_length=255, description="the file's name: picks the format, "
                                                                  "labels the report; never used as a path")] = None,
    format: Literal["csv", "parquet"] | None = None,  # noqa: A002
    tz: Annotated[str | None, Query(max_length=64)] = None,
    skip_bad: bool = False,
) -> ImportPublic:
    """Import bars from the body into the store, with the same checks as ``Store.import_bars``
    (``curl --data-binary @aapl.csv '.../data?symbol=AAPL&timeframe=1d&name=aapl.csv'``)."""
    content = await request.body()
    try:
        report = await run_in_threadpool(svc.data.upload, content, name=name, symbol=symbol, timeframe=timeframe,
                                         format=format, tz=tz, skip_bad=skip_bad)  # fmt: skip
    except DataRejected as exc:
        detail = {"loc": ["body"], "msg": str(exc), "type": "value_error"}
        if exc.report is not None:
            detail["report"] = exc.report  # type: ignore[assignment]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [detail]) from None
    return ImportPublic(**report)
