"""Messages between the trusted side and a jailed process: JSON and raw array bytes.

A message is an 8-byte header (two little-endian u32: the JSON's length and the
arrays' total byte count), the JSON object, then the arrays' bytes back to back.
The JSON lists each array as ``[dtype, shape]``; only plain numeric dtypes are
accepted (no objects, no records, nothing that unpickles), and the sizes must add
up. Nothing received from a jail is ever unpickled.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import Any, Sequence

import numpy as np

HEADER = struct.Struct("<II")
DTYPES = frozenset({"|i1", "|u1", "|b1", "<i8", "<f8"})
MAX_JSON = 4 << 20


class WireError(RuntimeError):
    """A message that breaks the format (the other side is broken or hostile)."""


class Timeout(RuntimeError):
    """The other side did not answer in time."""


class Closed(RuntimeError):
    """The other side closed its end (it died)."""


def encode(header: dict[str, Any], arrays: Sequence[np.ndarray] = ()) -> bytes:
    """One message's bytes."""
    arrays = [np.ascontiguousarray(a) for a in arrays]
    for a in arrays:
        if a.dtype.str not in DTYPES:
            raise WireError(f"cannot send an array of dtype {a.dtype.str}")
    head = dict(header, arrays=[[a.dtype.str, list(a.shape)] for a in arrays])
    text = json.dumps(head, allow_nan=True).encode()
    body = b"".join(a.tobytes() for a in arrays)
    return HEADER.pack(len(text), len(body)) + text + body


def decode(text: bytes, body: bytes) -> tuple[dict[str, Any], list[np.ndarray]]:
    """The JSON object and the arrays of one message, checked against the format."""
    try:
        head = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: JSON nested deeper than the parser goes
        raise WireError(f"the message is not JSON anvil reads ({type(exc).__name__}: {exc})") from None
    if not isinstance(head, dict) or not isinstance(head.get("arrays", []), list):
        raise WireError("the message is not a JSON object with a list of arrays")
    arrays: list[np.ndarray] = []
    offset = 0
    for spec in head.pop("arrays", []):
        if (
            not isinstance(spec, list)
            or len(spec) != 2
            or spec[0] not in DTYPES
            or not isinstance(spec[1], list)
            or not all(type(d) is int and 0 <= d < 1 << 40 for d in spec[1])
        ):
            raise WireError(f"bad array description {str(spec)[:80]}")
        dtype = np.dtype(spec[0])
        size = dtype.itemsize * int(np.prod(spec[1], dtype=object))
        if offset + size > len(body):
            raise WireError("the arrays' sizes do not add up to the bytes sent")
        a = np.frombuffer(body, dtype, count=size // dtype.itemsize, offset=offset).reshape(spec[1])
        arrays.append(a)
        offset += size
    if offset != len(body):
        raise WireError("the arrays' sizes do not add up to the bytes sent")
    return head, arrays


# -- blocking ends (inside the jail) -------------------------------------------------------------
def read_blocking(fd: int) -> tuple[dict[str, Any], list[np.ndarray]] | None:
    """The next message on ``fd``, or None at end of file."""
    first = _read_exact(fd, HEADER.size, None)
    if first is None:
        return None
    n_text, n_body = HEADER.unpack(first)
    text = _read_exact(fd, n_text, None)
    body = _read_exact(fd, n_body, None) if n_body else b""
    if text is None or body is None:
        return None
    return decode(text, body)


def write_blocking(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


# -- ends with a deadline (the trusted side) ----------------------------------------------------
def read(fd: int, deadline: float, max_bytes: int) -> tuple[dict[str, Any], list[np.ndarray]]:
    """The next message on non-blocking ``fd`` before ``deadline`` (``time.monotonic``).

    Raises:
        Timeout, Closed, WireError (too large, or not the format).
    """
    first = _read_exact(fd, HEADER.size, deadline)
    if first is None:
        raise Closed("the jailed process closed its pipe")
    n_text, n_body = HEADER.unpack(first)
    if n_text > MAX_JSON or n_body > max_bytes:
        raise WireError(f"the jailed process sent {n_text + n_body:,} bytes, more than allowed")
    text = _read_exact(fd, n_text, deadline)
    body = _read_exact(fd, n_body, deadline) if n_body else b""
    if text is None or body is None:
        raise Closed("the jailed process closed its pipe mid-message")
    return decode(text, body)


def write(fd: int, data: bytes, deadline: float) -> None:
    """Write all of ``data`` to non-blocking ``fd`` before ``deadline``."""
    view = memoryview(data)
    while view:
        _wait(fd, deadline, write=True)
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            raise Closed("the jailed process closed its pipe") from None


def _wait(fd: int, deadline: float | None, write: bool = False) -> None:
    if deadline is None:
        return
    left = deadline - time.monotonic()
    if left <= 0:
        raise Timeout("no answer in time")
    poller = select.poll()  # not select.select: a busy service may hold fds past 1024
    poller.register(fd, select.POLLOUT if write else select.POLLIN)
    if not poller.poll(left * 1000):
        raise Timeout("no answer in time")


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes | None:
    parts: list[bytes] = []
    left = n
    while left:
        _wait(fd, deadline)
        try:
            part = os.read(fd, min(left, 1 << 20))
        except BlockingIOError:
            continue
        if not part:
            return None
        parts.append(part)
        left -= len(part)
    return b"".join(parts)
