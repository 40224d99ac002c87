"""Was the machine quiet? The load around a benchmark, and verdicts only when it was.

A benchmark's figures mean something only when nothing else wanted the CPU while it
ran. ``python -m bench`` calls ``begin()`` before each benchmark and ``end()`` after;
in between, a benchmark prints ``verdict(ok)`` beside each target instead of a bare
pass/miss. The verdict is withheld ("not judged") when processes outside this
benchmark's own process tree (its Ray workers and other children count as its own)
used more than ``BUSY_SHARE`` of one core since ``begin()``: the machine's CPU time
(``/proc/stat``) less this tree's, not a guess from the load average (which a
benchmark's own threads raise, and which lags by a minute).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

BUSY_SHARE = 0.15
"""Others' CPU time over wall time above which a target is not judged (0.15 = 15 % of one core)."""

_TICK = os.sysconf("SC_CLK_TCK")
_start: dict[str, float] = {}
"""wall, machine and own CPU seconds at ``begin()``."""


def load_average() -> str:
    """The 1, 5 and 15 minute load averages and the core count, as one short string."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def _machine_busy() -> float:
    """CPU seconds every process on the machine has used since boot (all cores, idle excluded)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICK


def _own() -> float:
    """CPU seconds of this process, its reaped children, and its live descendants (Ray's too)."""
    procs: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        procs[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK)
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, list(children.get(os.getpid(), ()))
    while todo:
        pid = todo.pop()
        total += procs[pid][1]
        todo.extend(children.get(pid, ()))
    t = os.times()
    return total + t.user + t.system + t.children_user + t.children_system


def begin(name: str) -> None:
    """Note the time and the CPU use so far; print the load average at the start."""
    _start.update(wall=time.monotonic(), machine=_machine_busy(), own=_own())
    print(f"load average at start of {name}: {load_average()}", flush=True)


def others_share() -> float:
    """Others' CPU seconds since ``begin()`` over the wall time since then (1.0 = one busy core).

    Everything the machine ran minus what this process and its descendants ran. A
    descendant that exited without being reaped by us (a Ray worker) counts as
    another's: the estimate errs towards calling the machine busy.
    """
    if "wall" not in _start:
        return 0.0
    wall = max(time.monotonic() - _start["wall"], 1e-9)
    others = (_machine_busy() - _start["machine"]) - (_own() - _start["own"])
    return max(others, 0.0) / wall


def quiet() -> bool:
    """True when others used at most ``BUSY_SHARE`` of a core since ``begin()``."""
    return others_share() <= BUSY_SHARE


def verdict(ok: bool) -> str:
    """``pass`` or ``MISS`` on a quiet machine; otherwise why the target is not judged."""
    share = others_share()
    if share > BUSY_SHARE:
        return f"not judged: other processes used {share:.0%} of a core meanwhile"
    return "pass" if ok else "MISS"


def end(name: str) -> None:
    """Print the load average at the end and how much of the CPU others took meanwhile."""
    share = others_share()
    state = "quiet" if share <= BUSY_SHARE else "BUSY: targets not judged"
    print(
        f"load average at end of {name}: {load_average()}; other processes used "
        f"{share:.0%} of a core meanwhile ({state})",
        flush=True,
    )
