"""A sweep's digest is written once, on ``cluster.SweepResult.summary``: an in-memory
sweep gives what ``api.specs.summary`` gives (stored sweeps answer through the same
method from queries), so ``specs.summary`` can hand sweeps to it."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from api import specs
from cluster.sweep_result import StoredSweepResult, SweepResult


def _sweep(sharpes: list[float], diagnostics: dict | None = None) -> SweepResult:
    table = pd.DataFrame(
        {
            "symbol": "SPX",
            "fast": list(range(len(sharpes))),
            "sharpe": sharpes,
            "error": [None if not math.isnan(s) else "no trades" for s in sharpes],
        }
    )
    return SweepResult(table, "sharpe", True, ("fast",), diagnostics=diagnostics or {})


@pytest.mark.parametrize(
    "result",
    [
        _sweep([0.5, 1.5, 1.0]),
        _sweep([float("nan"), float("nan")]),
        _sweep([0.2, 0.9], {"deflated_sharpe": {"dsr": 0.42, "trials": 2}}),
    ],
    ids=["best", "no-best", "deflated-sharpe"],
)
def test_an_in_memory_sweep_summarises_as_the_spec_summary_does(result: SweepResult) -> None:
    assert result.summary() == specs.summary(result)


def test_the_stored_sweep_uses_the_one_summary() -> None:
    assert StoredSweepResult.summary is SweepResult.summary
    assert _sweep([0.5, 1.5]).summary() == {"runs": 2, "best": {"symbol": "SPX", "fast": 1, "sharpe": 1.5}}
