"""Shared by the jail tests: the hostile hold-out set, and a loud skip where no jail can be built."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HOSTILE = Path(__file__).resolve().parents[1] / "data" / "hostile"
HOSTILE_SOURCES = sorted(p.stem for p in HOSTILE.glob("*.py"))
MARKER = "anvil-hostile-"


def hostile(name: str) -> str:
    return (HOSTILE / f"{name}.py").read_text()


def hostile_port() -> int:
    """The loopback port ``socket_loopback.py`` phones."""
    import re

    found = re.search(r"^HOSTILE_PORT = (\d+)", hostile("socket_loopback"), re.M)
    assert found is not None
    return int(found.group(1))


def require_jail() -> None:
    """Skip (loudly) where bubblewrap cannot build a jail; under CI=true, fail instead."""
    from strategies import jail

    reason = jail.available()
    if reason is None:
        return
    skip_unless_ci(f"NO JAIL ON THIS MACHINE, the jail's tests do not run: {reason} (make ensure-bwrap installs it)")


def skip_unless_ci(message: str) -> None:
    """Skip with ``message``; under CI=true, where every jail test must run, fail with it."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def markers_on_host() -> list[str]:
    """Marker files the hostile sources would leave outside their jail."""
    import strategies

    places = [
        "/",
        os.path.dirname(os.path.dirname(strategies.__file__)),
        os.path.expanduser("~"),
        "/var/tmp",
        "/tmp",
        "/work",
        "/root",
    ]
    found = []
    for place in places:
        try:
            found += [os.path.join(place, n) for n in os.listdir(place) if n.startswith(MARKER)]
        except OSError:
            pass
    return found
