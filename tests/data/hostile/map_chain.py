"""A million nested map() iterators: deallocating or iterating them overflows the C stack."""

from strategies import Strategy


class MapChain(Strategy):
    """Builds a million nested map() iterators and runs them (a segfault in CPython)."""

    def signals(self, bars):
        it = iter([1])
        for _ in range(1_000_000):
            it = map(abs, it)
        return list(it)
