"""What routes depend on: the services, and the bearer token every route but /health needs."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.service import Services
from api.web import session as web_session

API_PREFIX = "/api/v1"

bearer = HTTPBearer(auto_error=False, description="the service's token (ANVIL_API_TOKEN, or its token file)")


async def get_services(request: Request) -> Services:
    """The services the app opened at startup."""
    services: Services = request.app.state.services
    return services


async def require_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    """Refuse a request without ``Authorization: Bearer <token>`` (compared in constant time),
    unless it comes from a signed-in browser of the web page (``api.web.session``)."""
    if credentials is None:
        try:
            if web_session.authorize(request):
                return
        except web_session.SessionRefused as exc:
            raise HTTPException(status_code=exc.status, detail=exc.message) from None
    expected: bytes = request.app.state.token.encode()
    given = b"" if credentials is None else credentials.credentials.encode()
    scheme_ok = credentials is not None and credentials.scheme.lower() == "bearer"
    if not (hmac.compare_digest(given, expected) and scheme_ok):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="send the service's token as `Authorization: Bearer <token>` (ANVIL_API_TOKEN, or the "
            "token file the service names when it starts)",
            headers={"WWW-Authenticate": "Bearer"},
        )


ServicesDep = Annotated[Services, Depends(get_services)]
Authorized = Depends(require_token)
