"""One jailed worker process, seen from the trusted side: start it, call it, kill it."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Sequence

import numpy as np

from strategies.jail import _command, _seccomp, _wire
from strategies.jail._limits import Limits

MAX_REPLY_BYTES = 1 << 31
_SPAWNER = ThreadPoolExecutor(1, thread_name_prefix="anvil-jail-spawner")
"""Every jail is started from this one long-lived thread: ``--die-with-parent`` is the kernel's
parent-death signal, which fires when the *thread* that started bwrap ends — a job's chunk
threads end with the job, and would take the pool's processes with them."""
STARTUP_SECONDS = 120.0  # starting bwrap and importing Python, numpy and anvil (trusted code only)


class JailError(RuntimeError):
    """Uploaded code could not run in its jail; the message says why."""


class JailDied(JailError):
    """The jailed process died or was killed (crash, resource limit, time limit)."""

    def __init__(self, message: str, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class StrategyFailed(JailError):
    """The strategy raised inside its jail (its own error, the process lives on)."""


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(code).name
    except ValueError:
        return f"signal {code}"


def _why(returncode: int | None) -> str:
    """A dead jail's exit status in words (bwrap exits 128 + n when its child dies of signal n)."""
    if returncode is None:
        return "it stopped answering"
    if returncode < 0:
        return f"killed by {_signal_name(-returncode)}"
    if returncode > 128:
        sig = returncode - 128
        extra = {
            signal.SIGXCPU: " (its CPU-time limit)",
            signal.SIGXFSZ: " (its file-size limit)",
            signal.SIGSEGV: " (a crash)",
            signal.SIGKILL: "",
        }.get(sig, "")
        return f"killed by {_signal_name(sig)}{extra}"
    return f"exited with status {returncode}"


class JailProcess:
    """A started jail holding one loaded source.

    Args:
        source: the strategy's source.
        limits: its limits.
        checks: whether the language-level checks apply (False only in tests of the jail).
        on_start: called with the process as soon as bwrap runs, before Python starts and
            the source loads (a pool registers it there, so a cancel can kill it mid-start).

    Raises:
        JailError: bwrap could not start it, or the source did not load (the loader's
            message, from inside the jail).
    """

    def __init__(
        self, source: str, limits: Limits, checks: bool = True, on_start: Callable[[JailProcess], None] | None = None
    ) -> None:
        self.limits = limits
        self.bars: set[str] = set()
        self.cpu = 0.0
        self._lock = threading.Lock()
        program = _seccomp.program()
        rfd: int | None = None
        if program is not None:
            rfd, wfd = os.pipe()
            os.write(wfd, program)
            os.close(wfd)
        started = time.monotonic()
        try:
            self.proc = _SPAWNER.submit(
                subprocess.Popen,
                _command.command(rfd, limits.scratch_bytes),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=None if os.environ.get("ANVIL_JAIL_DEBUG") else subprocess.DEVNULL,
                pass_fds=(rfd,) if rfd is not None else (),
                start_new_session=True,
                env={},
                cwd="/",
            ).result()
        except OSError as exc:
            raise JailError(f"cannot start the jail: {exc}") from None
        finally:
            if rfd is not None:
                os.close(rfd)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._in, self._out = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        os.set_blocking(self._in, False)
        os.set_blocking(self._out, False)
        if on_start is not None:
            on_start(self)
        try:
            self._receive(STARTUP_SECONDS)  # Python and anvil imported: nothing uploaded has run yet
        except JailDied as exc:
            raise JailError(f"the jail did not start: {exc}") from None
        self.ready_seconds = time.monotonic() - started
        request = {"op": "load", "source": source, "checks": checks, "limits": limits.to_dict()}
        try:
            head, _ = self._exchange(request, (), limits.load_seconds)
        except JailDied as exc:
            raise JailDied(f"loading the strategy: {exc}", exc.timed_out) from None
        if not head.get("ok"):
            self.kill()
            raise StrategyFailed(str(head.get("error", "the source did not load")))
        self.description: dict[str, Any] = head.get("description") or {}
        self.start_seconds = time.monotonic() - started

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def call(
        self, request: dict[str, Any], arrays: Sequence[np.ndarray] = (), timeout: float | None = None
    ) -> tuple[dict[str, Any], list[np.ndarray]]:
        """Send one request and wait for its answer.

        Raises:
            JailDied: the process died, broke the format, or ran past ``timeout``
                (``limits.call_seconds`` by default); it is killed.
            StrategyFailed: the strategy raised (the process goes on).
        """
        head, out = self._exchange(request, arrays, self.limits.call_seconds if timeout is None else timeout)
        if not head.get("ok"):
            raise StrategyFailed(str(head.get("error", "the strategy failed"))[:4000])
        return head, out

    def _receive(self, timeout: float) -> tuple[dict[str, Any], list[np.ndarray]]:
        return self._exchange(None, (), timeout)

    def _exchange(
        self, request: dict[str, Any] | None, arrays: Sequence[np.ndarray], timeout: float
    ) -> tuple[dict[str, Any], list[np.ndarray]]:
        deadline = time.monotonic() + timeout
        with self._lock:
            try:
                if request is not None:
                    _wire.write(self._in, _wire.encode(request, arrays), deadline)
                head, out = _wire.read(self._out, deadline, MAX_REPLY_BYTES)
            except _wire.Timeout:
                self._reap()
                raise JailDied(
                    f"it ran longer than its limit of {timeout:g} s and was stopped", timed_out=True
                ) from None
            except (_wire.Closed, _wire.WireError) as exc:
                self._reap()
                raise JailDied(_why(self.proc.returncode) if isinstance(exc, _wire.Closed) else str(exc)) from None
        cpu = head.get("cpu")
        if isinstance(cpu, (int, float)):
            self.cpu = float(cpu)
        return head, out

    def kill(self) -> None:
        """Kill the jail (bwrap and, with its PID namespace, everything inside); safe from any
        thread: a call waiting on it returns at once with ``JailDied``."""
        self._signal()
        if self._lock.acquire(blocking=False):  # else the caller waiting on it cleans up
            try:
                self._reap()
            finally:
                self._lock.release()

    def _signal(self) -> None:
        if self.proc.returncode is not None:  # reaped: its id may belong to someone else now
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def _reap(self) -> None:
        self._signal()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                if f is not None:
                    f.close()
            except OSError:
                pass
