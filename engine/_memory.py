"""Whether an array's memory can change under us: the test for sharing instead of copying."""

from __future__ import annotations

from typing import Any

import numpy as np


def immutable(a: np.ndarray) -> bool:
    """True when nothing can write to ``a``'s memory: it and every array it views
    are read-only, and the object at the bottom, if any, is Arrow data (immutable)
    or exports read-only memory."""
    base: Any = a
    while isinstance(base, np.ndarray):
        if base.flags.writeable:
            return False
        if base.base is None:
            return True
        base = base.base
    if type(base).__module__ == "pyarrow.lib":
        return not getattr(base, "is_mutable", False)  # arrays, chunked arrays, buffers
    try:
        with memoryview(base) as view:
            return view.readonly
    except TypeError:
        return False
