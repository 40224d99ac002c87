"""``GET /health`` (no token needed) and the OpenAPI schema (token needed)."""

from __future__ import annotations

from importlib import metadata
from typing import Any

from fastapi import APIRouter, Request

router = APIRouter(tags=["health"])
schema_router = APIRouter(tags=["health"])


def _version() -> str:
    try:
        return metadata.version("anvil")
    except metadata.PackageNotFoundError:
        return "0+unknown"


@router.get("/health")
def health() -> dict[str, str]:
    """Whether the service is up (says nothing else, since anyone may ask)."""
    return {"status": "ok", "version": _version()}


@schema_router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request) -> dict[str, Any]:
    """The OpenAPI schema of this API."""
    return request.app.openapi()  # type: ignore[no-any-return]
