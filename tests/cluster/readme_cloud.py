"""The README's cloud section, read as a shell reads it: the commands the tests run.

``tests/cluster/test_job_submit.py`` submits the README's ``ray job submit`` line as
it is written (only the job server's address differs: the README's is the tunnel
``ray dashboard`` opens to an AWS head), so the README cannot drift from what is
tested. ``ray-cluster.yaml``'s header repeats the same command.
"""

from __future__ import annotations

import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SECTION = "### From a laptop to a cloud cluster"
TUNNEL = "http://127.0.0.1:8265"  # where `ray dashboard ray-cluster.yaml &` forwards the head's job server


def commands(text: str) -> list[list[str]]:
    """The shell commands of ``text`` (lines joined at a trailing backslash, comments
    dropped), each split into words as the shell would."""
    text = text.replace("\\\n", " ")
    return [words for line in text.splitlines() if (words := shlex.split(line, comments=True))]


def cloud_block() -> str:
    """The first ``sh`` code block of the README's cloud section."""
    text = README.read_text()
    assert SECTION in text, f"README.md has no section {SECTION!r}"
    section = text.split(SECTION, 1)[1]
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


def cloud_commands() -> list[list[str]]:
    """The README cloud section's commands, in order."""
    return commands(cloud_block())


def only(found: list[list[str]], *start: str) -> list[str]:
    """The one command of ``found`` that starts with the words ``start``."""
    hits = [c for c in found if c[: len(start)] == list(start)]
    assert len(hits) == 1, f"expected one `{' '.join(start)}` command, found {hits}"
    return hits[0]


def submit_command() -> list[str]:
    """The README's ``ray job submit ... -- anvil sweep ...``, as words."""
    return only(cloud_commands(), "ray", "job", "submit")


def entrypoint(submit: list[str]) -> list[str]:
    """What ``ray job submit`` runs on the head: the words after ``--``."""
    return submit[submit.index("--") + 1 :]


def option(words: list[str], name: str) -> str:
    """The value following ``name`` in ``words``."""
    return words[words.index(name) + 1]
