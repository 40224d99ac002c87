"""The C core's two copies of the bar loop give the same bits.

On x86-64 the core holds each bar loop twice: the plain one, and one compiled for AVX2
whose held-position loop goes four bars a step (csrc/metrics.h). Which runs is chosen
when the library loads (``ANVIL_CORE_NARROW=1`` asks for the plain one). A process of
each kind computes the same backtests and batches here; every stat, equity value and
trade must be equal to the bit.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine import _bindings

REPO = Path(__file__).resolve().parents[2]

# Runs in both processes: writes every array it computes to the .npz file it is given.
WORKLOADS = r"""
import sys
import numpy as np
import engine
from engine import _bindings, synthetic

def sma(close, w):
    sums = np.concatenate(([0.0], np.cumsum(close)))
    out = np.full(len(close), np.nan)
    out[w - 1:] = (sums[w:] - sums[:-w]) / w
    return out

minute = synthetic.bars(30_000, seed=7, timeframe="1m")
wild = synthetic.bars(3_000, seed=11, timeframe="1d", volatility=0.9)  # leveraged books wiped out
rng = np.random.default_rng(3)
out = {"wide": np.array([_bindings.core_wide()])}
for name, bars in (("minute", minute), ("wild", wild)):
    close = bars.close
    for fast, slow in ((2, 60), (5, 20), (10, 30), (30, 200)):
        cross = (sma(close, fast) > sma(close, slow)).astype(np.int8)
        for short in (False, True):
            sig = (2 * cross - 1).astype(np.int8) if short else cross
            for fill in ("close", "next_open"):
                cfg = engine.Config(fee_rate=0.001, slippage_bps=2.0, fill=fill, allow_short=short)
                res = engine.backtest(bars, sig, cfg)
                key = f"{name}-{fast}-{slow}-{short}-{fill}"
                out[key + "-stats"] = np.array([res.stats[k] for k in engine.METRICS])
                out[key + "-equity"] = res.equity.to_numpy()
                out[key + "-trades"] = res.trades.select_dtypes("number").to_numpy(dtype=float)
    for lev in (1.0, 3.0):
        f = rng.normal(0.0, lev, len(bars))
        f[rng.random(len(bars)) < 0.95] = np.nan  # held for ~20 bars between changes
        cfg = engine.Config(fee_rate=0.0005, allow_short=True, max_leverage=lev)
        res = engine.backtest(bars, f, cfg)
        out[f"{name}-float-{lev}-equity"] = res.equity.to_numpy()
        out[f"{name}-float-{lev}-trades"] = res.trades.select_dtypes("number").to_numpy(dtype=float)
        out[f"{name}-float-{lev}-margin"] = np.array([(res.trades["exit_reason"] == "margin").sum()])
    sigs = np.array([(2 * (sma(close, a) > sma(close, b)) - 1) for a, b in ((3, 40), (8, 21), (20, 50))], np.int8)
    table = engine.run_batch(bars, sigs, engine.Config(allow_short=True, fee_rate=0.001), threads=1)
    out[f"{name}-batch"] = table.select_dtypes("number").to_numpy(dtype=float)
np.savez(sys.argv[1], **out)
"""


def _compute(tmp_path: Path, narrow: bool) -> dict[str, np.ndarray]:
    script, target = tmp_path / "workloads.py", tmp_path / f"{'narrow' if narrow else 'default'}.npz"
    script.write_text(WORKLOADS)
    env = {k: v for k, v in os.environ.items() if k != "ANVIL_CORE_NARROW"}
    if narrow:
        env["ANVIL_CORE_NARROW"] = "1"
    env["PYTHONPATH"] = str(REPO)
    subprocess.run([sys.executable, str(script), str(target)], env=env, check=True, cwd=REPO, timeout=300)
    with np.load(target) as data:
        return {k: data[k] for k in data.files}


def _has_avx2() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return platform.machine() in ("x86_64", "AMD64") and " avx2" in flags


@pytest.mark.skipif(
    not _has_avx2(),
    reason="CORE COPIES NOT COMPARED: this CPU has no AVX2 (or is not x86-64), so the core runs one copy",
)
def test_the_avx2_copy_and_the_plain_copy_give_the_same_bits(tmp_path: Path) -> None:
    wide, narrow = _compute(tmp_path, narrow=False), _compute(tmp_path, narrow=True)
    assert wide.pop("wide").tolist() == [True]  # the copies compared are not the same one
    assert narrow.pop("wide").tolist() == [False]
    assert wide.keys() == narrow.keys() and len(wide) > 60
    differ = [k for k in wide if wide[k].tobytes() != narrow[k].tobytes()]
    assert differ == []
    # the workloads reached what the wide loop does: stretches of holding, new peaks,
    # and wipe-outs found while holding
    assert sum(int(v[0]) for k, v in wide.items() if k.endswith("-margin")) > 0


def test_this_process_runs_the_copy_the_cpu_allows() -> None:
    assert _bindings.core_wide() == (_has_avx2() and os.environ.get("ANVIL_CORE_NARROW", "0") in ("", "0"))
