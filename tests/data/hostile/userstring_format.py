"""A format template on a str subclass that walks to os.environ."""

import collections
import typing

from strategies import Strategy


class U(collections.UserString):
    pass


class EnvThroughFormat(Strategy):
    """Reads the service's environment through a format template."""

    def signals(self, bars):
        found = U("{0.__globals__[sys].modules[os].environ}").format(typing.cast)
        raise RuntimeError("FOUND: " + str(found))
