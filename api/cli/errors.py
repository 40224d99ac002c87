"""What the CLI says when something goes wrong: one line, and an exit status."""

from __future__ import annotations

import re
from typing import Any

USAGE = 2
FAILURE = 1
INTERRUPTED = 130


class CliError(Exception):
    """An error the CLI reports as one line (``anvil: error: ...``) and exits with ``status``."""

    def __init__(self, message: str, status: int = FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class UsageError(CliError):
    """A command line that cannot mean anything (exit status 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, USAGE)


def one_line(text: str) -> str:
    """``text`` on one line: its lines joined by "; ", blank ones dropped."""
    parts = [p.strip() for p in str(text).splitlines()]
    return "; ".join(p for p in parts if p)


def loc_text(loc: Any) -> str:
    """A pydantic-style location ``("data", 0, "symbol")`` as ``data[0].symbol``."""
    out = ""
    for part in loc or ():
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def describe(exc: BaseException) -> str:
    """The one-line message for any exception the CLI lets reach the top."""
    try:
        from pydantic import ValidationError
    except ImportError:  # pragma: no cover - pydantic is a dependency
        ValidationError = ()  # type: ignore[assignment,misc]  # noqa: N806
    if isinstance(exc, CliError):
        return one_line(exc.message)
    if isinstance(exc, ValidationError):
        return validation_text(exc.errors(include_url=False))
    loc = getattr(exc, "loc", None)
    message = getattr(exc, "message", None)
    if loc is not None and isinstance(message, str):  # api.specs.SpecError
        where = loc_text(loc)
        return one_line(f"{where}: {message}" if where else message)
    text = str(exc) or type(exc).__name__
    if isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError)) and exc.filename:
        text = f"{exc.strerror}: {exc.filename}"
    return one_line(text)


_TAG = re.compile(r"^(datetime|date|int|float|str|bool|none|list|dict|.*\[.*\]|[A-Z]\w*(Spec|Job))$")
_KINDS = ("backtest", "sweep", "walk_forward", "monte_carlo")


def _field_loc(loc: Any) -> list[Any]:
    """A pydantic location without its bookkeeping: the request body, the job kind
    of the discriminated union, and union members' type tags (``start.datetime``)."""
    parts = [p for p in (loc or ()) if p != "body"]
    if parts and parts[0] in _KINDS:
        parts = parts[1:]
    return [p for p in parts if isinstance(p, int) or not _TAG.match(str(p))]


def validation_text(errors: list[dict[str, Any]]) -> str:
    """Pydantic errors as ``field: message`` (the first, and how many other fields)."""
    if not errors:
        return "invalid job spec"
    first = errors[0]
    where = loc_text(_field_loc(first.get("loc")))
    msg = str(first.get("msg", "invalid"))
    text = f"{where}: {msg}" if where else msg
    others = {loc_text(_field_loc(e.get("loc"))) for e in errors[1:]} - {where}
    if others:
        text += f" (and {len(others)} more field{'s' if len(others) > 1 else ''}: {', '.join(sorted(others))})"
    return one_line(text)
