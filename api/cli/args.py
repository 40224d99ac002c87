"""Command-line words turned into the JSON job spec of ``api.specs``.

Spaces: ``fast=5:50`` (a grid from 5 to 50 by 1, both ends included),
``slow=20:200:5`` (by 5), ``band=0.5,1,2`` (these values), ``w=0.1~0.9`` (a
continuous range, for random and Optuna search; ``w=0.001~0.1:log`` samples it
on a log scale), ``fast=10`` (one value). Parameters: ``fast=10``. Values read
as numbers, ``true``/``false``, or else text.

Nothing here imports the engine at import time, so the HTTP client commands stay quick.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from api.cli.errors import UsageError

VARIADIC = ("--space", "--param", "-p")
"""Options that take several ``NAME=VALUE`` words after one flag."""

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def expand_variadic(argv: Sequence[str], options: Iterable[str] = VARIADIC) -> list[str]:
    """Let ``--space a=1:5 b=2,3`` mean ``--space a=1:5 --space b=2,3``.

    Words after a variadic option's value that are not options themselves and hold
    an ``=`` get the option put back in front of them.
    """
    options = tuple(options)
    out: list[str] = []
    current: str | None = None
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            out.extend(argv[i:])
            break
        if word in options:
            current = word
            out.append(word)
            if i + 1 < len(argv):
                out.append(argv[i + 1])
                i += 2
                continue
        elif any(word.startswith(o + "=") for o in options):
            current = word.split("=", 1)[0]
            out.append(word)
        elif current is not None and not word.startswith("-") and "=" in word:
            out.extend([current, word])
        else:
            current = None
            out.append(word)
        i += 1
    return out


def value(text: str) -> Any:
    """A word as a number, a bool, or text: ``"10"`` -> 10, ``"0.5"`` -> 0.5, ``"true"`` -> True."""
    t = text.strip()
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    if _NUMBER.match(t):
        number = float(t)
        if re.match(r"^[+-]?\d+$", t):
            return int(t)
        return number
    if t.lower() in ("inf", "+inf", "-inf", "nan"):
        raise UsageError(f"{text!r} is not a usable value")
    return t


def _number(text: str, where: str) -> float | int:
    v = value(text)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise UsageError(f"{where}: {text!r} is not a number")
    return v


def split_assignment(word: str, option: str) -> tuple[str, str]:
    """``"fast=10"`` -> ``("fast", "10")``, or a usage error naming the option."""
    name, eq, rest = word.partition("=")
    name = name.strip()
    if not eq or not _NAME.match(name) or not rest.strip():
        raise UsageError(f"{option} {word!r}: write NAME=VALUE, e.g. {option} fast=10")
    return name, rest.strip()


def space_entry(name: str, text: str) -> Any:
    """One parameter's space in JSON form (see the module docstring)."""
    where = f"--space {name}"
    if "~" in text:
        body, _, flag = text.partition(":")
        if flag and flag != "log":
            raise UsageError(f"{where}={text}: a range is LOW~HIGH or LOW~HIGH:log")
        low, sep, high = body.partition("~")
        if not low or not high:
            raise UsageError(f"{where}={text}: a range is LOW~HIGH, e.g. {name}=0.1~0.9")
        entry: dict[str, Any] = {"low": _number(low, where), "high": _number(high, where)}
        if flag:
            entry["log"] = True
        return _ordered(entry, where)
    if ":" in text:
        parts = text.split(":")
        if len(parts) not in (2, 3) or not all(parts):
            raise UsageError(f"{where}={text}: a grid is LOW:HIGH or LOW:HIGH:STEP, e.g. {name}=5:50:5")
        entry = {"low": _number(parts[0], where), "high": _number(parts[1], where)}
        entry["step"] = _number(parts[2], where) if len(parts) == 3 else 1
        if entry["step"] <= 0:
            raise UsageError(f"{where}={text}: the step must be above 0")
        return _ordered(entry, where)
    items = [p for p in text.split(",")]
    if any(not p.strip() for p in items):
        raise UsageError(f"{where}={text}: a list is comma-separated values, e.g. {name}=0.5,1,2")
    return [value(p) for p in items]


def _ordered(entry: dict[str, Any], where: str) -> dict[str, Any]:
    if entry["low"] > entry["high"]:
        raise UsageError(f"{where}: low {entry['low']} is above high {entry['high']}")
    return entry


def _assignments(words: Sequence[str], flag: str, read: Callable[[str, str], Any]) -> dict[str, Any]:
    """``NAME=TEXT`` words of ``flag`` -> ``{name: read(name, text)}``; a name given twice is refused."""
    out: dict[str, Any] = {}
    for word in words:
        name, text = split_assignment(word, flag)
        if name in out:
            raise UsageError(f"{flag} names {name!r} twice")
        out[name] = read(name, text)
    return out


def space(words: Sequence[str]) -> dict[str, Any]:
    """``["fast=5:50", "band=0.5,1"]`` -> the JSON space of ``api.specs``."""
    return _assignments(words, "--space", space_entry)


def params(words: Sequence[str]) -> dict[str, Any]:
    """``["fast=10", "short=true"]`` -> ``{"fast": 10, "short": True}``."""
    return _assignments(words, "--param", lambda name, text: value(text))


def json_arg(text: str, option: str) -> Any:
    """A JSON value given inline, or the path of a JSON file (``-`` reads stdin)."""
    src = text
    if text == "-":
        import sys

        src = sys.stdin.read()
    elif not text.lstrip().startswith(("{", "[")):
        path = Path(text).expanduser()
        if not path.is_file():
            raise UsageError(f"{option} {text!r} is neither JSON nor a file")
        src = path.read_text()
    try:
        return json.loads(src)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{option}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None


