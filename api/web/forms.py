"""The submit form, generated from a strategy's parameter schema and the job specs.

Each field carries ``path`` (where its value goes in the JSON spec, e.g.
``space.fast.low``, ``config.fee_rate``) and ``kind`` (``number``, ``int``, ``bool``,
``text``, ``list``, ``choice``); the page's script builds the spec from them, and
puts a 422 message next to the field its ``loc`` names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

KINDS = ("backtest", "sweep", "walk_forward", "monte_carlo")
METRICS = (
    "sharpe",
    "sortino",
    "calmar",
    "total_return",
    "annual_return",
    "net_pnl",
    "final_equity",
    "max_drawdown",
    "volatility",
    "win_rate",
    "profit_factor",
    "expectancy",
    "total_trades",
)


@dataclass
class Field:
    path: str
    label: str
    kind: str = "number"
    value: Any = ""
    choices: list[tuple[str, str]] = field(default_factory=list)
    hint: str = ""
    step: str = "any"


@dataclass
class Group:
    title: str
    loc: str
    fields: list[Field]


def _num(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _params(schema: dict[str, dict[str, Any]], kind: str) -> Group:
    fields = []
    for name, p in schema.items():
        typ = str(p.get("type", "float"))
        choices = p.get("choices")
        whole = typ in ("int", "integer")
        if kind in ("backtest", "monte_carlo"):
            if choices:  # option values are JSON, so True stays a boolean and 5 a number
                fields.append(
                    Field(
                        f"params.{name}",
                        name,
                        "json",
                        json.dumps(p.get("default")),
                        [(json.dumps(c), str(c)) for c in choices],
                    )
                )
            elif typ in ("bool", "boolean"):
                fields.append(Field(f"params.{name}", name, "bool", bool(p.get("default"))))
            else:
                fields.append(
                    Field(
                        f"params.{name}",
                        name,
                        "int" if whole else "number",
                        _num(p.get("default")),
                        step="1" if whole else "any",
                    )
                )
        else:
            if choices or typ in ("bool", "boolean"):
                vals = choices if choices else [True, False]
                fields.append(
                    Field(
                        f"space.{name}.values",
                        name,
                        "list",
                        ", ".join(str(v).lower() if isinstance(v, bool) else str(v) for v in vals),
                        hint="values, comma separated",
                    )
                )
                continue
            low, high = p.get("low"), p.get("high")
            step = p.get("step")
            if step is None and low is not None and high is not None:
                span = float(high) - float(low)
                step = max(1, round(span / 10)) if whole else span / 10
            hints = {"low": "low / high / step (one value: low = high)"}
            for end, label, value in (("low", "from", low), ("high", "to", high), ("step", "step", step)):
                fields.append(
                    Field(
                        f"space.{name}.{end}",
                        f"{name} {label}",
                        "int" if whole else "number",
                        _num(value),
                        hint=hints.get(end, ""),
                        step="1" if whole else "any",
                    )
                )
    title = "Parameters" if kind in ("backtest", "monte_carlo") else "Parameter space"
    return Group(title, "params" if kind in ("backtest", "monte_carlo") else "space", fields)


def _config() -> Group:
    """The config fields a job spec takes (``api.specs.ConfigSpec``: every ``engine.Config``
    field, from ``engine.config.FIELDS``), with their defaults."""
    from engine.config import FIELDS

    fields = []
    for f in FIELDS:
        path = f"config.{f.name}"
        if f.kind == "choice":
            fields.append(Field(path, f.name, "choice", f.default, [(c, c) for c in f.choices]))
        elif f.kind == "bool":
            fields.append(Field(path, f.name, "bool", f.default))
        else:
            whole = f.kind == "int"
            fields.append(
                Field(
                    path,
                    f.name,
                    "int" if whole else "number",
                    _num(f.default),
                    step="1" if whole else "any",
                    hint="" if f.default is not None else "empty = off / measured",
                )
            )
    return Group("Config", "config", fields)


def _job(kind: str) -> Group:
    metric = Field("metric", "metric", "choice", "sharpe", [(m, m) for m in METRICS])
    seed = Field("seed", "seed", "int", "0", step="1")
    if kind == "sweep":
        fields = [
            Field("method", "method", "choice", "grid", [(m, m) for m in ("grid", "random", "tpe", "cmaes", "nsga2")]),
            metric,
            Field("n_trials", "trials (random and samplers)", "int", "100", step="1"),
            seed,
        ]
    elif kind == "walk_forward":
        fields = [
            Field("train", "train (bars or e.g. 365D)", "text", "1000"),
            Field("test", "test (bars or e.g. 90D)", "text", "250"),
            Field("embargo", "embargo (bars)", "int", "0", step="1"),
            Field("anchored", "anchored", "bool", False),
            Field("method", "method", "choice", "grid", [("grid", "grid"), ("random", "random")]),
            metric,
            Field("n_trials", "trials (random)", "int", "100", step="1"),
            seed,
        ]
    elif kind == "monte_carlo":
        fields = [
            Field("n", "paths", "int", "1000", step="1"),
            Field(
                "method",
                "method",
                "choice",
                "permutation",
                [(m, m) for m in ("permutation", "bootstrap", "block_bootstrap")],
            ),
            metric,
            Field("of", "bootstrap of", "choice", "returns", [("returns", "returns"), ("trades", "trades")]),
            Field("block", "block length", "int", "20", step="1"),
            Field("confidence", "confidence", "number", "0.95"),
            seed,
        ]
    else:
        fields = []
    return Group("Job", "", fields)


def _data(catalog: list[dict[str, Any]], multi: bool) -> Group:
    choices = [
        (f"{s['symbol']}|{s['timeframe']}", f"{s['symbol']} ({s['timeframe']}, {s.get('bars', '?')} bars)")
        for s in catalog
    ]
    kind, label = ("symbols", "symbols (several: ctrl-click; pooled)") if multi else ("symbol", "symbol")
    return Group(
        "Data",
        "data",
        [
            Field("data", label, kind, choices[0][0] if choices else "", choices),
            Field("data.start", "from (optional)", "date", ""),
            Field("data.end", "to (optional)", "date", ""),
        ],
    )


def groups(strategy: dict[str, Any], kind: str, catalog: list[dict[str, Any]]) -> list[Group]:
    """The form's field groups for ``strategy`` (its public dict) and job ``kind``."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    out = [_data(catalog, kind == "sweep"), _params(strategy.get("parameters") or {}, kind)]
    job = _job(kind)
    if job.fields:
        out.append(job)
    out.append(_config())
    return out
