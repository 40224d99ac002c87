"""What the strategy routes take and return."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class StrategyPublic(BaseModel):
    """A strategy: its id (what a job's ``strategy`` names), rule, kind, parameters."""

    model_config = ConfigDict(extra="allow")

    id: str
    name: str
    builtin: bool
    doc: str
    kind: str = Field(description="vectorized or bar_by_bar")
    parameters: dict[str, dict[str, Any]] = Field(
        description="each parameter's schema: type, low, high, step, log, default, choices"
    )
    constraints: list[str]
    universe: bool = Field(default=False, description="a universe strategy (trades a panel of symbols)")
    runs_on: str = Field(
        default="series",
        description='"universe": data names symbols or a saved universe; "series": data names one symbol',
    )
    uploaded_at: dt.datetime | None = None


class StrategiesPublic(BaseModel):
    data: list[StrategyPublic]
    count: int


class StrategyCreate(BaseModel):
    """An uploaded strategy: Python source defining one ``Strategy`` subclass."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, description="the module's source code (see strategies.loader)")
