"""The store benchmark: loading bars from DuckDB into ``engine.Bars`` next to pandas.

One seeded synthetic series of one-minute bars (1,000,000; ``--quick``: 100,000), in
two forms: prices at full float precision (the worst case for DuckDB's compression)
and prices on a 0.01 grid, as real quotes are. Each is written to CSV and Parquet in a
temporary folder, then:

- imported into a fresh store from Parquet and from CSV (seconds, once each);
- loaded whole from the store into ``engine.Bars`` (``Store.bars``), against
  ``pandas.read_csv`` of the same CSV (times parsed), and against
  ``pandas.read_parquet`` + ``Bars.from_pandas`` as a second, stronger peer;
- a one-year range query, and resampling 1m -> 1h inside DuckDB.

Figures are the best and the median of several repeats after a warm-up. Targets
(issue 4) are printed beside the figures.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from bench._machine import verdict
import engine
from engine import synthetic
from engine.store import Store

SEED = 20_240_604
TARGET_LOAD_MS = 50.0  # "at most a few tens of milliseconds" for 1,000,000 bars
TARGET_RATIO = 10.0  # at least 10x faster than pandas.read_csv
TARGET_IMPORT_S = 10.0  # "seconds, not minutes"


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(best, median) wall seconds of ``fn`` over ``repeats`` runs after one warm-up."""
    fn()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return min(runs), statistics.median(runs)


def once(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(folder: Path, label: str, n: int, tick: float | None, repeats: int) -> dict[str, object]:
    """Write, import and load one form of the series; every figure in seconds."""
    table = synthetic.table(n, seed=SEED, timeframe="1m", symbol="SYN", tick=tick)
    csv, parquet = folder / f"{label}.csv", folder / f"{label}.parquet"
    pacsv.write_csv(table, csv)
    pq.write_table(table, parquet)
    out: dict[str, object] = {"csv_mb": csv.stat().st_size / 1e6, "parquet_mb": parquet.stat().st_size / 1e6}
    with Store(folder / f"{label}-pq.duckdb", sample=False) as store:
        out["import_parquet"] = once(lambda: store.import_bars(parquet, timeframe="1m"))
    with Store(folder / f"{label}.duckdb", sample=False) as store:
        out["import_csv"] = once(lambda: store.import_bars(csv, timeframe="1m"))
        out["load"] = timed(lambda: store.bars("SYN", "1m"), repeats)
        year_end = pd.Timestamp(table.column("ts")[0].as_py()) + pd.Timedelta(days=365)
        out["ranged"] = timed(lambda: store.bars("SYN", "1m", end=year_end), repeats)
        out["hourly"] = timed(lambda: store.bars("SYN", "1h"), repeats)
    out["read_csv"] = timed(lambda: pd.read_csv(csv, parse_dates=["ts"]), max(3, repeats // 3))
    out["read_parquet"] = timed(lambda: engine.Bars.from_pandas(pd.read_parquet(parquet)), repeats)
    return out


def ms(pair: object) -> str:
    best, med = pair  # type: ignore[misc]
    return f"{best * 1e3:>9.1f}ms {med * 1e3:>7.1f}ms"


def main(quick: bool) -> None:
    n = 100_000 if quick else 1_000_000
    repeats = 5 if quick else 10
    forms = (("full precision", "full", None), ("0.01 tick grid", "tick", 0.01))
    with tempfile.TemporaryDirectory(prefix="anvil-bench-") as tmp:
        results = {name: measure(Path(tmp), label, n, tick, repeats) for name, label, tick in forms}
    print(f"{n:,} one-minute bars of one symbol (engine.synthetic, seed {SEED})")
    print(
        f"{'prices':<15} {'operation':<36} {'anvil best':>11} {'median':>9} "
        f"{'peer best':>11} {'median':>9} {'ratio':>6}"
    )
    for name, r in results.items():
        load = r["load"]
        for peer in ("read_csv", "read_parquet"):
            label = "load -> Bars vs pandas.read_csv" if peer == "read_csv" else "load -> Bars vs read_parquet+Bars"
            ratio = r[peer][0] / load[0]  # type: ignore[index]
            print(f"{name:<15} {label:<36} {ms(load)} {ms(r[peer])} {ratio:>5.1f}x")
        print(f"{name:<15} {'one year of bars (range query)':<36} {ms(r['ranged'])}")
        print(f"{name:<15} {'resample 1m -> 1h in DuckDB -> Bars':<36} {ms(r['hourly'])}")
        print(
            f"{name:<15} {'import Parquet, fresh store':<36} {r['import_parquet']:>10.2f}s   ({r['parquet_mb']:.0f} MB)"
        )
        print(f"{name:<15} {'import CSV, fresh store':<36} {r['import_csv']:>10.2f}s   ({r['csv_mb']:.0f} MB)")
    full = results["full precision"]
    load_ms = full["load"][0] * 1e3  # type: ignore[index]
    ratio = full["read_csv"][0] / full["load"][0]  # type: ignore[index]
    scaled_import = full["import_parquet"] * 1_000_000 / n  # type: ignore[operator]
    if quick:
        print("\ntargets (issue 4) are for 1,000,000 bars: run without --quick to check them")
        return
    print(
        f"\ntargets (issue 4, 1,000,000 bars, full precision): load <= {TARGET_LOAD_MS:.0f} ms "
        f"[{verdict(load_ms <= TARGET_LOAD_MS)}], "
        f">= {TARGET_RATIO:.0f}x pandas.read_csv [{verdict(ratio >= TARGET_RATIO)}: {ratio:.0f}x], "
        f"Parquet import <= {TARGET_IMPORT_S:.0f} s [{verdict(scaled_import <= TARGET_IMPORT_S)}]"
    )
