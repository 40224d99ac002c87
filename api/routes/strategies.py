"""``/strategies``: the built-in library and uploaded strategies, with parameter schemas."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from api.deps import ServicesDep
from api.schemas.strategies import StrategiesPublic, StrategyCreate, StrategyPublic
from api.service import StrategyRejected

router = APIRouter(prefix="/strategies", tags=["strategies"])


@router.get("", response_model=StrategiesPublic)
def list_strategies(svc: ServicesDep) -> StrategiesPublic:
    """Every strategy a job can name: built-in ones by name, uploaded ones by id."""
    found = [StrategyPublic(**d) for d in svc.strategies.list()]
    return StrategiesPublic(data=found, count=len(found))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=StrategyPublic,
             responses={422: {"description": "the source was refused: each problem with its line"}})  # fmt: skip
def upload_strategy(body: StrategyCreate, svc: ServicesDep) -> StrategyPublic:
    """Upload a strategy's Python source; it is checked by ``strategies.loader`` (never run
    unchecked) and gets an id that jobs name as their ``strategy``."""
    try:
        return StrategyPublic(**svc.strategies.upload(body.source))
    except StrategyRejected as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            [{"loc": ["body", "source"], "msg": str(exc), "type": "value_error"}]) from None  # fmt: skip
