"""``/universes``: named universes in the service's store — a name for a list of its
symbols, which job specs name as ``data: {"universe": NAME}``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from fastapi.concurrency import run_in_threadpool

from api.deps import ServicesDep
from api.schemas.data import UniversePublic, UniverseSave, UniversesPublic
from engine.store import UniverseError, UnknownUniverseError

router = APIRouter(prefix="/universes", tags=["data"])

Name = Annotated[str, Path(min_length=1, max_length=64, description="the universe's name")]


@router.get("", response_model=UniversesPublic)
def universes(svc: ServicesDep) -> UniversesPublic:
    """Every saved universe: name, symbols, note, save time."""
    found = [UniversePublic(**u) for u in svc.data.universes()]
    return UniversesPublic(data=found, count=len(found))


@router.get("/{name}", response_model=UniversePublic, responses={404: {"description": "no universe of that name"}})
def universe(name: Name, svc: ServicesDep) -> UniversePublic:
    """One saved universe."""
    try:
        return UniversePublic(**svc.data.universe(name))
    except UnknownUniverseError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


@router.put(
    "/{name}",
    response_model=UniversePublic,
    responses={422: {"description": "a bad name, a symbol not stored or listed twice, or the name taken"}},
)
async def save(name: Name, body: UniverseSave, svc: ServicesDep, replace: bool = False) -> UniversePublic:
    """Save ``symbols`` under ``name``; ``replace=true`` overwrites a universe saved under it."""
    try:
        saved = await run_in_threadpool(svc.data.save_universe, name, body.symbols, body.note, replace)
    except UniverseError as exc:
        where = ["path", "name"] if exc.field == "name" else ["body", exc.field]
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, [{"loc": where, "msg": str(exc), "type": "value_error"}]
        ) from None
    return UniversePublic(**saved)


@router.delete("/{name}", response_model=UniversePublic, responses={404: {"description": "no universe of that name"}})
async def delete(name: Name, svc: ServicesDep) -> UniversePublic:
    """Delete a saved universe (its symbols' bars stay); returns it."""
    try:
        return UniversePublic(**await run_in_threadpool(svc.data.delete_universe, name))
    except UnknownUniverseError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
