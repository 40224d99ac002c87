"""Without a Chromium the browser tests skip with one loud line, and under ``CI=true``
they fail instead (``tests.api.browser.require``); ``make browser`` installs one as root."""

from __future__ import annotations

import subprocess

import pytest

from tests.api.browser import REPO, require


def test_a_missing_browser_skips_loudly(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="^BROWSER TESTS SKIPPED: no Chromium: `apt-get install chromium`"):
        require(None)


def test_a_missing_browser_fails_under_ci(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="^CI=true and no Chromium"):
        require(None)


def test_a_browser_that_is_there_is_used(monkeypatch: pytest.MonkeyPatch, tmp_path):
    monkeypatch.setenv("CI", "true")
    assert require(str(tmp_path / "chromium")) == str(tmp_path / "chromium")


def test_make_test_installs_the_browser_first():
    plan = subprocess.run(["make", "-n", "test"], cwd=REPO, capture_output=True, text=True, check=False).stdout
    rule = subprocess.run(["make", "-n", "browser"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert "apt-get install -y -q chromium" in rule and 'id -u)" = 0' in rule
    assert "apt-get install -y -q chromium" in plan  # `test` depends on `browser`
    assert plan.index("apt-get install -y -q chromium") < plan.index("pytest")
