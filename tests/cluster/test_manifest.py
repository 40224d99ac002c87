"""The code version a job's manifest records: the same for every install of one commit."""

from __future__ import annotations

import shutil
from pathlib import Path

import setuptools

from cluster import manifest

REPO = Path(__file__).resolve().parents[2]


def _as_a_wheel_installs_it(to: Path) -> None:
    """The packages a wheel of this checkout holds, laid out as in site-packages (the
    ``packages.find`` rule of pyproject.toml), with their ``.py`` files."""
    for package in setuptools.find_packages(str(REPO), include=["engine*", "strategies*", "cluster*", "api*"]):
        folder = REPO / package.replace(".", "/")
        dest = to / package.replace(".", "/")
        dest.mkdir(parents=True, exist_ok=True)
        for path in folder.glob("*.py"):
            shutil.copy2(path, dest / path.name)


def test_an_editable_install_and_a_wheel_of_one_commit_have_one_code_version(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    _as_a_wheel_installs_it(site)
    (site / "engine" / "_core.c").write_text("/* a build product: in neither hash */")
    assert manifest.source_hash(site) == manifest.source_hash(REPO)
    assert manifest.code_version().endswith("+" + manifest.source_hash(REPO))
    (site / "engine" / "bars.py").write_text("# changed\n", encoding="utf-8")
    assert manifest.source_hash(site) != manifest.source_hash(REPO)  # the hash does see the code
