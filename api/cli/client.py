"""A small HTTP client for the anvil service: base URL, bearer token, one-line errors.

The token is ``$ANVIL_API_TOKEN``; without it, for a service on this machine
(a loopback URL), the token file ``anvil serve`` generated (``$ANVIL_TOKEN_FILE``
or ``api-token`` beside the store) — never sent anywhere else.
"""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

import httpx

from api.cli.errors import CliError, UsageError, one_line, validation_text

API = "/api/v1"
DEFAULT_URL = "http://127.0.0.1:8000"


def base_url(url: str) -> str:
    """``http://host:8000`` or ``http://host:8000/api/v1`` -> the API's base URL."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"--url {url!r}: give the service's address, e.g. http://127.0.0.1:8000")
    path = parts.path.rstrip("/")
    if not path.endswith(API):
        path += API
    return f"{parts.scheme}://{parts.netloc}{path}"


def loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine's loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def find_token(url: str) -> str | None:
    """The bearer token for ``url`` (see the module docstring), or None."""
    token = os.environ.get("ANVIL_API_TOKEN", "").strip()
    if token:
        return token
    if not loopback(urlsplit(url).hostname or ""):
        return None
    path_text = os.environ.get("ANVIL_TOKEN_FILE")
    if path_text:
        path = Path(path_text).expanduser()
    else:
        try:
            from api.settings import Settings
        except ImportError:
            return None
        path = Settings().token_path()
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def detail_text(response: httpx.Response) -> str:
    """What an error response says, on one line."""
    try:
        body = response.json()
    except (json.JSONDecodeError, ValueError):
        return one_line(response.text[:300]) or response.reason_phrase
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list) and detail and isinstance(detail[0], dict) and "msg" in detail[0]:
        return validation_text(detail)
    if isinstance(detail, dict):
        msg = detail.get("message") or detail.get("msg") or detail.get("detail")
        loc = detail.get("loc")
        if msg and loc:
            from api.cli.errors import loc_text

            return one_line(f"{loc_text([p for p in loc if p != 'body'])}: {msg}")
        if msg:
            return one_line(str(msg))
        return one_line(json.dumps(detail))
    return one_line(str(detail))


class Client:
    """Requests to one anvil service; every failure becomes a ``CliError``."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = base_url(url)
        self.token = find_token(self.url)
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _failed(self, exc: httpx.HTTPError) -> CliError:
        if isinstance(exc, httpx.ConnectError):
            return CliError(
                f"cannot reach the anvil service at {self.url} ({one_line(str(exc)) or 'refused'}); "
                "start one with `anvil serve`, or pass --url / set ANVIL_URL"
            )
        if isinstance(exc, httpx.TimeoutException):
            return CliError(f"the anvil service at {self.url} did not answer in time")
        return CliError(f"talking to {self.url}: {one_line(str(exc)) or type(exc).__name__}")

    def check(self, response: httpx.Response) -> httpx.Response:
        """``response`` if it succeeded, else a one-line ``CliError``."""
        if response.is_success:
            return response
        text = detail_text(response)
        if response.status_code == 401:
            how = (
                "set ANVIL_API_TOKEN to the service's token"
                if not self.token
                else "the token in ANVIL_API_TOKEN is not the service's"
            )
            raise CliError(f"the service refused the request: {text} ({how})")
        if response.status_code == 403:
            raise CliError(f"the service refused the request: {text}")
        return_text = text if response.status_code in (404, 409, 422) else f"HTTP {response.status_code}: {text}"
        raise CliError(return_text)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise self._failed(exc) from None
        return self.check(response)

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        if not response.content:
            return None
        try:
            return response.json()
        except (json.JSONDecodeError, ValueError):
            raise CliError(f"the service at {self.url} answered {path} with something that is not JSON") from None

    def download(self, path: str, target: Path, **kwargs: Any) -> int:
        """Stream ``path`` into the file ``target``; returns the bytes written."""
        written = 0
        tmp = target.with_name(target.name + ".part")
        try:
            with self.http.stream("GET", path, **kwargs) as response:
                if not response.is_success:
                    response.read()
                    self.check(response)
                with open(tmp, "wb") as f:
                    for chunk in response.iter_bytes():
                        f.write(chunk)
                        written += len(chunk)
            tmp.replace(target)
        except httpx.HTTPError as exc:
            raise self._failed(exc) from None
        finally:
            if tmp.exists():
                tmp.unlink()
        return written

    def events(self, path: str) -> Iterator[tuple[str, Any]]:
        """Server-sent events of ``path`` as ``(event name, parsed data)``."""
        try:
            with self.http.stream(
                "GET", path, timeout=httpx.Timeout(30.0, read=None), headers={"Accept": "text/event-stream"}
            ) as response:
                if not response.is_success:
                    response.read()
                    self.check(response)
                yield from parse_sse(response.iter_lines())
        except httpx.HTTPError as exc:
            raise self._failed(exc) from None


def parse_sse(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    """Events of a ``text/event-stream``: ``(event, data)``, data parsed as JSON when it is."""
    event, data = "message", []
    for raw in lines:
        line = raw.rstrip("\r")
        if not line:
            if data:
                text = "\n".join(data)
                try:
                    payload: Any = json.loads(text)
                except json.JSONDecodeError:
                    payload = text
                yield event, payload
            event, data = "message", []
            continue
        if line.startswith(":"):
            continue
        field, _, val = line.partition(":")
        val = val[1:] if val.startswith(" ") else val
        if field == "event":
            event = val
        elif field == "data":
            data.append(val)
    if data:
        text = "\n".join(data)
        try:
            yield event, json.loads(text)
        except json.JSONDecodeError:
            yield event, text
