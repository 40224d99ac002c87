"""How much one jailed process may use: set inside the jail, before any uploaded code runs."""

from __future__ import annotations

import os
import resource
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Limits:
    """The limits of one jailed process and of the calls made to it.

    Attributes:
        call_seconds: wall-clock seconds one call (an item, a chunk's signals, one
            bar-by-bar backtest) may take; past that the process is killed.
        load_seconds: wall-clock seconds loading the source (and describing it) may take, once
            the process has started and imported anvil.
        cpu_seconds: CPU seconds a process may use in its life (``RLIMIT_CPU``); a pool
            retires a process that has used half of it, so this is a backstop.
        memory_bytes: address space of a process (``RLIMIT_AS``).
        file_bytes: largest file it may write in its scratch dir (``RLIMIT_FSIZE``).
        scratch_bytes: size of its private ``/tmp`` (a tmpfs).
        open_files: file descriptors (``RLIMIT_NOFILE``).
        processes: processes and threads per user inside the jail (``RLIMIT_NPROC``);
            the seccomp filter refuses ``fork`` outright, this bounds threads.
        pool_size: jailed processes one job keeps in one worker process, at most.
        niceness: added to a process's CPU niceness, so code spinning in a jail yields
            the CPU to the service's own threads (``/health``, the job queue).
    """

    call_seconds: float = 60.0
    load_seconds: float = 10.0
    cpu_seconds: int = 3600
    memory_bytes: int = 2 << 30
    file_bytes: int = 16 << 20
    scratch_bytes: int = 64 << 20
    open_files: int = 64
    processes: int = 64
    pool_size: int = 4
    niceness: int = 10

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def apply(limits: dict[str, Any]) -> None:
    """Lower this process's resource limits (soft and hard, so they cannot be raised again)
    and its CPU priority (a jail has no capability to raise it back)."""
    os.nice(max(0, int(limits.get("niceness", 0))))
    for which, value in (
        (resource.RLIMIT_CPU, int(limits["cpu_seconds"])),
        (resource.RLIMIT_AS, int(limits["memory_bytes"])),
        (resource.RLIMIT_FSIZE, int(limits["file_bytes"])),
        (resource.RLIMIT_NOFILE, int(limits["open_files"])),
        (resource.RLIMIT_NPROC, int(limits["processes"])),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(which, (value, value))
