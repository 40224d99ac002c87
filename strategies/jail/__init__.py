"""A jail for uploaded strategy code: a separate process behind the operating system's walls.

    from strategies import jail
    jail.available()                                  # None, or why the jail cannot be built here
    description = jail.describe(source)               # loads it in a jail: name, parameters, kind ...
    Uploaded = jail.jailed(source, description, job="job-1")
    strategies.run(Uploaded, bars, config, params)    # signals / on_bar run in jailed processes
    strategies.run(UploadedUniverse, panel, config)   # weights / on_bar rows come back as matrices
    jail.release("job-1")                             # kill the job's jailed processes (cancel, end)

Every jailed process is started by bubblewrap (``_command``) with an empty
environment, its own user, PID, network, IPC and UTS namespaces, no capabilities,
a read-only view of only what Python and anvil need, a private tmpfs ``/tmp``,
death with its parent, resource limits set before the source runs (``_limits``:
CPU time, address space, file size, open files, processes, no core dumps) and a
seccomp filter (``_seccomp``: no new processes, sockets, tracing, mounts,
namespaces, BPF, io_uring, keyrings). Inside, the loader's language-level checks
still apply first (``strategies.loader``). The trusted side talks to it over
pipes in JSON and raw numeric arrays (``_wire``) — nothing from a jail is ever
unpickled — and checks what comes back like any signal (``_standin``).

Processes are pooled per job and per worker process (``_pool``): start-up is paid
once per job; a call has a time limit; a crash is retried once in a fresh
process; two deaths in a job break its pool (the job stops with the reason);
``release(job)`` kills them all at once.
"""

from __future__ import annotations

import functools
import subprocess

from strategies.jail._command import bwrap
from strategies.jail._limits import Limits
from strategies.jail._pool import BROKEN, JailBroken, JailClosed, JailPool, broken_reason, pool, release, watch
from strategies.jail._process import JailDied, JailError, JailProcess, StrategyFailed
from strategies.jail._standin import (
    JailedBars,
    JailedSignals,
    JailedStrategy,
    JailedUniverse,
    JailedUniverseBars,
    JailedWeights,
    jailed,
)

__all__ = [
    "BROKEN",
    "JailBroken",
    "JailClosed",
    "JailDied",
    "JailError",
    "JailPool",
    "JailProcess",
    "JailedBars",
    "JailedSignals",
    "JailedStrategy",
    "JailedUniverse",
    "JailedUniverseBars",
    "JailedWeights",
    "Limits",
    "StrategyFailed",
    "available",
    "broken_reason",
    "describe",
    "jailed",
    "pool",
    "release",
    "watch",
]


@functools.lru_cache(maxsize=1)
def available() -> str | None:
    """None when jails can be started on this machine, else why not (in words)."""
    exe = bwrap()
    if exe is None:
        return "bubblewrap (bwrap) is not installed; install it (Debian/Ubuntu: apt-get install bubblewrap)"
    probe = [
        exe,
        "--unshare-all",
        "--die-with-parent",
        "--ro-bind",
        "/usr",
        "/usr",
        "--symlink",
        "usr/bin",
        "/bin",
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--",
        "/usr/bin/true",
    ]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=30, env={})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not run: {exc}"
    if done.returncode != 0:
        why = (done.stderr or "").strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        return (
            f"bwrap cannot create namespaces here ({why[0]}); user namespaces may be disabled "
            "(sysctl kernel.unprivileged_userns_clone / user.max_user_namespaces)"
        )
    return None


def describe(source: str, limits: Limits | None = None) -> dict:  # type: ignore[type-arg]
    """Load ``source`` in a fresh jail and return its description (``Strategy.describe()``
    plus ``signals_many``); nothing of it runs outside the jail.

    Raises:
        StrategyFailed: the loader refused the source or loading it failed (the message says why).
        JailError: the jail could not start, or the process died or hung while loading.
    """
    proc = JailProcess(source, limits or Limits())
    try:
        return proc.description
    finally:
        proc.kill()
