"""tests/csrc/same_bits.c, the driver behind `make same-bits REF=<commit>`.

The make target compares the core's outputs with another commit's, for speed work that
must not change a result; here the driver is built against the working tree and run as
it is there: its 256 runs (64 configurations x 4 signals) give the same bits in both
copies of the bar loop, and every batch's statistics are those of the same run's
backtest. A line per run names the configuration, so a failure says which run differs.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DRIVER = ROOT / "tests" / "csrc" / "same_bits.c"


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    exe = tmp_path_factory.mktemp("same_bits") / "same_bits"
    sources = sorted(str(p) for p in (ROOT / "csrc").glob("*.c"))
    cc = os.environ.get("CC", "cc")
    subprocess.run(
        [cc, "-std=c11", "-O3", f"-I{ROOT / 'csrc'}", "-o", str(exe), str(DRIVER), *sources, "-lm"],
        check=True,
        capture_output=True,
    )
    return exe


def run(driver: Path, narrow: bool) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "ANVIL_CORE_NARROW"}
    if narrow:
        env["ANVIL_CORE_NARROW"] = "1"
    out = subprocess.run([str(driver)], env=env, check=True, capture_output=True, text=True, timeout=300)
    return out.stdout.splitlines()


def test_both_copies_of_the_bar_loop_give_the_same_bits_in_every_run(driver: Path) -> None:
    wide, narrow = run(driver, narrow=False), run(driver, narrow=True)
    assert len(wide) == 256
    differ = [f"{a}\n  plain copy: {b}" for a, b in zip(wide, narrow) if a != b]
    assert not differ, "\n".join(differ[:5])


def test_every_batch_gives_the_statistics_of_its_backtest(driver: Path) -> None:
    lines = run(driver, narrow=False)
    assert all(re.search(r"\| batch rc 0 stats the same$", line) for line in lines), [
        line for line in lines if "the same" not in line
    ][:5]


def test_the_runs_trade_and_fire_the_rules(driver: Path) -> None:
    """The set is worth comparing: every run succeeds, the flips trade thousands of times,
    and the runs with a drawdown halt, a daily loss limit, a cool-down or max weight
    record risk events."""
    lines = run(driver, narrow=False)
    parsed = [re.match(r"config\s+(\d+) (\w+)\s+rc (-?\d+) trades\s+(\d+) events\s+(\d+)", line) for line in lines]
    assert all(p is not None and p.group(3) == "0" for p in parsed)
    assert max(int(p.group(4)) for p in parsed if p.group(2) == "flips") > 1000
    assert sum(int(p.group(5)) > 0 for p in parsed) >= 20


def test_make_same_bits_compares_with_a_commit() -> None:
    makefile = (ROOT / "Makefile").read_text()
    rule = makefile.split("\nsame-bits:", 1)[1].split("\n\n", 1)[0]
    assert "git archive $(REF) csrc" in rule and "tests/csrc/same_bits.c" in rule
    assert "ANVIL_CORE_NARROW=1" in rule and "diff" in rule
