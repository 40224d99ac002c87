"""The web page of the job service: sign in, submit, watch and read jobs, upload
strategies and data — served at ``/`` by ``anvil serve``.

Server-rendered templates (``templates/``) and one small script of our own
(``static/app.js``, no build step, no network). The page calls the same JSON API as
every other client, with a session cookie instead of the bearer token
(``api.web.session``); every response carries a Content-Security-Policy that allows
no inline and no outside script.
"""

from __future__ import annotations

from typing import Any


def mount(app: Any) -> None:
    """Add the page's routes, its static files and its security headers to ``app``."""
    from pathlib import Path

    from fastapi.staticfiles import StaticFiles

    from api.web.headers import SecurityHeaders
    from api.web.routes import router

    app.include_router(router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.add_middleware(SecurityHeaders)
