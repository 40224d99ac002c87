"""Writes outside its scratch dir: /, the code's own folder, HOME, /var/tmp."""

import os

import strategies
from strategies import Strategy


class WriteRoot(Strategy):
    """Tries to leave files where it should not."""

    def signals(self, bars):
        places = [
            "/",
            os.path.dirname(os.path.dirname(strategies.__file__)),
            os.path.expanduser("~"),
            "/var/tmp",
            "/work",
            "/root",
        ]
        written = []
        for place in places:
            path = os.path.join(place, "anvil-hostile-write_root")
            try:
                with open(path, "w") as f:
                    f.write("pwned")
                written.append(path)
            except OSError:
                pass
        raise RuntimeError("FOUND: wrote " + repr(written) if written else "wrote nothing")
