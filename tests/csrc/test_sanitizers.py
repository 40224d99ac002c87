"""The sanitizer driver keeps up with the header.

`make sanitize` (part of `make test`) builds tests/csrc/hostile.c with the core under
AddressSanitizer and UndefinedBehaviorSanitizer and runs it; it is not run again from
pytest. These checks make sure it still drives every public entry point, through the
public header only.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEADER = ROOT / "csrc" / "anvil.h"
HEADERS = (HEADER, ROOT / "csrc" / "cross.h")  # the public headers (engine/_build.py reads the same)
DRIVER = ROOT / "tests" / "csrc" / "hostile.c"


def _public_functions() -> list[str]:
    names: list[str] = []
    for header in HEADERS:
        text = header.read_text()
        body = text.split("/* cdef-begin */", 1)[1].split("/* cdef-end */", 1)[0]
        body = re.sub(r"/\*.*?\*/", "", body, flags=re.DOTALL)
        names += re.findall(r"^\s*(?:const\s+)?\w+\s*\*?\s*(anvil_\w+)\s*\(", body, flags=re.MULTILINE)
    return names


def _driver_code() -> str:
    return re.sub(r"/\*.*?\*/", "", DRIVER.read_text(), flags=re.DOTALL)


def test_header_declares_the_entry_points() -> None:
    names = _public_functions()
    assert {"anvil_backtest", "anvil_batch", "anvil_check_bars", "anvil_check_config"} <= set(names)
    assert {"anvil_xs_rank", "anvil_xs_top_k", "anvil_schedule", "anvil_xs_risk_parity"} <= set(names)


def test_driver_calls_every_public_function() -> None:
    code = _driver_code()
    missing = [f for f in _public_functions() if not re.search(rf"\b{f}\s*\(", code)]
    assert not missing, f"tests/csrc/hostile.c never calls {', '.join(missing)}"


def test_driver_uses_only_the_public_header() -> None:
    includes = re.findall(r'^#include\s+"([^"]+)"', DRIVER.read_text(), flags=re.MULTILINE)
    assert includes == [h.name for h in HEADERS]


def test_driver_takes_status_codes_from_the_header() -> None:
    """Status values are the header's macros, never copied numbers."""
    code = _driver_code()
    assert not re.search(r"\b(rc|want\d?)\s*[!=]=\s*-?\d", code)
    assert not re.search(r"case\s+\d+\s*:\s*return\s+\"ANVIL_", code)


def test_make_test_runs_the_sanitizers() -> None:
    makefile = (ROOT / "Makefile").read_text()
    test_rule = re.search(r"^test:(.*)$", makefile, flags=re.MULTILINE)
    assert test_rule and "sanitize" in test_rule.group(1).split()
    assert "tests/csrc/hostile.c" in makefile
    assert "-fsanitize=address,undefined" in makefile
