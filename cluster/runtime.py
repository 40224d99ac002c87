"""Where jobs run: a local Ray started on demand, or a cluster joined by address.

No address: a local Ray sized to this machine, started once per process and
reused by every job (``shutdown()`` stops it). ``address="auto"`` joins the
cluster this machine belongs to; ``"ray://host:port"`` joins a remote one.
Nothing here opens anything beyond this machine unless an address says so.
Ray is imported only when a job asks for it: a job on threads starts in a second.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

LOCAL_SECONDS = 10.0
"""A job estimated to take less than this (on this machine's cores) runs on threads
of this process when no address is given: starting a local Ray costs about as much."""

_lock = threading.Lock()
_log_level = logging.WARNING  # Ray's own logging in this process (set_logging)
_log_to_driver = False
_started_here = False
_address: str | None = None  # what this module connected to (None: a local Ray)


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
        if address is None:
            ray.init(num_cpus=num_cpus, **kwargs)
            _started_here = True
        else:
            ray.init(address=address, **kwargs)
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

    from cluster.ray_executor import POOL

    with _lock:
        POOL.clear()
        if ray.is_initialized():
            ray.shutdown()
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
