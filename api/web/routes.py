"""The web page's routes: sign in and out, and the pages (jobs, a job, submit,
strategies, data). The pages are shells the server renders; their data comes from
the JSON API, which accepts the session cookie (``api.web.session``)."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api.jobrecord import is_job_id
from api.web import forms
from api.web import session as web_session

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter(include_in_schema=False)


def _page(request: Request, name: str, session: web_session.Session, **context: Any) -> Response:
    return templates.TemplateResponse(
        request, name, {"csrf": session.csrf, "page": name.removesuffix(".html"), **context}
    )


def _signin() -> RedirectResponse:
    return RedirectResponse("/login", status_code=303)


def _cookie_secure(request: Request) -> bool:
    return request.url.scheme == "https"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, error: str = "") -> Response:
    nonce = secrets.token_urlsafe(24)
    resp = templates.TemplateResponse(
        request, "login.html", {"nonce": nonce, "error": error, "page": "login"}, status_code=401 if error else 200
    )
    resp.set_cookie(
        web_session.LOGIN_COOKIE,
        nonce,
        max_age=900,
        httponly=True,
        samesite="strict",
        path="/login",
        secure=_cookie_secure(request),
    )
    return resp


@router.post("/login")
def login(request: Request, token: str = Form(""), nonce: str = Form("")) -> Response:
    """Sign in with the API token: a session cookie no script can read."""
    expected_nonce = request.cookies.get(web_session.LOGIN_COOKIE, "")
    if not expected_nonce or not hmac.compare_digest(nonce.encode(), expected_nonce.encode()):
        return login_form(request, error="the sign-in form expired; try again")
    if not hmac.compare_digest(token.strip().encode(), request.app.state.token.encode()):
        return login_form(
            request,
            error="that is not the service's token (see ANVIL_API_TOKEN or the token file "
            "the service named when it started)",
        )
    session = web_session.sessions_of(request).open()
    resp = RedirectResponse("/", status_code=303)
    resp.set_cookie(
        web_session.COOKIE,
        session.id,
        max_age=int(web_session.LIFETIME),
        httponly=True,
        samesite="strict",
        path="/",
        secure=_cookie_secure(request),
    )
    resp.delete_cookie(web_session.LOGIN_COOKIE, path="/login")
    return resp


@router.post("/logout")
def logout(request: Request, csrf: str = Form("")) -> Response:
    session = web_session.current(request)
    if session is None:
        return _signin()
    if not web_session.csrf_ok(request, session, csrf):
        return Response("the CSRF token is missing or wrong; reload the page", status_code=403)
    web_session.sessions_of(request).close(session.id)
    resp = _signin()
    resp.delete_cookie(web_session.COOKIE, path="/")
    return resp


@router.get("/", response_class=HTMLResponse)
def jobs_page(request: Request) -> Response:
    session = web_session.current(request)
    if session is None:
        return _signin()
    return _page(request, "jobs.html", session, kinds=forms.KINDS)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: str) -> Response:
    session = web_session.current(request)
    if session is None:
        return _signin()
    if not is_job_id(job_id):
        return Response("not a job id", status_code=404)
    from api.service import JobNotFound

    try:
        record = request.app.state.services.jobs.get(job_id)
    except JobNotFound:
        return Response(f"no job {job_id}", status_code=404)
    return _page(request, "job.html", session, job=record)


@router.get("/submit", response_class=HTMLResponse)
def submit_page(request: Request, strategy: str = "", kind: str = "sweep") -> Response:
    session = web_session.current(request)
    if session is None:
        return _signin()
    svc = request.app.state.services
    # The form's data field picks single series; universe strategies are submitted with
    # `data.symbols` / `data.universe` through the CLI or POST /jobs (README, "Universe strategies").
    found = [s for s in svc.strategies.list() if s.get("runs_on") != "universe"]
    if kind not in forms.KINDS:
        kind = "sweep"
    chosen = next((s for s in found if s["id"] == strategy), None) or (found[0] if found else None)
    groups = forms.groups(chosen, kind, svc.data.catalog()) if chosen else []
    return _page(
        request, "submit.html", session, strategies=found, chosen=chosen, kind=kind, kinds=forms.KINDS, groups=groups
    )


@router.get("/strategies", response_class=HTMLResponse)
def strategies_page(request: Request) -> Response:
    session = web_session.current(request)
    if session is None:
        return _signin()
    return _page(request, "strategies.html", session, strategies=request.app.state.services.strategies.list())


@router.get("/data", response_class=HTMLResponse)
def data_page(request: Request) -> Response:
    session = web_session.current(request)
    if session is None:
        return _signin()
    return _page(request, "data.html", session, catalog=request.app.state.services.data.catalog())
