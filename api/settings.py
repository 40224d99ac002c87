"""The service's settings: one class, read from ``ANVIL_*`` environment variables.

    ANVIL_API_TOKEN=...  ANVIL_DB=~/anvil.duckdb  ANVIL_ADDRESS=local-threads  python -m api

Without ``ANVIL_API_TOKEN`` the token is read from ``token_file`` (by default
``api-token`` beside the default store), generated there on first start and
readable only by its owner.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.store import default_path

TOKEN_FILE_NAME = "api-token"


class TokenFileError(RuntimeError):
    """A token file that others can read, or that cannot be read or written."""


class Settings(BaseSettings):
    """Everything the service can be told; each field is also ``ANVIL_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="ANVIL_", extra="ignore")

    api_token: SecretStr | None = Field(default=None, description="bearer token clients must send")
    db: Path | None = Field(default=None, description="the DuckDB file (market data and jobs)")
    host: str = Field(default="127.0.0.1", description="address to bind; loopback unless told otherwise")
    port: int = Field(default=8000, ge=0, le=65535)
    token_file: Path | None = Field(default=None, description="where a generated token is kept")
    max_body_bytes: int = Field(default=1_000_000, ge=1024, description="largest JSON request body")
    max_upload_bytes: int = Field(default=200_000_000, ge=1024, description="largest data upload")
    max_items_per_job: int = Field(default=1_000_000, ge=1, description="most runs one job may make")
    max_grid_points: int = Field(
        default=10_000_000,
        ge=1,
        description="most grid points (before constraints) one sweep or "
        "walk-forward may ask for, and most values of one parameter; "
        "checked by arithmetic before anything is listed",
    )
    max_page: int = Field(default=1000, ge=1, description="most result rows or jobs in one page")
    address: str | None = Field(
        default=None, description="Ray address; None = a local Ray, 'local-threads' = this process"
    )
    workers: int = Field(default=0, ge=0, description="Ray actors or threads per job; 0 = one per CPU")
    max_running_jobs: int = Field(default=1, ge=1, description="jobs run at once; the rest queue FIFO")
    journal_flush_seconds: float = Field(
        default=0.05,
        gt=0,
        le=3600,
        description="seconds new job records gather in the journal (durable "
        "already) before they are moved into the store",
    )

    unsafe_inprocess_uploads: bool = Field(
        default=False,
        description="run uploaded strategies in the service process, behind the loader's "
        "language-level checks only, where no jail can be built (unsafe: an escape "
        "from those checks gets the service's files, secrets and network)",
    )
    jail_call_seconds: float = Field(
        default=60.0,
        gt=0,
        le=86400,
        description="seconds one call into uploaded code may take (an item, a "
        "chunk's signals, one bar-by-bar backtest)",
    )
    jail_load_seconds: float = Field(
        default=10.0, gt=0, le=3600, description="seconds loading an upload (and describing it) may take in its jail"
    )
    jail_job_seconds: float = Field(
        default=6 * 3600.0, gt=0, description="seconds a job of an uploaded strategy may run in all"
    )
    jail_memory_mb: int = Field(default=2048, ge=256, description="address space of one jailed process, MiB")
    jail_processes: int = Field(
        default=0, ge=0, description="jailed processes per job and worker process; 0 = as many as job threads or CPUs"
    )

    def jail_limits(self) -> Any:
        """The ``strategies.jail.Limits`` these settings give."""
        from strategies.jail import Limits

        procs = self.jail_processes or self.workers or (os.cpu_count() or 1)
        return Limits(
            call_seconds=self.jail_call_seconds,
            load_seconds=self.jail_load_seconds,
            memory_bytes=self.jail_memory_mb << 20,
            pool_size=procs,
        )

    @field_validator("address", "db", "token_file", "api_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    def db_path(self) -> Path:
        """The store file: ``db``, else ``$ANVIL_DB`` or the user's data folder."""
        return Path(self.db).expanduser().resolve() if self.db else default_path().expanduser().resolve()

    def token_path(self) -> Path:
        """The token file: ``token_file``, else ``api-token`` beside the default store."""
        if self.token_file:
            return Path(self.token_file).expanduser()
        return default_path().expanduser().parent / TOKEN_FILE_NAME


def load_token(settings: Settings) -> str:
    """The bearer token: ``ANVIL_API_TOKEN``, else the token file (created on first use).

    Raises:
        TokenFileError: the file is readable by others (fix: ``chmod 600 <file>``),
            is empty, or cannot be written.
    """
    if settings.api_token is not None and settings.api_token.get_secret_value():
        return settings.api_token.get_secret_value()
    path = settings.token_path()
    if not path.exists():
        return _create_token(path)
    mode = path.stat().st_mode
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise TokenFileError(
            f"the API token file {path} can be read by other users (mode {stat.filemode(mode)}); "
            f"run `chmod 600 {path}`, or delete it to have a new token made"
        )
    token = path.read_text().strip()
    if not token:
        raise TokenFileError(f"the API token file {path} is empty; delete it to have a new token made")
    return token


def _create_token(path: Path) -> str:
    token = secrets.token_urlsafe(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_text().strip()
    except OSError as exc:
        raise TokenFileError(
            f"cannot create the API token file {path}: {exc}; set ANVIL_API_TOKEN or ANVIL_TOKEN_FILE"
        ) from exc
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token
