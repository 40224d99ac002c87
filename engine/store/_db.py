"""DuckDB files opened only as long as they are used, so many processes share one store.

DuckDB lets a file be open in many processes read-only, or in one process read-write.
So a read attaches the file read-only and a write attaches it read-write, each only
for as long as it runs, and a process that finds the file locked by another waits a
little (another process's read or write is short) before it gives up with a message
that names the holder. A process that owns the file for its whole life (the job
service, which writes job records all the time) holds it open instead, and says so in
a marker file beside it, so that others are told at once who holds it and what to do.

Within a process, ``open_database`` hands every caller the one attachment of a file
(counted; the last ``release`` detaches it), each thread reads through its own cursor,
and ``write()`` runs a transaction under a process-wide lock so readers see the old or
the new data, never a mix. A read-only attachment stays a quarter of a second after
its last reader (``LINGER``), so a loop of reads attaches the file once; a thread that
wants to write waits for the readers in, while new readers wait for it. All files are attached to one in-memory DuckDB per process:
attaching a file to it costs a few milliseconds, a new DuckDB instance a hundred.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from engine.store._errors import StoreBusyError, StoreError

_registry: dict[tuple[int, Path], Database] = {}
_changed = threading.Condition(threading.Lock())
_roots: dict[int, duckdb.DuckDBPyConnection] = {}
_aliases = itertools.count(1)


def _lock_wait() -> float:
    try:
        return max(0.0, float(os.environ.get("ANVIL_DB_WAIT") or 30))
    except ValueError:
        return 30.0


LOCK_WAIT = _lock_wait()
"""Seconds to wait for another process to let go of the store file (``$ANVIL_DB_WAIT``)."""

LINGER = 0.25
"""Seconds a read-only attachment stays after its last reader, for the next read
(another process that wants to write waits this long at most)."""

CATALOG = "anvil"
"""The prefix of the names store files are attached under (``anvil_1``, ``anvil_2`` ...)."""


def _root() -> duckdb.DuckDBPyConnection:
    """This process's in-memory DuckDB, which every store file is attached to."""
    pid = os.getpid()
    root = _roots.get(pid)
    if root is None:
        root = _roots[pid] = duckdb.connect(":memory:")
    return root


