"""The bubblewrap command line that starts one jailed process.

The process gets: an empty environment (but for a few thread-count variables
that keep numpy's BLAS from starting a thread per core), new user, PID, network,
IPC, UTS and cgroup namespaces (``--unshare-all``; the network one has only a
loopback nobody listens on), no capabilities, its own session (no terminal to
push keystrokes into), death with its parent, a read-only view of only what
Python, numpy and anvil need (``/usr``, the Python install, the virtualenv,
anvil's ``engine`` and ``strategies`` packages — not the rest of the folder holding
them, where a checkout may keep a store, a token file or data), a fresh ``/proc``
and minimal ``/dev``, and a private tmpfs ``/tmp`` as its only writable place (also
its working directory).
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from pathlib import Path

WORKER = "strategies.jail._worker"
THREAD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2"}
SCRATCH = "/tmp"
PACKAGES = ("engine", "strategies")
"""anvil's packages a jailed worker imports (``_worker``); only these of anvil's folder are shown."""


def bwrap() -> str | None:
    """The ``bwrap`` executable: ``$ANVIL_BWRAP`` if set, else the one on the PATH; or None."""
    chosen = os.environ.get("ANVIL_BWRAP")
    if chosen:
        return chosen if os.access(chosen, os.X_OK) else None
    return shutil.which("bwrap") or next((p for p in ("/usr/bin/bwrap", "/bin/bwrap") if os.access(p, os.X_OK)), None)


def anvil_root() -> Path:
    """The folder holding anvil's packages (``engine``, ``strategies`` ...)."""
    return Path(__file__).resolve().parents[2]


@functools.lru_cache(maxsize=1)
def read_only_paths() -> tuple[str, ...]:
    """Folders the jail sees read-only: the system's, Python's, the virtualenv's and anvil's
    packages (``PACKAGES``, not the folder around them)."""
    import numpy

    wanted = {"/usr", "/etc/ld.so.cache", "/etc/alternatives"}
    for p in (
        sys.base_prefix,
        sys.prefix,
        sys.exec_prefix,
        os.path.dirname(os.path.realpath(sys.executable)),
        str(Path(numpy.__file__).resolve().parents[1]),
        *(str(anvil_root() / name) for name in PACKAGES),
    ):
        wanted.add(os.path.realpath(p))
    # The unresolved prefixes too, since sys.executable may be a symlink into them.
    wanted.update({sys.prefix, os.path.dirname(sys.executable)})
    out: list[str] = []
    for p in sorted(wanted, key=len):
        if os.path.exists(p) and not any(p == q or p.startswith(q.rstrip("/") + "/") for q in out):
            out.append(p)
    return tuple(out)


def command(seccomp_fd: int | None, scratch_bytes: int) -> list[str]:
    """The argv of one jailed worker (``seccomp_fd`` must be passed to the child)."""
    exe = bwrap()
    if exe is None:
        raise FileNotFoundError("bwrap (bubblewrap) is not installed")
    argv = [
        exe,
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--hostname",
        "jail",
        "--clearenv",
    ]
    for key, value in THREAD_ENV.items():
        argv += ["--setenv", key, value]
    for name in ("lib", "lib64", "bin", "sbin"):
        target = f"/{name}"
        if os.path.islink(target):
            argv += ["--symlink", os.readlink(target), target]
        elif os.path.isdir(target):
            argv += ["--ro-bind", target, target]
    # The scratch tmpfs first, then the read-only folders: bwrap mounts in order, so an
    # install that lives under /tmp (a CI clone, a throwaway venv) is bound over the
    # tmpfs and stays visible instead of being hidden by it.
    argv += ["--proc", "/proc", "--dev", "/dev", "--size", str(int(scratch_bytes)), "--tmpfs", SCRATCH]
    # anvil's folder is an empty tmpfs of its own, made read-only once its packages are
    # bound into it: otherwise, for a checkout under /tmp, the folders bwrap makes to
    # bind the packages into would be writable parts of the scratch tmpfs.
    root = str(anvil_root())
    own_root = not any(root == q or root.startswith(q.rstrip("/") + "/") for q in read_only_paths())
    if own_root:
        argv += ["--size", str(1 << 20), "--tmpfs", root]
    for p in read_only_paths():
        argv += ["--ro-bind", p, p]
    if own_root:
        argv += ["--remount-ro", root]
    argv += ["--chdir", SCRATCH, "--remount-ro", "/"]
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
    boot = f"import sys; sys.path[:0] = [{str(anvil_root())!r}]; from {WORKER} import main; main()"
    argv += [sys.executable, "-I", "-c", boot]
    return argv
