"""What makes a job reproducible: its spec, seed, data hash and code version."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parent.parent
_SOURCES = ("csrc", "engine", "strategies", "cluster")


@lru_cache(maxsize=1)
def code_version() -> str:
    """anvil's version plus a hash of its source files (same code, same string)."""
    try:
        version = metadata.version("anvil")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    h = hashlib.sha256()
    for folder in _SOURCES:
        for path in sorted((_ROOT / folder).rglob("*")):
            if path.suffix in (".py", ".c", ".h") and path.is_file():
                h.update(str(path.relative_to(_ROOT)).encode())
                h.update(path.read_bytes())
    return f"{version}+{h.hexdigest()[:12]}"


def spec_hash(spec: dict[str, Any]) -> str:
    """A stable hash of a JSON-ready job spec."""
    text = json.dumps(spec, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
