"""The 422 a request that fails validation gets, whatever numbers it held.

FastAPI's own handler echoes each bad input back; an input of ``Infinity`` or
``NaN`` (which Python's JSON reader accepts) cannot be written as JSON, and the
answer became a 500. This handler writes such numbers as text.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.responses import JSONResponse


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float written as text (``"Infinity"``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 body (``{"detail": [{"loc", "msg", "type", "input"}]}``), JSON-safe."""
    assert isinstance(exc, RequestValidationError)
    detail = _finite(jsonable_encoder(exc.errors()))
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
