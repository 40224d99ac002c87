"""Browser sessions of the web page: sign in once with the API token, then a cookie.

The cookie (``anvil_session``) is HttpOnly and SameSite=Strict, so no script can read
it and no other site can send it. Every state-changing request made with it must also
carry the session's CSRF token in ``X-CSRF-Token`` (or a ``csrf`` form field); the
page gets that token in a ``<meta>`` tag. Sessions live in the service's memory: a
restart signs everyone out.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from starlette.requests import Request

COOKIE = "anvil_session"
LOGIN_COOKIE = "anvil_login"  # double-submit token of the sign-in form
CSRF_HEADER = "x-csrf-token"
LIFETIME = 12 * 3600.0  # seconds a session lasts
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Session:
    id: str
    csrf: str
    expires: float


class Sessions:
    """The signed-in browsers, by session id (thread-safe)."""

    def __init__(self, lifetime: float = LIFETIME) -> None:
        self.lifetime = lifetime
        self._by_id: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self) -> Session:
        s = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), time.time() + self.lifetime)
        with self._lock:
            now = time.time()
            for key in [k for k, v in self._by_id.items() if v.expires < now]:
                del self._by_id[key]
            self._by_id[s.id] = s
        return s

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        with self._lock:
            s = self._by_id.get(session_id)
        if s is None or s.expires < time.time():
            return None
        return s

    def close(self, session_id: str | None) -> None:
        with self._lock:
            self._by_id.pop(session_id or "", None)


def sessions_of(request: Request) -> Sessions:
    """The app's sessions (made on first use)."""
    state = request.app.state
    if not hasattr(state, "web_sessions"):
        state.web_sessions = Sessions()
    sessions: Sessions = state.web_sessions
    return sessions


def current(request: Request) -> Session | None:
    """The request's session, if its cookie names a live one."""
    return sessions_of(request).get(request.cookies.get(COOKIE))


def csrf_ok(request: Request, session: Session, form_value: str | None = None) -> bool:
    """Whether a state-changing request carries the session's CSRF token."""
    given = request.headers.get(CSRF_HEADER) or form_value or ""
    return hmac.compare_digest(given.encode(), session.csrf.encode())


class SessionRefused(Exception):
    """A request with a session cookie that cannot be accepted: ``status`` and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def authorize(request: Request) -> bool:
    """For the API's token check: True if the request is made by a signed-in browser.

    Raises:
        SessionRefused: a live session sent a state-changing request without its CSRF token.
    """
    session = current(request)
    if session is None:
        return False
    if request.method not in SAFE_METHODS and not csrf_ok(request, session):
        raise SessionRefused(
            403,
            "this request changes state and needs the page's CSRF token in the "
            "X-CSRF-Token header; reload the page and try again",
        )
    return True
