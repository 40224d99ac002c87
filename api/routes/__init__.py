"""The API's routes, one module per resource, gathered under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import API_PREFIX, Authorized
from api.routes import data, health, jobs, reports, strategies, universes

__all__ = ["API_PREFIX", "api_router"]

api_router = APIRouter()
api_router.include_router(health.router)
api_router.include_router(jobs.router, dependencies=[Authorized])
api_router.include_router(reports.router, dependencies=[Authorized])
api_router.include_router(strategies.router, dependencies=[Authorized])
api_router.include_router(data.router, dependencies=[Authorized])
api_router.include_router(universes.router, dependencies=[Authorized])
api_router.include_router(health.schema_router, dependencies=[Authorized])
