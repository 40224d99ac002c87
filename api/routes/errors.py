"""How the service's exceptions answer over HTTP: one table, registered once on the app.

Routes let these exceptions rise; ``register`` maps each to its status and body (the
``detail`` FastAPI's own errors carry). A 422 names the field at fault the way
pydantic's validation errors do: ``[{"loc": [...], "msg": ..., "type": "value_error"}]``.
"""

from __future__ import annotations

from typing import Any, Callable

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from api import specs
from api.service import JobConflict, JobNotFound
from api.service.runner import ServiceStopping
from api.service.strategies import StrategyRejected, UploadsUnavailable


def field_error(loc: list[Any], message: str) -> list[dict[str, Any]]:
    """A 422 ``detail`` naming the field at ``loc`` and why, as pydantic's errors do."""
    return [{"loc": loc, "msg": message, "type": "value_error"}]


ANSWERS: dict[type[Exception], tuple[int, Callable[[Any], Any]]] = {
    JobNotFound: (status.HTTP_404_NOT_FOUND, str),
    JobConflict: (status.HTTP_409_CONFLICT, str),
    ServiceStopping: (status.HTTP_503_SERVICE_UNAVAILABLE, str),
    UploadsUnavailable: (status.HTTP_503_SERVICE_UNAVAILABLE, str),
    specs.SpecError: (status.HTTP_422_UNPROCESSABLE_CONTENT, lambda exc: field_error(["body", *exc.loc], exc.message)),
    StrategyRejected: (status.HTTP_422_UNPROCESSABLE_CONTENT, lambda exc: field_error(["body", "source"], str(exc))),
}
"""Exception -> (status, its ``detail``)."""


async def _answer(request: Request, exc: Exception) -> JSONResponse:
    code, detail = next(answer for cls, answer in ANSWERS.items() if isinstance(exc, cls))
    return JSONResponse({"detail": detail(exc)}, status_code=code)


def register(app: FastAPI) -> None:
    """Answer every exception of ``ANSWERS`` with its status, whichever route raised it."""
    for cls in ANSWERS:
        app.add_exception_handler(cls, _answer)
