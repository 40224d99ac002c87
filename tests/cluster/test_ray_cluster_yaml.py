"""ray-cluster.yaml passes Ray's own cluster-config checks, starts what the README says,
and its header gives the README's commands.

Only files are read: Ray's schema and its defaults for AWS. Nothing contacts AWS.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
import ray.autoscaler
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

from tests.cluster import readme_cloud

CONFIG = Path(__file__).resolve().parents[2] / "ray-cluster.yaml"
SCHEMA = Path(ray.autoscaler.__file__).with_name("ray-schema.json")


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load(CONFIG.read_text())


@pytest.fixture(scope="module")
def prepared(config) -> dict:
    """The config as ``ray up`` sees it: Ray's AWS defaults merged in, then validated."""
    out = prepare_config(copy.deepcopy(config))
    validate_config(out)
    return out


def test_the_file_matches_rays_schema(config):
    jsonschema.validate(config, json.loads(SCHEMA.read_text()))


def test_the_schema_check_catches_a_mistake(config):
    wrong = {**config, "max_worker": 100}  # a typo of max_workers
    with pytest.raises(jsonschema.ValidationError, match="max_worker"):
        validate_config(prepare_config(wrong))


def test_an_aws_head_and_autoscaling_workers(prepared):
    assert prepared["provider"]["type"] == "aws" and prepared["provider"]["region"]
    types = prepared["available_node_types"]
    head = prepared["head_node_type"]
    workers = [t for name, t in types.items() if name != head]
    assert len(workers) == 1
    assert workers[0]["min_workers"] == 0 and workers[0]["max_workers"] >= 10
    assert prepared["max_workers"] >= workers[0]["max_workers"]
    assert prepared["idle_timeout_minutes"] > 0
    assert any("--autoscaling-config=~/ray_bootstrap_config.yaml" in c for c in prepared["head_start_ray_commands"])


def test_every_node_gets_the_repository_and_installs_anvil(prepared):
    assert prepared["file_mounts"]["~/anvil"] == "."
    for role in ("head_setup_commands", "worker_setup_commands"):  # setup_commands merged into both
        commands = prepared[role]
        assert any("pip install -e ~/anvil" in c for c in commands), role


def test_every_node_starts_ray_with_token_authentication(prepared):
    assert prepared["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"
    for role in ("head_start_ray_commands", "worker_start_ray_commands"):
        start = [c for c in prepared[role] if "ray start" in c]
        assert len(start) == 1 and "export RAY_AUTH_MODE=token;" in start[0], role
    head_start = next(c for c in prepared["head_start_ray_commands"] if "ray start" in c)
    assert "--dashboard-host=127.0.0.1" in head_start  # reached through `ray dashboard`'s SSH tunnel


def header_commands() -> list[list[str]]:
    """The commands in the file's header comment (its ``#   `` lines), as words."""
    lines = [line[4:] for line in CONFIG.read_text().splitlines() if line.startswith("#   ")]
    return readme_cloud.commands("\n".join(lines))


def test_the_files_header_gives_the_readmes_commands():
    header, readme = header_commands(), readme_cloud.cloud_commands()
    assert readme_cloud.only(header, "ray", "job", "submit") == readme_cloud.submit_command()
    assert len(header) >= 7
    for command in header:
        assert command in readme, f"ray-cluster.yaml says `{' '.join(command)}`, the README's cloud section does not"
