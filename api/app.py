"""The FastAPI app: ``create_app()`` builds it; nothing opens at import time.

    uvicorn api.app:create_app --factory --host 127.0.0.1 --port 8000
    python -m api                                    # the same, from ANVIL_* settings

At startup the app reads (or makes) its token, opens the store named by the
settings, marks jobs a previous process left unfinished as ``interrupted`` and
starts the job threads; at shutdown it interrupts running jobs (resumable).
"""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import API_PREFIX
from api.routes import api_router, errors
from api.routes.health import _version
from api import web
from api.service import Services
from api.settings import Settings, load_token
from api.validation import validation_error

log = logging.getLogger("anvil.api")
SWITCH_INTERVAL = 0.0005  # seconds (Python's default is 0.005)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service as an ASGI app, configured by ``settings`` (default: ``ANVIL_*``)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Job threads hold the GIL in bursts; hand it over sooner so requests wait less.
        sys.setswitchinterval(SWITCH_INTERVAL)
        app.state.token = load_token(settings)
        if settings.api_token is None:
            log.warning("anvil: the API token is in %s", settings.token_path())
        app.state.services = await run_in_threadpool(Services.open, settings)
        # What is loaded by now (numpy, pandas, Arrow, Ray, DuckDB, the app) lives as long as
        # the service: keep it out of the collector's full passes, each of which would
        # otherwise hold the GIL for ~80 ms and stall every request in flight.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            await run_in_threadpool(app.state.services.close)

    app = FastAPI(
        title="anvil",
        summary="Backtests, sweeps, walk-forward and Monte Carlo jobs on a cluster",
        version=_version(),
        lifespan=lifespan,
        openapi_url=None,  # served under /api/v1, behind the token (routes.health)
        docs_url=None,
        redoc_url=None,
    )
    app.include_router(api_router, prefix=API_PREFIX)
    app.add_exception_handler(RequestValidationError, validation_error)  # Infinity/NaN inputs too
    errors.register(app)  # the service's exceptions as 404, 409, 422, 503
    web.mount(app)  # the web page at /
    app.add_middleware(
        BodyLimit, limit=settings.max_body_bytes, larger={("POST", f"{API_PREFIX}/data"): settings.max_upload_bytes}
    )
    return app


class BodyLimit:
    """Refuses request bodies over a size (413), by Content-Length and as they stream in.

    Args:
        limit: bytes allowed in a request body.
        larger: bigger limits for some (method, path) pairs, e.g. uploads.
    """

    def __init__(self, app: ASGIApp, limit: int, larger: dict[tuple[str, str], int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.larger = larger or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get((scope["method"], scope["path"].rstrip("/")), self.limit)
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            await _too_large(limit)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, _too_large_text(limit))
            return message

        await self.app(scope, counted, send)


def _too_large_text(limit: int) -> str:
    return (
        f"the request body is larger than {limit:,} bytes; ask the operator to raise ANVIL_MAX_BODY_BYTES or "
        "ANVIL_MAX_UPLOAD_BYTES"
    )


def _too_large(limit: int) -> Any:
    return JSONResponse({"detail": _too_large_text(limit)}, status_code=413)
