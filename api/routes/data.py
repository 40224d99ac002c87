"""``/data``: the store's catalog, and CSV or Parquet uploads imported into it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.concurrency import run_in_threadpool

from api.deps import ServicesDep
from api.schemas.data import CatalogPublic, ImportPublic, SeriesPublic
from api.service import DataRejected
from engine.store import NoDataError, TimeframeError

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


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ImportPublic,
    openapi_extra={"requestBody": _BODY},
    responses={
        413: {"description": "the file is larger than the upload limit"},
        422: {"description": "the store refused the file: why, and its bad rows"},
    },
)
async def upload(
    request: Request,
    svc: ServicesDep,
    symbol: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    timeframe: Annotated[str | None, Query(min_length=1, max_length=16)] = None,
    name: Annotated[
        str | None,
        Query(max_length=255, description="the file's name: picks the format, labels the report; never used as a path"),
    ] = None,
    format: Literal["csv", "parquet"] | None = None,  # noqa: A002
    tz: Annotated[str | None, Query(max_length=64)] = None,
    skip_bad: bool = False,
    date_format: Annotated[
        str | None, Query(max_length=64, description="strptime format of the dates, e.g. %d/%m/%Y")
    ] = None,
    dayfirst: Annotated[
        bool | None,
        Query(description="02/01/2015 is 2 January (true) or 1 February (false); by default the column decides"),
    ] = None,
    columns: Annotated[
        str | None, Query(max_length=1000, description="field=column pairs, e.g. ts=Time,close=Last")
    ] = None,
) -> ImportPublic:
    """Import bars from the body into the store, with the same checks as ``Store.import_bars``
    (``curl --data-binary @aapl.csv '.../data?symbol=AAPL&timeframe=1d&name=aapl.csv'``)."""
    content = await request.body()
    try:
        report = await run_in_threadpool(
            svc.data.upload,
            content,
            name=name,
            symbol=symbol,
            timeframe=timeframe,
            format=format,
            tz=tz,
            skip_bad=skip_bad,
            date_format=date_format,
            dayfirst=dayfirst,
            columns=columns,
        )
    except DataRejected as exc:
        detail = {"loc": ["body"], "msg": str(exc), "type": "value_error"}
        if exc.report is not None:
            detail["report"] = exc.report  # type: ignore[assignment]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [detail]) from None
    return ImportPublic(**report)


@router.delete(
    "/{symbol}",
    response_model=CatalogPublic,
    responses={404: {"description": "nothing stored for that symbol (or timeframe)"}},
)
async def delete(
    symbol: Annotated[str, Path(min_length=1, max_length=64)],
    svc: ServicesDep,
    timeframe: Annotated[str | None, Query(min_length=1, max_length=16)] = None,
) -> CatalogPublic:
    """Delete a symbol's bars (one timeframe, or all); returns the series deleted."""
    try:
        gone = await run_in_threadpool(svc.data.delete, symbol, timeframe)
    except NoDataError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except TimeframeError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [{"loc": ["query", "timeframe"], "msg": str(exc), "type": "value_error"}],
        ) from None
    found = [SeriesPublic(**s) for s in gone]
    return CatalogPublic(data=found, count=len(found))
