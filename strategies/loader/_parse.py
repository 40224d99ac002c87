"""Read strategy source into a syntax tree, within size limits, without running it."""

from __future__ import annotations

import ast

from strategies.loader._errors import FILENAME, Problem, StrategyCodeError
from strategies.loader._limits import MAX_AST_DEPTH, MAX_AST_NODES, MAX_SOURCE_BYTES


def _refuse(what: str, why: str, line: int = 0, col: int = 0) -> StrategyCodeError:
    return StrategyCodeError([Problem(line, col, what, why)])


def as_text(source: object) -> str:
    """The source as text: a str, or UTF-8 bytes."""
    if isinstance(source, bytes):
        try:
            return source.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            why = f"is not UTF-8 text ({exc.reason} at byte {exc.start})"
            raise _refuse("the source", why) from None
    if not isinstance(source, str):
        raise _refuse("the source", f"must be text (a str), not {type(source).__name__}")
    return source


def parse(source: object) -> ast.Module:
    """The syntax tree of ``source``, checked for size, or StrategyCodeError saying why not.

    Raises:
        StrategyCodeError: the source is not text, too long, not valid Python, or
            its tree is deeper or larger than the limits in ``_limits``.
    """
    text = as_text(source)
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        why = "holds unpaired surrogate characters; send valid UTF-8 text"
        raise _refuse("the source", why) from None
    if size > MAX_SOURCE_BYTES:
        raise _refuse("the source", f"is {size:,} bytes; the limit is {MAX_SOURCE_BYTES:,}")
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise _refuse("a NUL character", "source code cannot contain NUL characters", line)
    try:
        tree = ast.parse(text, filename=FILENAME, mode="exec")
    except SyntaxError as exc:
        raise _refuse("syntax error", exc.msg, exc.lineno or 0, exc.offset or 0) from None
    except (MemoryError, RecursionError, ValueError, OverflowError) as exc:
        raise _refuse("the source", f"is too complex for Python's parser ({type(exc).__name__}); simplify it") from None
    check_shape(tree)
    return tree


def check_shape(tree: ast.AST) -> None:
    """Raise StrategyCodeError if ``tree`` is deeper than MAX_AST_DEPTH or larger than MAX_AST_NODES."""
    count = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_AST_NODES:
            why = f"has more than {MAX_AST_NODES:,} syntax nodes; split or simplify it"
            raise _refuse("the source", why)
        if depth > MAX_AST_DEPTH:
            line, col = getattr(node, "lineno", 0), getattr(node, "col_offset", -1) + 1
            raise _refuse("an expression", f"nests deeper than {MAX_AST_DEPTH} levels; simplify it", line, col)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
