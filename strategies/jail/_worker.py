"""The jailed side: loads one uploaded source and answers requests over its pipes.

Started by ``_process.JailProcess`` inside bubblewrap as
``python -I -c "... from strategies.jail._worker import main; main()"``. The first
message is ``load`` (the source, whether the language-level checks apply, the
limits); the limits are set before the source runs. Then, one at a time:

- ``bars``: keep a series under a key (times and prices as arrays), or a panel
  (the same plus ``tradable``, with its ``symbols`` in the message);
- ``signals``: the signal matrix of parameter sets over kept bars (``signal_matrix``:
  the strategy's ``signals_many`` when it has one);
- ``weights``: a universe strategy's weight matrices for parameter sets over a kept
  panel, as one ``[k, n_bars, n_symbols]`` array (``weights_many`` when it has one);
- ``rows``: the rows a bar-by-bar universe strategy decides over a kept panel from
  bar ``start`` (``[1, n_bars - start, n_symbols]``); the trusted side backtests them;
- ``backtest``: one bar-by-bar backtest over windows of kept bars
  (``strategies.run_windows``: one window for ``strategies.run``, several for a
  walk-forward that carries its position), answered with its stats, and its
  equity and trade records if asked.

Each answer is ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``. Every
answer also says the CPU seconds used so far (``cpu``), so the pool can retire a
process before ``RLIMIT_CPU`` ends it.
"""

from __future__ import annotations

import os
import resource
import sys
import traceback
from collections import OrderedDict
from typing import Any

import numpy as np

KEEP_BARS = 4


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _load(source: str, checks: bool) -> type:
    from strategies.base import Strategy

    if checks:
        from strategies.loader import load_strategy

        return load_strategy(source)
    # The language-level checks switched off (tests of the jail itself): plain Python.
    namespace: dict[str, Any] = {"__name__": "unchecked_strategy"}
    exec(compile(source, "<strategy>", "exec"), namespace)  # noqa: S102 - inside the jail, on purpose
    found = [
        v
        for v in namespace.values()
        if isinstance(v, type) and issubclass(v, Strategy) and v.__module__ == "unchecked_strategy"
    ]
    if len(found) != 1:
        raise ValueError(f"the source defines {len(found)} Strategy subclasses; it must define one")
    return found[0]


def _describe(cls: Any) -> dict[str, Any]:
    out = cls.describe()
    out["signals_many"] = callable(getattr(cls, "signals_many", None))
    out["weights_many"] = callable(getattr(cls, "weights_many", None))
    return dict(out)


class _Server:
    def __init__(self, cls: Any) -> None:
        self.cls = cls
        self.bars: OrderedDict[str, Any] = OrderedDict()

    def bars_op(self, req: dict[str, Any], arrays: list[np.ndarray]) -> tuple[dict[str, Any], list[np.ndarray]]:
        from engine.bars import Bars

        if "symbols" in req:
            from engine.panel import Panel

            ts, o, h, lo, c, v, tradable = arrays
            self.bars[req["key"]] = Panel(ts.astype("datetime64[ns]"), req["symbols"], o, h, lo, c, v, tradable)
        else:
            ts, o, h, lo, c, v = arrays
            self.bars[req["key"]] = Bars(ts.astype("datetime64[ns]"), o, h, lo, c, v, symbol=req.get("symbol"))
        while len(self.bars) > KEEP_BARS:
            self.bars.popitem(last=False)
        return {}, []

    def signals_op(self, req: dict[str, Any], arrays: list[np.ndarray]) -> tuple[dict[str, Any], list[np.ndarray]]:
        from strategies.runner import signal_matrix

        matrix = signal_matrix(self.cls, self.bars[req["bars"]], req["sets"])
        return {}, [np.ascontiguousarray(matrix)]

    def weights_op(self, req: dict[str, Any], arrays: list[np.ndarray]) -> tuple[dict[str, Any], list[np.ndarray]]:
        from strategies._panel_run import weight_stream

        panel = self.bars[req["panel"]]
        sets = [self.cls.check(p) for p in req["sets"]]
        n, m = panel.shape
        out = np.empty((len(sets), n, m))
        for k, w in enumerate(weight_stream(self.cls, panel, sets)):
            out[k] = w
        return {}, [out]

    def rows_op(self, req: dict[str, Any], arrays: list[np.ndarray]) -> tuple[dict[str, Any], list[np.ndarray]]:
        from strategies._panel_run import decided_rows

        panel = self.bars[req["panel"]]
        rows = decided_rows(self.cls(**req["sets"][0]), panel, int(req["start"]))
        return {}, [rows[np.newaxis]]

    def backtest_op(self, req: dict[str, Any], arrays: list[np.ndarray]) -> tuple[dict[str, Any], list[np.ndarray]]:
        from engine.config import Config
        from strategies.runner import run_windows

        windows = [(p, int(lo), int(hi)) for p, lo, hi in req["windows"]]
        res = run_windows(
            self.cls,
            self.bars[req["bars"]],
            windows,
            Config.from_dict(req["config"]),
            equity=bool(req["equity"]),
            trades=bool(req["trades"]),
        )
        out: list[np.ndarray] = []
        if req["equity"]:
            out.append(np.ascontiguousarray(res._equity, dtype=np.float64))
        if req["trades"]:
            out.append(np.frombuffer(np.ascontiguousarray(res.trade_records).tobytes(), np.uint8))
        return {"stats": {k: float(v) for k, v in res.stats.items()}}, out


def main() -> None:
    from strategies.jail import _limits, _wire

    fd_in, fd_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)  # whatever the strategy prints cannot garble the answers
    import engine  # noqa: F401 - everything a strategy may import, before the limits bite
    import strategies  # noqa: F401
    import strategies.loader  # noqa: F401
    import strategies.runner  # noqa: F401
    import strategies._panel_run  # noqa: F401
    import engine.panel  # noqa: F401

    _wire.write_blocking(fd_out, _wire.encode({"ok": True, "ready": True, "cpu": _cpu()}))
    first = _wire.read_blocking(fd_in)
    if first is None:
        return
    req, _ = first
    _limits.apply(req["limits"])
    try:
        server = _Server(_load(req["source"], bool(req.get("checks", True))))
        reply: dict[str, Any] = {"ok": True, "description": _describe(server.cls), "cpu": _cpu()}
    except Exception as exc:
        _wire.write_blocking(fd_out, _wire.encode({"ok": False, "error": _error(exc), "cpu": _cpu()}))
        return
    _wire.write_blocking(fd_out, _wire.encode(reply))
    ops = {
        "bars": server.bars_op,
        "signals": server.signals_op,
        "backtest": server.backtest_op,
        "weights": server.weights_op,
        "rows": server.rows_op,
    }
    while True:
        msg = _wire.read_blocking(fd_in)
        if msg is None:
            return
        req, arrays = msg
        try:
            head, out = ops[req["op"]](req, arrays)
            data = _wire.encode({"ok": True, "cpu": _cpu(), **head}, out)
        except Exception as exc:
            data = _wire.encode({"ok": False, "error": _error(exc), "cpu": _cpu()})
        _wire.write_blocking(fd_out, data)


def _error(exc: BaseException) -> str:
    from strategies.loader import StrategyCodeError

    if isinstance(exc, StrategyCodeError):
        return str(exc)
    tb = traceback.extract_tb(exc.__traceback__)
    where = next((f" (at line {f.lineno} of the strategy)" for f in reversed(tb) if f.filename.startswith("<")), "")
    return f"{type(exc).__name__}: {exc}{where}"[:4000]


if __name__ == "__main__":
    sys.exit(main())
