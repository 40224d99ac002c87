"""Where jobs run: a local Ray started on demand, or a cluster joined by address.

No address: a local Ray sized to this machine, started once per process and
reused by every job (``shutdown()`` stops it). ``address="auto"`` joins the
cluster this machine belongs to; ``"ray://host:port"`` joins a remote one.
Nothing here opens anything beyond this machine unless an address says so.
"""

from __future__ import annotations

import logging
import os
import threading

import ray

_lock = threading.Lock()
_started_here = False
_address: str | None = None  # what this module connected to (None: a local Ray)


def ensure(address: str | None = None, num_cpus: int | None = None) -> None:
    """Make sure this process is connected to Ray, starting a local one if needed.

    Raises:
        RuntimeError: already connected elsewhere than ``address`` asks.
    """
    global _started_here, _address
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
            logging_level=logging.WARNING,
            log_to_driver=False,
            configure_logging=True,
        )
        if address is None:
            ray.init(num_cpus=num_cpus, **kwargs)
            _started_here = True
        else:
            ray.init(address=address, **kwargs)
        _address = address


def shutdown() -> None:
    """Disconnect from Ray (and stop it, if this process started it)."""
    global _started_here, _address
    from cluster.ray_executor import POOL

    with _lock:
        POOL.clear()
        if ray.is_initialized():
            ray.shutdown()
        _started_here = False
        _address = None


def cpus() -> int:
    """CPUs the connected cluster offers."""
    return int(ray.cluster_resources().get("CPU", os.cpu_count() or 1))