class Database:
    """A DuckDB file attached in this process, shared by every ``open_database`` caller.

    Use ``cursor()`` to read (one cursor per thread) and ``write()`` to change data.
    """

    def __init__(self, path: Path, read_only: bool, wait: float) -> None:
        self.path = path
        self.read_only = read_only
        self._users = 0
        self._held = 0  # users that keep it for their whole life (Store.database)
        self._idle_since = 0.0  # when the last user of a read-only attachment let go
        self._writers = 0  # threads of this process waiting to write while it is read-only
        self._by_thread: dict[int, int] = {}  # users per thread (a thread already in never waits)
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._write_lock = threading.RLock()
        self.catalog = f"{CATALOG}_{next(_aliases)}"
        self._open = False
        _check_is_duckdb(path)
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.exists():
            raise StoreError(f"the store {path} does not exist, so it cannot be opened read-only")
        _attach(path, self.catalog, read_only, wait)
        self._open = True

    @property
    def closed(self) -> bool:
        return not self._open

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor on the database (created on first use)."""
        if not self._open:
            raise StoreError(f"the store {self.path} is closed; open it again with engine.store.Store()")
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = _root().cursor()
            cur.execute(f"USE {self.catalog}")  # each cursor has its own default catalog
            self._local.cursor = cur
            self._cursors.append(cur)
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
        if not self._open:
            return
        self._open = False
        for cur in self._cursors:
            try:
                cur.close()
            except duckdb.Error:
                pass
        self._cursors.clear()
        try:
            _root().execute(f"DETACH {self.catalog}")  # lets go of the file (and its lock)
        except duckdb.Error:
            pass


def _attach(path: Path, catalog: str, read_only: bool, wait: float) -> None:
    """Attach ``path`` to this process's DuckDB, waiting up to ``wait`` seconds while
    another process holds a lock on it (at once refused if a process owns it)."""
    quoted = str(path).replace("'", "''")
    mode = " (READ_ONLY)" if read_only else ""
    deadline = time.monotonic() + wait
    pause = 0.005
    while True:
        try:
            _root().execute(f"ATTACH '{quoted}' AS {catalog}{mode}")
            return
        except duckdb.Error as exc:
            text = str(exc)
            if "lock" not in text.lower():
                raise StoreError(_open_failure(path, read_only, exc)) from exc
            holder = owner(path)
            if holder is not None:
                raise StoreBusyError(_owned_message(path, holder), holder.get("url")) from exc
            if time.monotonic() >= deadline:
                raise StoreError(
                    f"the store {path} is in use by another process, which kept it for {wait:g} s ({text}); "
                    "close that process (a Python session that holds a Store's .database, say), or point "
                    "ANVIL_DB (or Store(path=...)) at another file; ANVIL_DB_WAIT sets how long to wait"
                ) from exc
            time.sleep(pause)
            pause = min(pause * 2, 0.1)


def open_database(path: str | os.PathLike[str], read_only: bool = False, *, wait: float | None = None) -> Database:
    """The process's attachment of the DuckDB file at ``path``, made on first use.

    Every call must be paired with ``release``; the file is detached (and its lock
    released) when the last user releases it. A child process (after ``fork``) attaches
    its own. A reader gets the read-write attachment when one is open in this process;
    a writer waits for this process's readers to finish.

    Args:
        wait: seconds to wait for other processes to let go of the file
            (default ``LOCK_WAIT``).

    Raises:
        StoreBusyError: a process owns the file (the job service): use it, or stop it.
        StoreError: the file is locked by another process for longer than ``wait``,
            is not a DuckDB file, or is held open read-only in this process and a
            writer is asked for.
    """
    resolved = Path(path).expanduser().resolve()
    key = (os.getpid(), resolved)
    limit = LOCK_WAIT if wait is None else wait
    deadline = time.monotonic() + limit
    with _changed:
        while True:
            db = _registry.get(key)
            if db is not None and db.closed:
                db = None
            if db is not None and db.read_only and not read_only and db._users == 0:
                _detach(db)  # only lingering: a writer need not wait for it
                db = None
            mine = db is not None and db._by_thread.get(threading.get_ident(), 0) > 0
            if db is not None and db.read_only and read_only and db._writers and not mine:
                _changed.wait(0.5)  # a writer of this process waits for the readers in: let it go first
                continue
            if db is not None and db.read_only and not read_only:
                left = deadline - time.monotonic()
                if left <= 0 or db._held:
                    raise StoreError(
                        f"the store {resolved} is held open read-only in this process; close that Store "
                        "before changing data"
                    )
                db._writers += 1
                try:
                    _changed.wait(min(left, 0.5))
                finally:
                    db._writers -= 1
                continue
            if db is None:
                db = Database(resolved, read_only, limit)
                _registry[key] = db
            db._users += 1
            me = threading.get_ident()
            db._by_thread[me] = db._by_thread.get(me, 0) + 1
            return db


def release(db: Database) -> None:
    """Give back a database from ``open_database``; the last user detaches it (a
    read-only one after ``LINGER`` seconds unused, so reads in a row attach it once)."""
    with _changed:
        db._users -= 1
        me = threading.get_ident()
        if db._by_thread.get(me, 0) > 1:
            db._by_thread[me] -= 1
        else:
            db._by_thread.pop(me, None)
        if db._users > 0:
            return
        if db.read_only and LINGER > 0 and not db.closed:
            db._idle_since = time.monotonic()
            _start_reaper()
        else:
            _detach(db)
        _changed.notify_all()


_reapers: dict[int, threading.Thread] = {}


def _start_reaper() -> None:
    """This process's thread that detaches read-only databases idle for ``LINGER``
    (the caller holds ``_changed``)."""
    pid = os.getpid()
    if pid not in _reapers or not _reapers[pid].is_alive():
        _reapers[pid] = threading.Thread(target=_reap, name="anvil-store-reaper", daemon=True)
        _reapers[pid].start()


def _reap() -> None:
    with _changed:
        while not _exiting:
            now = time.monotonic()
            due: float | None = None
            for db in list(_registry.values()):
                if db.read_only and db._users == 0 and not db.closed:
                    until = db._idle_since + LINGER
                    if until <= now:
                        _detach(db)
                        _changed.notify_all()
                    else:
                        due = until if due is None else min(due, until)
            _changed.wait(None if due is None else due - now)


_exiting = False


@atexit.register
def _close_all() -> None:
    """At interpreter exit, detach every store file and close this process's DuckDB.

    Runs while the interpreter still works and before daemon threads are stopped:
    a DuckDB cursor left open in another thread (a job or request thread's, say) is
    otherwise torn down during finalization, where DuckDB can crash the process. The
    reaper stops first, so no thread is inside DuckDB while this runs.
    """
    global _exiting
    with _changed:
        _exiting = True
        for (pid, _), db in list(_registry.items()):
            if pid == os.getpid() and db._write_lock.acquire(timeout=5.0):  # a write under way ends first
                try:
                    _detach(db)
                finally:
                    db._write_lock.release()
        root = _roots.pop(os.getpid(), None)
        if root is not None:
            try:
                root.close()
            except duckdb.Error:
                pass
        _changed.notify_all()


def _detach(db: Database) -> None:
    """Forget ``db`` and let go of its file; the caller holds ``_changed``."""
    if _registry.get((os.getpid(), db.path)) is db:
        del _registry[(os.getpid(), db.path)]
    with db._write_lock:
        db._close()


# -- who owns a file for a long time ----------------------------------------------------


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".owner")


def claim(path: Path, what: str, url: str | None = None) -> None:
    """Say beside ``path`` that this process holds it open for a long time: ``what``
    (``"the anvil service"``) and the ``url`` others can use instead."""
    info = {"pid": os.getpid(), "what": what, "url": url, "command": " ".join(sys.argv)[:300]}
    tmp = path.with_name(path.name + ".owner.tmp")
    try:
        tmp.write_text(json.dumps(info))
        tmp.replace(_marker(path))
    except OSError:
        pass  # a read-only folder: others are told less, nothing breaks


def unclaim(path: Path) -> None:
    """Remove this process's marker beside ``path``, if it is this process's."""
    marker = _marker(path)
    try:
        if json.loads(marker.read_text()).get("pid") == os.getpid():
            marker.unlink()
    except (OSError, ValueError):
        pass


def owner(path: Path) -> dict[str, object] | None:
    """The marker of another live process that holds ``path`` open, or None."""
    try:
        info = json.loads(_marker(path).read_text())
        pid = int(info["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's
    return dict(info)


def _owned_message(path: Path, holder: dict[str, object]) -> str:
    what = f"{holder.get('what') or 'a process'} (pid {holder['pid']})"
    url = holder.get("url")
    if url:
        return (
            f"the store {path} is held by {what}, which owns it while it runs; go through it with "
            f"--url {url} (`anvil data import FILE --url {url}`, `anvil data list --url {url}`, "
            f"`anvil jobs submit ... --url {url}`), or stop it to use the file directly"
        )
    return f"the store {path} is held by {what} ({holder.get('command')}); stop it to use the file directly"


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
    if read_only and not path.exists():
        return f"the store {path} does not exist, so it cannot be opened read-only"
    return f"cannot open the store {path}: {text}"