def config(given: dict[str, Any], base: str | None = None) -> dict[str, Any]:
    """The spec's ``config``: ``--config`` JSON first, then each ``--fee-rate``-style option."""
    out: dict[str, Any] = {}
    if base:
        loaded = json_arg(base, "--config")
        if not isinstance(loaded, dict):
            raise UsageError("--config must be a JSON object, e.g. '{\"fee_rate\": 0.001}'")
        out.update(loaded)
    out.update({k: v for k, v in given.items() if v is not None})
    return out


def data(symbols: Sequence[str], timeframe: str, start: str | None, end: str | None) -> list[dict[str, Any]]:
    """One ``data`` entry per symbol."""
    if not symbols:
        raise UsageError(
            "give --symbol (e.g. --symbol SPX), or --symbols A,B,C for a universe; "
            "`anvil data list` shows what is stored"
        )
    out = []
    for symbol in symbols:
        entry: dict[str, Any] = {"symbol": symbol, "timeframe": timeframe}
        if start:
            entry["start"] = start
        if end:
            entry["end"] = end
        out.append(entry)
    return out


def universe(symbols: str, timeframe: str | None, start: str | None, end: str | None) -> dict[str, Any]:
    """The ``data`` of a universe job from ``--symbols A,B,C``."""
    names = [s.strip() for s in symbols.split(",") if s.strip()]
    if not names:
        raise UsageError("--symbols takes stored symbols separated by commas, e.g. --symbols AAPL,MSFT,IBM")
    twice = sorted({s for s in names if names.count(s) > 1})
    if twice:
        raise UsageError(f"--symbols names {', '.join(twice)} twice; name each symbol once")
    return _with_window({"symbols": names}, timeframe, start, end)


def _with_window(entry: dict[str, Any], timeframe: str | None, start: str | None, end: str | None) -> dict[str, Any]:
    """``entry`` with the timeframe and dates that were given."""
    for key, value in (("timeframe", timeframe), ("start", start), ("end", end)):
        if value:
            entry[key] = value
    return entry


def named_universe(name: str, timeframe: str | None, start: str | None, end: str | None) -> dict[str, Any]:
    """The ``data`` of a universe job from ``--universe NAME`` (a universe saved in the store)."""
    if not name.strip():
        raise UsageError("--universe takes the name of a saved universe; `anvil data universe list` shows them")
    return _with_window({"universe": name.strip()}, timeframe, start, end)


def span(text: str | None) -> int | str | None:
    """A walk-forward length: bars (``500``) or a duration (``365D``)."""
    if text is None:
        return None
    t = text.strip()
    return int(t) if t.isdigit() else t


def one_series(entries: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    if len(entries) != 1:
        raise UsageError(f"{kind} runs on one symbol; give --symbol once (a sweep takes several)")
    return entries[0]


def job_spec(kind: str, o: dict[str, Any]) -> dict[str, Any]:
    """The JSON job spec of ``kind`` from parsed command-line options ``o``.

    ``o`` holds the options of ``api.cli.options`` by their Python names.
    """
    if o.get("universe"):
        if o.get("symbols") or o.get("symbol"):
            given = "--symbols" if o.get("symbols") else "--symbol"
            raise UsageError(f"give either --universe (a saved universe) or {given}, not both")
        datas = [named_universe(o["universe"], o["timeframe"], o["start"], o["end"])]
    elif o.get("symbols"):
        if o.get("symbol"):
            raise UsageError("give either --symbol (one series each) or --symbols (one universe), not both")
        datas = [universe(o["symbols"], o["timeframe"], o["start"], o["end"])]
    else:
        datas = data(o["symbol"], o["timeframe"], o["start"], o["end"])
    spec: dict[str, Any] = {"kind": kind, "strategy": o["strategy"]}
    from engine.config import FIELDS  # parsing the options made them from it: already imported

    cfg = config({f.name: o.get(f.name) for f in FIELDS}, o.get("config"))
    if cfg:
        spec["config"] = cfg
    if o.get("seed") is not None:
        spec["seed"] = o["seed"]
    if kind == "backtest":
        spec["params"] = params(o["param"])
        spec["data"] = one_series(datas, "a backtest")
    elif kind == "sweep":
        spec["space"] = space(o["space"])
        spec["data"] = datas[0] if len(datas) == 1 else datas
        spec.update(method=o["method"], metric=o["metric"], n_trials=o["trials"])
        if o.get("metrics"):
            spec["metrics"] = [m.strip() for m in o["metrics"].split(",") if m.strip()]
    elif kind == "walk_forward":
        spec["space"] = space(o["space"])
        spec["data"] = one_series(datas, "a walk-forward")
        spec.update(
            train=span(o["train"]),
            test=span(o["test"]),
            anchored=o["anchored"],
            embargo=o["embargo"],
            method=o["method"],
            metric=o["metric"],
            n_trials=o["trials"],
        )
        if o.get("step") is not None:
            spec["step"] = span(o["step"])
    elif kind == "monte_carlo":
        spec["params"] = params(o["param"])
        spec["data"] = one_series(datas, "a Monte Carlo run")
        spec.update(
            n=o["paths"],
            method=o["method"],
            metric=o["metric"],
            of=o["of"],
            block=o["block"],
            confidence=o["confidence"],
        )
    else:  # pragma: no cover - the commands only pass the four kinds
        raise ValueError(f"unknown job kind {kind!r}")
    return spec
