"""Turn what a job names as its data into bars by symbol, and fingerprint them."""

from __future__ import annotations

import hashlib
from typing import Any, Mapping

import engine


def _query(q: Mapping[str, Any]) -> engine.Bars:
    unknown = set(q) - {"symbol", "timeframe", "start", "end"}
    if unknown or "symbol" not in q:
        raise ValueError(
            "a data query is {'symbol': ..., 'timeframe': '1d', 'start': ..., 'end': ...}; "
            f"got keys {sorted(q)}"
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
        f"data must be engine.Bars, a symbol, a store query dict, or a list of them; "
        f"not {type(data).__name__}"
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
