"""What makes a job reproducible: its spec, seed, data hash and code version."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parent.parent
_SOURCES = ("engine", "strategies", "cluster")


@lru_cache(maxsize=1)
def code_version() -> str:
    """anvil's version plus a hash of its source files (same code, same string).

    Only what a wheel ships is hashed (the ``.py`` files of the packages that run
    jobs), so an editable install and a wheel of the same commit agree; the C core
    is named by its ABI version (``csrc/`` is not in a wheel).
    """
    try:
        version = metadata.version("anvil")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    return f"{version}+{source_hash(_ROOT)}"


def source_hash(root: Path) -> str:
    """A hash of the ``.py`` files of anvil's packages under ``root`` (the folder that
    holds ``engine/``: a checkout or ``site-packages``) and the core's ABI version."""
    from engine._bindings import ABI_VERSION

    h = hashlib.sha256(f"abi {ABI_VERSION}".encode())
    for folder in _SOURCES:
        for path in sorted((root / folder).rglob("*.py")):
            if path.is_file() and _in_package(root, path):
                h.update(path.relative_to(root).as_posix().encode())
                h.update(path.read_bytes())
    return h.hexdigest()[:12]


def _in_package(root: Path, path: Path) -> bool:
    """Whether ``path`` is in a package a wheel ships: every folder down to it has an ``__init__.py``."""
    folder = path.parent
    while folder != root:
        if not (folder / "__init__.py").is_file():
            return False
        folder = folder.parent
    return True


def spec_hash(spec: dict[str, Any]) -> str:
    """A stable hash of a JSON-ready job spec."""
    text = json.dumps(spec, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
