"""A write-ahead journal of new job records: one JSON line each, durable before a job is accepted.

Submitting a job must not wait for the store's write lock (a running sweep holds it
while it stores each chunk), so ``JobStore.create`` appends the record here, the
line is made durable (concurrent appends share one ``fdatasync``: a group sync) and
the record reaches the database later, in batches. The journal is a series of
segment files beside the database::

    anvil.duckdb.jobs-journal.1   anvil.duckdb.jobs-journal.2   ...

Appends go to the newest segment. ``rotate`` starts a new one; a retired segment is
deleted once every record in it is stored (``stored``). A process that starts on a
folder where segments were left behind (a crash) reads them with ``leftovers``,
stores what they hold, then ``drop_leftovers``. A line cut short by the crash (no
newline, or not a JSON object) was never acknowledged and is skipped.

    journal = Journal(Path("anvil.duckdb.jobs-journal"))
    for record in journal.leftovers(): ...          # store them, then:
    journal.drop_leftovers()
    segment = journal.append('{"id": "..."}')      # durable on return
    journal.rotate(); journal.stored([segment])     # once the record is in the database
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

log = logging.getLogger("anvil.api")

_datasync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync


class JournalError(RuntimeError):
    """The journal cannot take a record (the disk is full, read-only or failing); the
    service answers 503 and accepts nothing it could lose."""


def journal_path(database: Path) -> Path:
    """The journal of the jobs kept in the DuckDB file ``database``: ``<database>.jobs-journal``."""
    return database.with_name(database.name + ".jobs-journal")


class Journal:
    """Append-only segment files of JSON lines, made durable by a shared ``fdatasync``.

    Args:
        path: the journal's name; segments are ``<path>.1``, ``<path>.2``, ...
            Segments already there are an earlier process's leftovers.

    Raises:
        JournalError: the folder cannot hold a new segment.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()  # the files: appends, rotation, bookkeeping
        self._sync = threading.Condition(threading.Lock())  # the group sync
        self._written = 0  # lines appended so far (sequence numbers 1, 2, ...)
        self._synced = 0  # every line up to this number is durable
        self._syncing = False  # a thread is syncing for everyone
        self._broken: BaseException | None = None  # a failed sync: nothing is durable any more
        self.syncs = 0  # group syncs so far (each made every line written before it durable)
        self._fds: dict[int, int] = {}  # open segments
        self._sizes: dict[int, int] = {}
        self._unstored: Counter[int] = Counter()  # lines not yet in the database, per segment
        self._dirty: dict[int, int] = {}  # segments written since the last sync -> fd
        self._retired: set[int] = set()
        self._rotating = threading.Lock()
        self._closed = False
        self._old = sorted(self._existing())
        self._current = self._old[-1] + 1 if self._old else 1
        self._open(self._current)

    # -- leftovers of an earlier process ----------------------------------------------
    def leftovers(self) -> list[dict[str, Any]]:
        """The records earlier processes journaled, oldest first; torn lines are skipped."""
        records: list[dict[str, Any]] = []
        for seg in self._old:
            records += _read(self._segment(seg))
        return records

    def drop_leftovers(self) -> None:
        """Delete the earlier processes' segments (once their records are stored)."""
        for seg in self._old:
            self._segment(seg).unlink(missing_ok=True)
        self._old = []

    # -- appending ----------------------------------------------------------------------
    def append(self, line: str) -> int:
        """Append one record (a JSON object, one line) and return once it is durable.

        Returns:
            The segment it went to (give it to ``stored`` once the record is in the database).

        Raises:
            JournalError: it could not be written or made durable; it is not accepted.
        """
        data = (line + "\n").encode()
        with self._lock:
            if self._closed:
                raise JournalError(f"the job journal {self.path} is closed; the service is shutting down")
            if self._broken is not None:
                raise JournalError(
                    f"the job journal {self.path} failed to sync ({self._broken}); no job can be "
                    "accepted safely: fix the disk, then restart the service"
                )
            seg = self._current
            fd = self._fds[seg]
            before = self._sizes[seg]
            try:
                written = os.write(fd, data)
                if written != len(data):
                    raise OSError(f"short write ({written} of {len(data)} bytes)")
            except OSError as exc:
                try:
                    os.ftruncate(fd, before)  # leave no partial line behind
                except OSError:
                    pass
                raise JournalError(
                    f"cannot write to the job journal {self._segment(seg)}: {exc}; free some "
                    "disk space or check the folder's permissions"
                ) from exc
            self._sizes[seg] = before + len(data)
            self._written += 1
            number = self._written
            self._unstored[seg] += 1
            self._dirty[seg] = fd
        self._wait_durable(number)
        return seg

    def _wait_durable(self, number: int) -> None:
        """Return once line ``number`` is durable: sync for everyone, or wait for the thread that does."""
        sync = self._sync
        with sync:
            while self._synced < number:
                if self._broken is not None:
                    raise JournalError(f"the job journal {self.path} could not be synced: {self._broken}")
                if self._syncing:
                    sync.wait()
                    continue
                self._syncing = True
                with self._lock:
                    target, fds = self._written, list(self._dirty.values())
                    self._dirty.clear()
                sync.release()
                error: BaseException | None = None
                try:
                    for fd in fds:
                        _datasync(fd)
                except OSError as exc:
                    error = exc
                finally:
                    sync.acquire()
                    self._syncing = False
                    if error is None:
                        self._synced = max(self._synced, target)
                        self.syncs += 1
                    else:
                        # After a failed fsync the kernel may have dropped the dirty pages: no
                        # later sync can vouch for these lines, so the journal stops accepting.
                        self._broken = error
                        log.error("anvil: the job journal %s failed to sync: %s", self.path, error)
                    sync.notify_all()

    # -- segments -----------------------------------------------------------------------
    def rotate(self) -> None:
        """Send later appends to a new segment, if the current one holds anything.

        The current one is retired: it is deleted once every record in it is stored.
        """
        with self._rotating:
            with self._lock:
                if self._closed or self._sizes[self._current] == 0:
                    return
                seg = self._current + 1
            fd = self._create(seg)
            with self._lock:
                self._retired.add(self._current)
                self._fds[seg], self._sizes[seg], self._current = fd, 0, seg
        self._collect()

    def stored(self, segments: Iterable[int]) -> None:
        """Records journaled in ``segments`` (one entry per record) are now in the database."""
        done = Counter(segments)
        with self._lock:
            self._unstored.subtract(done)
        self._collect()

    def holds(self) -> int:
        """How many journaled records are not yet stored."""
        with self._lock:
            return sum(n for n in self._unstored.values() if n > 0)

    def close(self) -> None:
        """Close the segments; those whose records are all stored are deleted."""
        with self._rotating, self._lock:
            if self._closed:
                return
            self._closed = True
            self._retired.add(self._current)
        self._collect(closing=True)
        with self._lock:
            fds, self._fds = list(self._fds.values()), {}
        for fd in fds:
            os.close(fd)

    @property
    def closed(self) -> bool:
        return self._closed

    def _collect(self, closing: bool = False) -> None:
        """Delete retired segments with nothing left to store."""
        with self._lock:
            gone = [s for s in self._retired if self._unstored[s] <= 0]
            for s in gone:
                self._retired.discard(s)
                self._unstored.pop(s, None)
                del self._sizes[s]
            fds = [self._fds.pop(s) for s in gone]
        for s, fd in zip(gone, fds):
            os.close(fd)
            self._segment(s).unlink(missing_ok=True)
        if closing:
            left = sorted(self._retired)
            if left:
                log.warning(
                    "anvil: the job journal keeps %d record(s) not yet stored in %s; the next start stores them",
                    self.holds(),
                    ", ".join(str(self._segment(s)) for s in left),
                )

    def _segment(self, seg: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{seg}")

    def _existing(self) -> list[int]:
        prefix = self.path.name + "."
        found = []
        if self.path.parent.is_dir():
            for p in self.path.parent.iterdir():
                if p.name.startswith(prefix) and p.name[len(prefix) :].isdigit():
                    found.append(int(p.name[len(prefix) :]))
        return found

    def _open(self, seg: int) -> None:
        self._fds[seg] = self._create(seg)
        self._sizes[seg] = 0

    def _create(self, seg: int) -> int:
        """A new empty segment whose name is durable (so are lines synced into it later)."""
        path = self._segment(seg)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, "O_CLOEXEC", 0), 0o600)
        except OSError as exc:
            raise JournalError(
                f"cannot create the job journal {path}: {exc}; check that the folder exists and is writable"
            ) from exc
        _sync_folder(path.parent)
        return fd


def _sync_folder(folder: Path) -> None:
    """Make a new file's name in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read(path: Path) -> list[dict[str, Any]]:
    """The records in one segment; a torn line (no newline, or not a JSON object) is skipped."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    records = []
    lines = data.split(b"\n")
    for k, line in enumerate(lines):
        if not line.strip():
            continue
        last = k == len(lines) - 1  # no newline after it: the write was cut short
        try:
            record = json.loads(line) if not last else None
        except ValueError:
            record = None
        if not isinstance(record, dict):
            log.warning(
                "anvil: skipped a torn line %d of the job journal %s (a crash while it was written: "
                "that job was never accepted)",
                k + 1,
                path,
            )
            continue
        records.append(record)
    return records
