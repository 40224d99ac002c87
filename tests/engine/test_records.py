"""The numpy twins in engine.records match the C records of csrc/anvil.h byte for byte,
and the metric names match the README (the project's own statement of them)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from engine._core import ffi
from engine.records import CONFIG_DTYPE, METRICS, STATS_DTYPE, TRADE_DTYPE

ROOT = Path(__file__).resolve().parents[2]

TWINS = [
    ("anvil_stats", STATS_DTYPE),
    ("anvil_config", CONFIG_DTYPE),
    ("anvil_trade", TRADE_DTYPE),
]

# The C field types the records use, as the numpy type of the same width and kind.
C_TO_NUMPY = {
    "double": np.dtype(np.float64),
    "int64_t": np.dtype(np.int64),
    "int32_t": np.dtype(np.int32),
}


@pytest.mark.parametrize(("ctype", "dtype"), TWINS, ids=[c for c, _ in TWINS])
def test_record_size_matches_the_c_struct(ctype: str, dtype: np.dtype) -> None:
    assert dtype.itemsize == ffi.sizeof(ctype)


@pytest.mark.parametrize(("ctype", "dtype"), TWINS, ids=[c for c, _ in TWINS])
def test_record_fields_match_the_c_struct_in_name_order_and_offset(ctype: str, dtype: np.dtype) -> None:
    c_fields = ffi.typeof(ctype).fields
    assert list(dtype.names) == [name for name, _ in c_fields]
    for name, field in c_fields:
        assert dtype.fields[name][1] == ffi.offsetof(ctype, name) == field.offset, name


@pytest.mark.parametrize(("ctype", "dtype"), TWINS, ids=[c for c, _ in TWINS])
def test_record_field_types_match_the_c_struct(ctype: str, dtype: np.dtype) -> None:
    for name, field in ffi.typeof(ctype).fields:
        assert dtype.fields[name][0] == C_TO_NUMPY[field.type.cname], name


@pytest.mark.parametrize(("ctype", "dtype"), TWINS, ids=[c for c, _ in TWINS])
def test_a_record_survives_the_trip_through_c_memory(ctype: str, dtype: np.dtype) -> None:
    """Values written through numpy read back through cffi, field by field."""
    rec = np.zeros(1, dtype)
    for k, name in enumerate(dtype.names):
        rec[name] = k + 1
    cdata = ffi.from_buffer(f"{ctype}[]", rec)
    for k, name in enumerate(dtype.names):
        assert getattr(cdata[0], name) == k + 1, name


def test_every_metric_is_defined_once_in_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("| metric | definition |", 1)[1].split("\n\n", 1)[0]
    names: list[str] = []
    for cell in re.findall(r"^\| ([^|]+) \|", table, flags=re.MULTILINE):
        names += [n.strip() for n in cell.split(",") if re.fullmatch(r"[a-z_]+", n.strip())]
    assert sorted(names) == sorted(METRICS)


def test_metrics_are_the_stats_record_fields() -> None:
    assert STATS_DTYPE.names == METRICS
    assert all(STATS_DTYPE.fields[m][0] == np.float64 for m in METRICS)
