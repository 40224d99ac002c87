"""Bars own what they validated: nobody can change their prices afterwards."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import engine
from engine._memory import immutable


def frame() -> pd.DataFrame:
    ts = pd.date_range("2024-01-01", periods=4, freq="D")
    p = [1.0, 2.0, 3.0, 4.0]
    return pd.DataFrame({"ts": ts, "open": p, "high": p, "low": p, "close": p})


def test_changing_the_source_frame_leaves_the_bars_as_validated():
    df = frame()
    bars = engine.Bars.from_pandas(df)
    df.loc[0, "close"] = 0.5
    assert bars.close[0] == 1.0


def test_the_callers_arrays_stay_writable_and_separate():
    a = np.array([1.0, 2.0, 3.0])
    bars = engine.Bars.from_numpy(np.arange(3), a, a, a, a)
    a[0] = 9.0  # the caller's own array is still theirs
    assert bars.open[0] == 1.0


def test_bar_arrays_are_read_only_and_cannot_be_resized():
    bars = engine.Bars.from_pandas(frame())
    for arr in (bars.ts, bars.open, bars.high, bars.low, bars.close, bars.volume):
        assert immutable(arr)
        with pytest.raises(ValueError):
            arr[0] = 0
        with pytest.raises(ValueError, match="does not own its data"):
            arr.resize(2, refcheck=False)


def test_arrow_columns_are_shared_not_copied():
    df = frame()
    table = pa.Table.from_pandas(df, preserve_index=False)
    bars = engine.Bars.from_arrow(table)
    close = table.column("close").chunk(0)
    assert np.shares_memory(bars.close, close.to_numpy(zero_copy_only=True))
