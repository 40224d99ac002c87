"""Turn what a job names as its data into bars by symbol, and fingerprint them."""

from __future__ import annotations

import hashlib
from typing import Any, Mapping

import engine


def _query(q: Mapping[str, Any]) -> engine.Bars:
    unknown = set(q) - {"symbol", "timeframe", "start", "end"}
    if unknown or "symbol" not in q:
        raise ValueError(
            f"a data query is {{'symbol': ..., 'timeframe': '1d', 'start': ..., 'end': ...}}; got keys {sorted(q)}"
        )
    return engine.load(q["symbol"], q.get("timeframe"), start=q.get("start"), end=q.get("end"))


def resolve(data: Any) -> dict[str, engine.Bars]:
    """Bars by symbol from: Bars; a symbol name (the default store, daily bars); a
    query dict ``{"symbol", "timeframe", "start", "end"}``; a mapping symbol -> Bars;
    or a list of any of these (several symbols)."""
    if isinstance(data, engine.Bars):
        return {data.symbol or "data": data}
    if isinstance(data, str):
        return {data: _query({"symbol": data})}
    if isinstance(data, Mapping):
        if "symbol" in data and not isinstance(data.get("symbol"), engine.Bars):
            bars = _query(data)
            return {str(data["symbol"]): bars}
        out = {}
        for name, bars in data.items():
            if not isinstance(bars, engine.Bars):
                raise TypeError(f"data[{name!r}] must be engine.Bars, not {type(bars).__name__}")
            out[str(name)] = bars
        return out
    if isinstance(data, (list, tuple)):
        out = {}
        for i, item in enumerate(data):
            for name, bars in resolve(item).items():
                key = name if name not in out else f"{name}#{i}"
                out[key] = bars
        if not out:
            raise ValueError("data is an empty list; give at least one symbol")
        return out
    raise TypeError(
        f"data must be engine.Bars, a symbol, a store query dict, or a list of them; not {type(data).__name__}"
    )


def fingerprint(bars_by_symbol: Mapping[str, engine.Bars]) -> str:
    """A short hash of the bars' symbols, times and prices: same data, same hash."""
    h = hashlib.sha256()
    for name in sorted(bars_by_symbol):
        b = bars_by_symbol[name]
        h.update(name.encode())
        for arr in (b.ts, b.open, b.high, b.low, b.close, b.volume):
            h.update(arr.tobytes())
    return h.hexdigest()[:16]


def is_universe(strategy: Any, data: Any) -> bool:
    """Whether a job runs ``strategy`` on one portfolio of many symbols: its data is an
    ``engine.Panel`` (or ``{"symbols": [...]}``), or the strategy is a universe strategy
    (``is_universe()``), whose symbols then make one panel. Otherwise each symbol is
    its own series, as before."""
    if isinstance(data, engine.Panel):
        return True
    if isinstance(data, Mapping) and "symbols" in data:
        return True
    check = getattr(strategy, "is_universe", None)
    return bool(callable(check) and check())


def resolve_panel(data: Any) -> engine.Panel:
    """One panel from: an ``engine.Panel``; a list of symbols (the default store, daily
    bars, through ``engine.load_panel``); a query ``{"symbols": [...], "timeframe",
    "start", "end", "adjusted"}``; a mapping symbol -> Bars; or a list of Bars."""
    if isinstance(data, engine.Panel):
        return data
    if isinstance(data, Mapping) and "symbols" in data:
        unknown = set(data) - {"symbols", "timeframe", "start", "end", "adjusted"}
        if unknown:
            raise ValueError(
                "a universe query is {'symbols': [...], 'timeframe': '1d', 'start': ..., 'end': ..., "
                f"'adjusted': False}}; got unknown keys {sorted(unknown)}"
            )
        return engine.load_panel(
            _symbols(data["symbols"]),
            data.get("timeframe") or "1d",
            data.get("start"),
            data.get("end"),
            adjusted=bool(data.get("adjusted", False)),
        )
    if isinstance(data, str):
        return engine.load_panel(_symbols(data.split(",")))
    if isinstance(data, (list, tuple)) and data and all(isinstance(s, str) for s in data):
        return engine.load_panel(_symbols(data))
    if isinstance(data, (list, tuple)) and data and all(isinstance(b, engine.Bars) for b in data):
        return engine.Panel.from_frames({b.symbol or f"s{i}": b for i, b in enumerate(data)})
    if isinstance(data, Mapping) and data and all(isinstance(b, engine.Bars) for b in data.values()):
        return engine.Panel.from_frames({str(k): b for k, b in data.items()})
    raise TypeError(
        "a universe job's data must be an engine.Panel, a list of symbols, {'symbols': [...], "
        f"'timeframe': ...}}, or Bars by symbol; not {type(data).__name__}"
    )


def _symbols(names: Any) -> list[str]:
    out = [str(s).strip() for s in names if str(s).strip()]
    if not out:
        raise ValueError("a universe needs at least one symbol; got none")
    return out
