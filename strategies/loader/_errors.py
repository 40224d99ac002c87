"""``StrategyCodeError``: strategy source the loader refuses, with every reason and where."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Iterable

from engine.errors import EngineError

FILENAME = "<strategy>"
"""The file name strategy code compiles under (tracebacks and messages show it)."""

SHOWN_PROBLEMS = 10
"""At most this many problems are spelled out in an error's message (all are in ``problems``)."""


@dataclass(frozen=True, order=True)
class Problem:
    """One reason to refuse a source: where (1-based line and column, 0 when not known), what, why."""

    line: int
    col: int
    what: str
    why: str

    def __str__(self) -> str:
        if self.line <= 0:
            return f"{self.what}: {self.why}"
        where = f"line {self.line}:{self.col}" if self.col > 0 else f"line {self.line}"
        return f"{where}: {self.what}: {self.why}"


class StrategyCodeError(EngineError, ValueError):
    """Uploaded strategy source that was refused: unsafe, malformed, or not one Strategy.

    Attributes:
        problems: every ``Problem`` found, in source order.
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(sorted(problems))
        shown = "; ".join(str(p) for p in self.problems[:SHOWN_PROBLEMS])
        more = len(self.problems) - SHOWN_PROBLEMS
        tail = f"; and {more} more" if more > 0 else ""
        super().__init__(f"strategy code refused: {shown}{tail}")

    @classmethod
    def at(cls, line: int, col: int, what: str, why: str) -> StrategyCodeError:
        """An error for a single problem."""
        return cls([Problem(line, col, what, why)])


def refusal(what: str, why: str) -> StrategyCodeError:
    """An error for something the strategy tried as it ran, at the line of its code that tried."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename != FILENAME:
        frame = frame.f_back  # type: ignore[assignment]
    return StrategyCodeError([Problem(frame.f_lineno if frame is not None else 0, 0, what, why)])
