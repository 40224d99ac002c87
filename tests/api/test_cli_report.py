"""``--report FILE.html`` on the job commands and ``anvil jobs report ID --out FILE.html``."""

from __future__ import annotations

import pytest

from tests.api.conftest_cli import SMA_SPX, Cli, cli  # noqa: F401 - the module-scoped anvil
from tests.api.test_cli_jobs import SWEEP, service  # noqa: F401 - the module's service fixture
from tests.api.report.conftest import outside, parse

LOCAL = ("--address", "local-threads", "-q")


@pytest.mark.parametrize(
    "words, title, section",
    [
        (("backtest", "-s", "sma_cross", "--symbol", "SPX", "-p", "fast=20", "slow=100"), "Backtest — SPX", "panels"),
        (("sweep", *SMA_SPX, "--space", "fast=5:30:5", "slow=60:120:30"), "Sweep — SmaCross", "heatmap"),
        (
            ("monte-carlo", "-s", "sma_cross", "--symbol", "SPX", "--paths", "40", "--method", "bootstrap"),
            "Monte Carlo — SmaCross",
            "fan",
        ),
        (
            ("walk-forward", *SMA_SPX, "--space", "fast=5:30:5", "slow=60:120:30", "--train", "1500", "--test", "500"),
            "Walk-forward — SmaCross",
            "timeline",
        ),
    ],
)
def test_a_job_run_here_writes_its_report(cli: Cli, words, title, section):
    (cli.folder / "out").mkdir(exist_ok=True)
    ran = cli(*words, *LOCAL, "--report", "out/r.html")
    doc = (cli.folder / "out" / "r.html").read_text()
    assert title in doc and f'<section id="{section}"' in doc
    page = parse(doc)
    assert outside(page.urls) == []
    assert "wrote the report" not in ran.err  # -q


def test_a_bad_report_name_fails_before_the_run(cli: Cli):
    ran = cli("backtest", "-s", "sma_cross", "--symbol", "SPX", "--report", "r.txt", ok=False)
    assert ran.status != 0
    assert ran.error_line() == "anvil: error: --report r.txt: a report is an HTML file; name it FILE.html"


def test_jobs_report_downloads_a_served_jobs_report(service: Cli):  # noqa: F811
    job_id = service("jobs", "submit", *SWEEP, "--no-wait").out.strip()
    service("jobs", "watch", job_id)
    ran = service("jobs", "report", job_id, "--out", "sweep.html")
    doc = (service.folder / "sweep.html").read_text()
    assert "Sweep — SmaCross" in doc and "wrote" in ran.err
    assert outside(parse(doc).urls) == []
    missing = service("jobs", "report", "0123456789abcdef0123456789abcdef", "--out", "x.html", ok=False)
    assert missing.status != 0 and "0123456789abcdef0123456789abcdef" in missing.err
