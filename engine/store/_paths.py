"""Where the store lives: ``$ANVIL_DB``, else ``anvil.duckdb`` in the user's data folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

FILE_NAME = "anvil.duckdb"


def data_dir(platform: str = sys.platform) -> Path:
    """The user's data folder for anvil (``$XDG_DATA_HOME/anvil`` or ``~/.local/share/anvil``;
    ``~/Library/Application Support/anvil`` on macOS, ``%LOCALAPPDATA%\\anvil`` on Windows)."""
    if platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "anvil"


def default_path() -> Path:
    """The store file used when none is named: ``$ANVIL_DB`` or ``data_dir() / anvil.duckdb``."""
    env = os.environ.get("ANVIL_DB")
    return Path(env).expanduser() if env else data_dir() / FILE_NAME


def resolve_path(path: str | os.PathLike[str] | None) -> Path:
    """``path`` made absolute, or the default when None."""
    return (default_path() if path is None else Path(path)).expanduser().resolve()
