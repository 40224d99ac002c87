"""``/strategies``: the built-in library and uploaded strategies, with parameter schemas."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, status

from api.deps import ServicesDep
from api.schemas.strategies import StrategiesPublic, StrategyCreate, StrategyPublic

router = APIRouter(prefix="/strategies", tags=["strategies"])


@router.get("", response_model=StrategiesPublic)
def list_strategies(svc: ServicesDep) -> StrategiesPublic:
    """Every strategy a job can name: built-in ones by name, uploaded ones by id."""
    found = [StrategyPublic(**d) for d in svc.strategies.list()]
    return StrategiesPublic(data=found, count=len(found))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=StrategyPublic,
    responses={
        422: {"description": "the source was refused: each problem with its line"},
        503: {"description": "uploads cannot run here, or too many are being checked"},
    },
)
async def upload_strategy(body: StrategyCreate, svc: ServicesDep) -> StrategyPublic:
    """Upload a strategy's Python source; it is checked by ``strategies.loader`` and loaded in
    a jail (never in the service), and gets an id that jobs name as their ``strategy``.

    The check runs on a few threads of its own, awaited here, so uploads that hang
    or crash their jail hold no request thread."""
    found = await asyncio.wrap_future(svc.strategies.upload_later(body.source))  # errors: api.routes.errors
    return StrategyPublic(**found)
