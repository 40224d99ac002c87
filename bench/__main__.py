"""``make bench`` / ``python -m bench [name ...] [--quick]``: run the benchmarks.

Each ``bench/bench_<name>.py`` exposes ``main(quick: bool) -> None`` and prints its
own table. ``--quick`` scales sizes down (for a smoke run, not for quoting). Each
benchmark is framed by the load average at its start and end, and judges its targets
only when nothing else used the CPU meanwhile (``bench/_machine.py``).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
import time

import bench
from bench import _machine


def main() -> None:
    names = sorted(m.name[len("bench_") :] for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_"))
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names",
        nargs="*",
        choices=names + [[]],
        metavar="name",
        help=f"which benchmarks (default: all of {', '.join(names)})",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--runs",
        type=int,
        default=None,
        metavar="N",
        help="bench million: runs in the sweep (default: 10,000 then 100,000)",
    )
    args = parser.parse_args()
    for name in args.names or names:
        print(f"\n=== bench {name} ===", flush=True)
        module = importlib.import_module(f"bench.bench_{name}")
        _machine.begin(name)
        start = time.perf_counter()
        options = {"runs": args.runs} if args.runs and "runs" in inspect.signature(module.main).parameters else {}
        module.main(quick=args.quick, **options)
        print(f"(bench {name}: {time.perf_counter() - start:.1f} s)", flush=True)
        _machine.end(name)


if __name__ == "__main__":
    main()
