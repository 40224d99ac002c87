"""How big a strategy's source may be, checked before anything is compiled."""

MAX_SOURCE_BYTES = 100_000
"""Longest source accepted, in UTF-8 bytes."""

MAX_AST_NODES = 25_000
"""Most syntax-tree nodes accepted (a 100 kB strategy holds far fewer)."""

MAX_AST_DEPTH = 100
"""Deepest nesting of the syntax tree accepted (Python's compiler recurses on it)."""

MAX_INT_BITS = 1024
"""Largest integer a literal or a constant expression may hold, in bits."""

MAX_CONSTANT_LENGTH = 100_000
"""Longest string, bytes or tuple a constant expression may build (``"a" * n``)."""
