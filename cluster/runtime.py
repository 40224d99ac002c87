"""Where jobs run: a local Ray started on demand, or a cluster joined by address.

No address: a local Ray sized to this machine, started once per process and
reused by every job (``shutdown()`` stops it). ``address="auto"`` joins the
cluster this machine belongs to; ``"ray://host:port"`` joins a remote one.
Nothing here opens anything beyond this machine unless an address says so.
Ray is imported only when a job asks for it: a job on threads starts in a second.

A long-lived process (the job service) calls ``record_processes(path)`` first:
the local Ray it starts is then listed in that file (each process's id and start
time), ``shutdown()`` stops whatever of it is still running and removes the
file, and ``reap(path)`` — at the next start, after a crash — stops what a dead
owner left. Only processes this module started (and their children) are ever
signalled, never a Ray someone else runs.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

LOCAL_SECONDS = 10.0
"""A job estimated to take less than this (on this machine's cores) runs on threads
of this process when no address is given: starting a local Ray costs about as much."""

_lock = threading.Lock()
_log_level = logging.WARNING  # Ray's own logging in this process (set_logging)
_log_to_driver = False
_started_here = False
_address: str | None = None  # what this module connected to (None: a local Ray)
_pid_file: Path | None = None
log = logging.getLogger("anvil.cluster")


class _Pool:
    """The process's worker actors, shared by every job (started once, reused); the runtime
    owns them, since ``shutdown`` forgets them with the Ray they ran on. ``start`` makes
    one actor (``ChunkWorker.remote`` of ``cluster.ray_executor``)."""

    def __init__(self) -> None:
        self.actors: list[Any] = []
        self.successors: dict[int, Any] = {}
        self.session: str | None = None
        self.lock = threading.Lock()

    def take(self, n: int, start: Callable[[], Any]) -> list[Any]:
        import ray

        with self.lock:
            ctx = ray.get_runtime_context()
            session = f"{ctx.get_job_id()}@{ctx.get_node_id()}"  # job ids repeat across clusters
            if session != self.session:  # a new Ray: the old handles are gone
                self.actors, self.session, self.successors = [], session, {}
            while len(self.actors) < n:
                self.actors.append(start())
            return self.actors[:n]

    def replace(self, dead: Any, start: Callable[[], Any]) -> Any:
        """A fresh actor in the dead one's place (once, however many jobs notice)."""
        with self.lock:
            if id(dead) in self.successors:
                return self.successors[id(dead)]
            fresh = start()
            for i, actor in enumerate(self.actors):
                if actor is dead:
                    self.actors[i] = fresh
            self.successors[id(dead)] = fresh
            return fresh

    def clear(self) -> None:
        with self.lock:
            self.actors, self.session, self.successors = [], None, {}


POOL = _Pool()


def ensure(address: str | None = None, num_cpus: int | None = None) -> None:
    """Make sure this process is connected to Ray, starting a local one if needed.

    Raises:
        RuntimeError: already connected elsewhere than ``address`` asks.
    """
    global _started_here, _address
    import ray

    with _lock:
        if ray.is_initialized():
            if address not in (None, _address):
                raise RuntimeError(
                    f"this process is connected to Ray at {_address or 'a local Ray'}; "
                    f"call cluster.shutdown() before joining {address}"
                )
            return
        kwargs = dict(
            include_dashboard=False,
            logging_level=_log_level,
            log_to_driver=_log_to_driver,
            configure_logging=True,
        )
        handlers = _signal_handlers()
        try:
            if address is None:
                before = set(_descendants([os.getpid()])) if _pid_file is not None else set()
                ray.init(num_cpus=num_cpus, **kwargs)
                _started_here = True
                _write_pid_file(before)
            else:
                ray.init(address=address, **kwargs)
        finally:
            _restore_signal_handlers(handlers)
        _address = address


def set_logging(level: int = logging.WARNING, to_driver: bool = False) -> None:
    """How much of Ray's own logging reaches this process's terminal, for the Ray this
    process starts or joins next: ``level`` for Ray's logger, and whether workers' output
    is relayed (the CLI: errors only, unless --debug)."""
    global _log_level, _log_to_driver
    _log_level, _log_to_driver = level, to_driver
    logging.getLogger("ray").setLevel(level)


def shutdown() -> None:
    """Disconnect from Ray (and stop it, if this process started it)."""
    global _started_here, _address
    if "ray" not in sys.modules:  # never imported: nothing was started
        return
    import ray

    with _lock:
        POOL.clear()
        started = _recorded() if _started_here else []
        if ray.is_initialized():
            ray.shutdown()
        if started:
            _stop(started)
        if _started_here and _pid_file is not None:
            _pid_file.unlink(missing_ok=True)
        _started_here = False
        _address = None


def cpus() -> int:
    """CPUs the connected cluster offers."""
    import ray

    return int(ray.cluster_resources().get("CPU", os.cpu_count() or 1))


def local_cpus() -> int:
    """CPUs this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def choose(address: str | None, seconds: float) -> str | None:
    """The address to run a job of about ``seconds`` (on this machine's cores) with:
    ``address`` when one is given, threads of this process when the job is small
    (``"local-threads"``), else None (a local Ray)."""
    if address:
        return address
    return "local-threads" if seconds < LOCAL_SECONDS else None


# -- the processes of a local Ray this process started -------------------------------------------
def record_processes(path: str | Path) -> None:
    """List the local Ray this process starts in ``path`` (for ``reap`` after a crash)."""
    global _pid_file
    _pid_file = Path(path)


def _start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (tells a reused id apart), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def _children() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            out.setdefault(ppid, []).append(int(entry.name))
    return out


def _descendants(roots: list[int]) -> list[int]:
    kids = _children()
    seen: list[int] = []
    todo = list(roots)
    while todo:
        pid = todo.pop()
        for child in kids.get(pid, []):
            if child not in seen:
                seen.append(child)
                todo.append(child)
    return seen


def _write_pid_file(before: set[int]) -> None:
    """Record the children ``ray.init`` started (those not there ``before``)."""
    if _pid_file is None or not Path("/proc").is_dir():
        return
    me = os.getpid()
    started = [[pid, _start_time(pid)] for pid in _descendants([me]) if pid not in before]
    record = {"owner": [me, _start_time(me)], "processes": started}
    try:
        _pid_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = _pid_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        tmp.replace(_pid_file)
    except OSError as exc:
        log.warning("cannot record the local Ray's processes in %s: %s", _pid_file, exc)


def _recorded(path: Path | None = None) -> list[tuple[int, int]]:
    """The recorded processes that still run (same id and start time): (pid, start)."""
    path = path or _pid_file
    if path is None:
        return []
    try:
        record = json.loads(path.read_text())
        listed = [(int(p), int(t)) for p, t in record.get("processes", []) if t is not None]
    except (OSError, ValueError, TypeError):
        return []
    return [(pid, t) for pid, t in listed if _start_time(pid) == t]


def _stop(processes: list[tuple[int, int]], wait: float = 10.0) -> None:
    """SIGTERM the processes and their children, then SIGKILL what is left after ``wait`` s."""
    pids = [pid for pid, _ in processes]
    targets = [(pid, _start_time(pid)) for pid in _descendants(pids)] + list(processes)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid, start in targets:
            if start is not None and _start_time(pid) == start:
                try:
                    os.kill(pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and any(s is not None and _start_time(p) == s for p, s in targets):
            time.sleep(0.05)


def reap(path: str | Path) -> int:
    """Stop the local Ray a crashed process recorded in ``path``; how many processes were running.

    Nothing is stopped while the recorded owner still runs (another live service)."""
    path = Path(path)
    try:
        owner = json.loads(path.read_text()).get("owner") or [None, None]
    except (OSError, ValueError):
        return 0
    if owner[0] is not None and owner[0] != os.getpid() and _start_time(int(owner[0])) == owner[1]:
        return 0
    left = _recorded(path)
    if left:
        log.warning("stopping %d Ray processes a previous anvil process left running (%s)", len(left), path)
        _stop(left)
    path.unlink(missing_ok=True)
    return len(left)


# -- signal dispositions ------------------------------------------------------------------------
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _signal_handlers() -> dict[int, ctypes.Array[ctypes.c_char]]:
    """This process's raw ``sigaction`` of SIGTERM and SIGINT (any thread may ask)."""
    saved: dict[int, ctypes.Array[ctypes.c_char]] = {}
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return saved
    for sig in _STOP_SIGNALS:
        buf = ctypes.create_string_buffer(512)  # larger than any struct sigaction
        if libc.sigaction(int(sig), None, buf) == 0:
            saved[int(sig)] = buf
    return saved


def _restore_signal_handlers(saved: dict[int, ctypes.Array[ctypes.c_char]]) -> None:
    """Put back what ``ray.init`` replaced: its core handles SIGTERM itself (in C++, even when
    called off the main thread), so a service's graceful shutdown — which stops the local Ray —
    would never run."""
    if not saved:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for sig, buf in saved.items():
        libc.sigaction(sig, buf, None)
