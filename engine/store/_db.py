"""One DuckDB database per file and process, a cursor per thread, one writer at a time.

The store, and later the job service and the cluster, share this: ``open_database``
returns the process's single connection to a file (opening it on first use), each
thread reads through its own cursor, and ``write()`` runs a transaction under a
process-wide lock so readers see the old or the new data, never a mix.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from engine.store._errors import StoreError

_registry: dict[tuple[int, Path], Database] = {}
_registry_lock = threading.Lock()


CATALOG = "anvil"
"""The name the store's file is attached under in every connection."""


class Database:
    """A DuckDB file opened once in this process, shared by every ``open_database`` caller.

    Use ``cursor()`` to read (one cursor per thread) and ``write()`` to change data.
    """

    def __init__(self, path: Path, read_only: bool) -> None:
        self.path = path
        self.read_only = read_only
        self._users = 0
        self._local = threading.local()
        self._write_lock = threading.RLock()
        _check_is_duckdb(path)
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        # The file is attached under a fixed name, so its own name (market.duckdb,
        # jobs.duckdb ...) can never clash with a schema name in our queries.
        self._root: duckdb.DuckDBPyConnection | None = duckdb.connect(":memory:")
        mode = " (READ_ONLY)" if read_only else ""
        quoted = str(path).replace("'", "''")
        try:
            self._root.execute(f"ATTACH '{quoted}' AS {CATALOG}{mode}")
            self._root.execute(f"USE {CATALOG}")
        except duckdb.Error as exc:
            self._root.close()
            self._root = None
            raise StoreError(_open_failure(path, read_only, exc)) from exc

    @property
    def closed(self) -> bool:
        return self._root is None

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor on the database (created on first use)."""
        root = self._root
        if root is None:
            raise StoreError(f"the store {self.path} is closed; open it again with engine.store.Store()")
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = root.cursor()
            cur.execute(f"USE {CATALOG}")  # each cursor has its own default catalog
            self._local.cursor = cur
        return cur

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A transaction on this thread's cursor, one writer at a time; rolled back on error."""
        if self.read_only:
            raise StoreError(f"the store {self.path} is open read-only; open it with read_only=False to change it")
        with self._write_lock:
            cur = self.cursor()
            if getattr(self._local, "in_write", False):  # nested: join the outer transaction
                yield cur
                return
            cur.execute("BEGIN TRANSACTION")
            self._local.in_write = True
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            else:
                cur.execute("COMMIT")
            finally:
                self._local.in_write = False

    def _close(self) -> None:
        root, self._root = self._root, None
        if root is not None:
            root.close()  # closes every cursor made from it


def open_database(path: str | os.PathLike[str], read_only: bool = False) -> Database:
    """The process's connection to the DuckDB file at ``path``, opened on first use.

    Every call must be paired with ``release``; the file is closed when the last user
    releases it. A child process (after ``fork``) opens its own connection.

    Raises:
        StoreError: if the file is locked by another process, is not a DuckDB file,
            or is already open read-only in this process and a writer is asked for.
    """
    resolved = Path(path).expanduser().resolve()
    key = (os.getpid(), resolved)
    with _registry_lock:
        db = _registry.get(key)
        if db is not None and db.closed:
            db = None
        if db is not None and db.read_only and not read_only:
            raise StoreError(
                f"the store {resolved} is already open read-only in this process; close it "
                "before opening it for writing"
            )
        if db is None:
            db = Database(resolved, read_only)
            _registry[key] = db
        db._users += 1
        return db


def release(db: Database) -> None:
    """Give back a database from ``open_database``; the last user closes it."""
    with _registry_lock:
        db._users -= 1
        if db._users > 0:
            return
        _registry.pop((os.getpid(), db.path), None)
        with db._write_lock:
            db._close()


_DUCKDB_MAGIC = b"DUCK"  # bytes 8..12 of every DuckDB database file


def _check_is_duckdb(path: Path) -> None:
    """Refuse an existing file that is not a DuckDB database (DuckDB would open a CSV
    or Parquet file as a read-only view, and the store would live in memory)."""
    if path.is_dir():
        raise StoreError(f"the store {path} is a folder; give the path of a .duckdb file")
    if not path.is_file() or path.stat().st_size == 0:
        return
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head[8:12] != _DUCKDB_MAGIC:
        first = head.split(b"\n", 1)[0].decode("utf-8", "replace")
        raise StoreError(
            f"cannot open the store {path}: it is not a DuckDB database (it starts {first!r}); "
            "a store is a .duckdb file, and data files go in with Store.import_bars"
        )


def _open_failure(path: Path, read_only: bool, exc: Exception) -> str:
    text = str(exc)
    if "lock" in text.lower():
        return (
            f"the store {path} is in use by another process ({text}); close that process, "
            "or point ANVIL_DB (or Store(path=...)) at another file"
        )
    if read_only and not path.exists():
        return f"the store {path} does not exist, so it cannot be opened read-only"
    return f"cannot open the store {path}: {text}"
