"""Opens a socket to 127.0.0.1 (the test listens on HOSTILE_PORT there)."""

import socket

from strategies import Strategy

HOSTILE_PORT = 47613


class Phone(Strategy):
    """Connects to the service's machine over loopback."""

    def signals(self, bars):
        s = socket.create_connection(("127.0.0.1", HOSTILE_PORT), timeout=2)
        s.sendall(b"anvil-hostile-socket")
        raise RuntimeError("FOUND: connected to 127.0.0.1")
