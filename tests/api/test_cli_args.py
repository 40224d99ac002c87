"""The CLI's word parsing (spaces, parameters, config) and the copies it keeps in sync."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest
from pydantic import TypeAdapter

import engine
import engine.config as engine_config
from api import specs
from api.cli import args, errors, options, output
from api.cli.client import base_url, parse_sse
from tests.api.conftest_cli import main_folder, run_main  # noqa: F401 - fixtures

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("fast=5:50", {"fast": {"low": 5, "high": 50, "step": 1}}),
        ("slow=20:200:5", {"slow": {"low": 20, "high": 200, "step": 5}}),
        ("band=0.5,1,2", {"band": [0.5, 1, 2]}),
        ("w=0.1~0.9", {"w": {"low": 0.1, "high": 0.9}}),
        ("w=0.001~0.1:log", {"w": {"low": 0.001, "high": 0.1, "log": True}}),
        ("x=-5:5:2.5", {"x": {"low": -5, "high": 5, "step": 2.5}}),
        ("fast=10", {"fast": [10]}),
        ("short=true,false", {"short": [True, False]}),
        ("kind=sma,ema", {"kind": ["sma", "ema"]}),
    ],
)
def test_space_words_become_the_json_space(word, expected):
    assert args.space([word]) == expected


def test_the_json_space_is_what_the_specs_expand():
    space = args.space(["fast=5:50", "slow=20:200:5", "band=0.5,1,2"])
    spec = TypeAdapter(specs.JobSpec).validate_python(
        {"kind": "sweep", "strategy": "sma_cross", "data": {"symbol": "SPX"}, "space": space}
    )
    expanded = specs.space_of(spec.space)
    assert list(expanded["fast"]) == list(range(5, 51))  # a range: sized, never listed up front
    assert list(expanded["slow"]) == list(range(20, 201, 5))
    assert expanded["band"] == [0.5, 1, 2]


@pytest.mark.parametrize(
    ("word", "says"),
    [
        ("fast", "NAME=VALUE"),
        ("fast=", "NAME=VALUE"),
        ("1x=5:50", "NAME=VALUE"),
        ("fast=5:x", "'x' is not a number"),
        ("fast=5:50:0", "step must be above 0"),
        ("fast=50:5", "above high"),
        ("fast=5:6:7:8", "LOW:HIGH"),
        ("fast=1,,2", "comma-separated"),
        ("w=0.1~", "LOW~HIGH"),
        ("w=0.1~0.9:lin", "LOW~HIGH:log"),
    ],
)
def test_bad_space_words_are_usage_errors_naming_the_option(word, says):
    with pytest.raises(errors.UsageError) as info:
        args.space([word])
    assert info.value.status == errors.USAGE
    assert "--space" in info.value.message and says in info.value.message


def test_a_parameter_named_twice_is_refused():
    with pytest.raises(errors.UsageError, match="twice"):
        args.space(["fast=5:50", "fast=1,2"])
    with pytest.raises(errors.UsageError, match="twice"):
        args.params(["fast=5", "fast=6"])


def test_params_read_numbers_bools_and_text():
    assert args.params(["fast=10", "w=0.5", "short=true", "kind=ema", "n=-3"]) == {
        "fast": 10,
        "w": 0.5,
        "short": True,
        "kind": "ema",
        "n": -3,
    }


def test_several_words_after_one_variadic_option():
    argv = ["sweep", "--space", "fast=5:50", "slow=20:200:5", "--symbol", "SPX", "-p", "a=1", "b=2", "--", "x=1"]
    assert args.expand_variadic(argv) == [
        "sweep",
        "--space",
        "fast=5:50",
        "--space",
        "slow=20:200:5",
        "--symbol",
        "SPX",
        "-p",
        "a=1",
        "-p",
        "b=2",
        "--",
        "x=1",
    ]
    # a word without "=" after the value is left alone (a positional argument)
    assert args.expand_variadic(["--space", "a=1", "file.csv"]) == ["--space", "a=1", "file.csv"]


def test_config_json_then_options_override_it(tmp_path):
    assert args.config({"fee_rate": 0.002, "fill": None}, '{"fee_rate": 0.001, "fill": "close"}') == {
        "fee_rate": 0.002,
        "fill": "close",
    }
    path = tmp_path / "cfg.json"
    path.write_text('{"slippage_bps": 3}')
    assert args.config({}, str(path)) == {"slippage_bps": 3}
    with pytest.raises(errors.UsageError, match="neither JSON nor a file"):
        args.config({}, "nope.json")
    with pytest.raises(errors.UsageError, match="not valid JSON"):
        args.config({}, "{oops")


def test_every_engine_config_field_is_in_the_api_schema_and_the_cli_help(run_main):
    schema = specs.ConfigSpec.model_json_schema()["properties"]
    ran = run_main("backtest", "--help")
    assert ran.status == 0
    for f in dataclasses.fields(engine.Config):
        assert f.name in schema and schema[f.name]["description"], f.name
        assert "--" + f.name.replace("_", "-") in ran.out, f.name
    assert schema["fee_rate"]["minimum"] == 0 and schema["fee_rate"]["exclusiveMaximum"] == 1
    assert schema["initial_capital"]["exclusiveMinimum"] == 0
    assert schema["fill"]["anyOf"][0]["enum"] == ["next_open", "close"]


def test_a_field_added_to_config_once_shows_up_in_the_api_model_and_the_options():
    @dataclasses.dataclass(frozen=True)
    class Wider(engine.Config):
        """A Config with one more field.

        Attributes:
            tick_size: the smallest price step,
                in the quote currency.
        """

        tick_size: float = dataclasses.field(default=0.01, metadata={"low": 0.0, "low_open": True})

    fields = engine_config.describe(Wider)
    (added,) = [f for f in fields if f.name == "tick_size"]
    assert (added.kind, added.default, added.low, added.low_open) == ("float", 0.01, 0.0, True)
    assert added.description == "the smallest price step, in the quote currency."
    model = specs.config_spec(fields)
    prop = model.model_json_schema()["properties"]["tick_size"]
    assert prop["exclusiveMinimum"] == 0 and prop["description"].startswith("the smallest price step")
    assert model(tick_size=0.5).tick_size == 0.5
    option = {o.name: o for o in options.config_field_options(fields)}["tick_size"]
    assert option.opts == ["--tick-size"] and "smallest price step" in (option.help or "")


def test_walk_forward_spans_are_bars_or_durations():
    assert args.span("750") == 750
    assert args.span("365D") == "365D"


def test_pydantic_errors_read_as_the_field_at_fault():
    try:
        TypeAdapter(specs.JobSpec).validate_python(
            {"kind": "backtest", "strategy": "x", "data": {"symbol": "SPX", "start": "nope"}}
        )
    except Exception as exc:  # noqa: BLE001
        text = errors.describe(exc)
    assert text.startswith("data.start: "), text


def test_json_output_has_no_nan_or_infinity():
    doc = output.jsonable({"a": float("nan"), "b": float("inf"), "c": [1.5, None]})
    assert doc == {"a": None, "b": None, "c": [1.5, None]}


def test_tables_align_numbers_right_and_text_left():
    text = output.table([{"name": "a", "sharpe": 1.5}, {"name": "bbb", "sharpe": -0.25}])
    lines = text.split("\n")
    assert lines[0] == "name  sharpe"
    assert lines[2] == "a        1.5"
    assert lines[3] == "bbb    -0.25"


def test_service_urls_get_the_api_prefix_once():
    assert base_url("http://127.0.0.1:8000") == "http://127.0.0.1:8000/api/v1"
    assert base_url("http://127.0.0.1:8000/api/v1/") == "http://127.0.0.1:8000/api/v1"
    assert base_url("localhost:9000") == "http://localhost:9000/api/v1"
    with pytest.raises(errors.UsageError):
        base_url("ftp://x")


def test_event_streams_parse_into_events():
    lines = iter(["event: progress", 'data: {"done": 1}', "", ": comment", "data: plain", "", 'data: {"done": 2}'])
    assert list(parse_sse(lines)) == [("progress", {"done": 1}), ("message", "plain"), ("message", {"done": 2})]


def test_the_anvil_script_is_declared():
    with open(Path(__file__).resolve().parents[2] / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    assert project["scripts"]["anvil"] == "api.cli:main"
    deps = " ".join(project["dependencies"])
    assert "click" in deps and "httpx" in deps
