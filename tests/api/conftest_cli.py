"""Helpers of the CLI tests: run the real ``anvil`` entry point in a subprocess.

``python -m api.cli`` is the same ``main()`` the installed ``anvil`` script
calls; each test module gets a store of its own (``ANVIL_DB`` in a temporary
folder, filled with the shipped sample on first use).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import REPO, free_port, store_env  # noqa: F401 - the CLI tests take REPO and free_port from here


SMA_SPX = ("-s", "sma_cross", "--symbol", "SPX")
"""The job most tests run: the built-in SMA cross on the shipped S&P 500 sample."""
WALK_FORWARD = ("walk-forward", *SMA_SPX, "--space", "fast=10,20", "slow=50,100", "--train", "1000", "--test", "500")
"""A small walk-forward of it: four parameter sets, train 1000 bars, test 500."""


@dataclass
class Ran:
    """What one ``anvil`` run did."""

    args: tuple[str, ...]
    status: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def error_line(self) -> str:
        """The one line an error leaves on stderr (the test fails if there is more)."""
        lines = [line for line in self.err.splitlines() if line.strip()]
        assert len(lines) == 1, f"expected one line on stderr, got:\n{self.err}"
        assert lines[0].startswith("anvil: error: "), lines[0]
        return lines[0]


def cli_env(folder: Path, **extra: str) -> dict[str, str]:
    """The environment of an ``anvil`` run: its own store and token file, no stray token."""
    return store_env(folder, **{"COLUMNS": "200", **extra})


def anvil(*args: str, env: dict[str, str], cwd: Path, stdin: str | None = None, timeout: float = 300) -> Ran:
    """Run ``anvil ARGS`` and capture what it did."""
    proc = subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Ran(tuple(args), proc.returncode, proc.stdout, proc.stderr)


class Cli:
    """``anvil`` bound to one folder and environment: ``cli("data", "list")``."""

    def __init__(self, folder: Path, **extra_env: str) -> None:
        self.folder = folder
        self.env = cli_env(folder, **extra_env)

    def __call__(self, *args: str, stdin: str | None = None, ok: bool = True, **env: str) -> Ran:
        run_env = {**self.env, **env}
        ran = anvil(*args, env=run_env, cwd=self.folder, stdin=stdin)
        if ok:
            assert ran.status == 0, f"anvil {' '.join(args)} exited {ran.status}:\n{ran.err}"
        return ran


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """``anvil`` with a store of this module's own."""
    return Cli(tmp_path_factory.mktemp("cli"))


@pytest.fixture(scope="module")
def main_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli_main")


@pytest.fixture
def run_main(main_folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """``api.cli.main`` (what the ``anvil`` script calls) in this process: quick, for the
    many error cases. Its store is its own (this process keeps it open)."""
    from api.cli import main

    for key, value in cli_env(main_folder).items():
        if key.startswith("ANVIL_"):
            monkeypatch.setenv(key, value)
    monkeypatch.chdir(main_folder)

    def run(*args: str) -> Ran:
        capsys.readouterr()
        status = main(list(args))
        captured = capsys.readouterr()
        return Ran(tuple(args), status, captured.out, captured.err)

    return run
