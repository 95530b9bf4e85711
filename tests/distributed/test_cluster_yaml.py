"""cluster.yaml validates offline with Ray's own schema and semantic checks; broken copies fail with Ray's message."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

CLUSTER_YAML = Path(__file__).resolve().parents[2] / "cluster.yaml"


def _load() -> dict:
    return yaml.safe_load(CLUSTER_YAML.read_text())


def test_cluster_yaml_validates():
    cfg = prepare_config(copy.deepcopy(_load()))  # merges the AWS defaults; makes no cloud call
    validate_config(cfg)
    assert cfg["provider"]["type"] == "aws"
    gpu = cfg["available_node_types"]["gpu_worker"]
    assert gpu["resources"]["GPU"] >= 1 and gpu["min_workers"] == 0  # autoscaling GPU workers
    assert "trial_driver" in cfg["available_node_types"][cfg["head_node_type"]]["resources"]
    setup = " ".join(cfg["setup_commands"])
    assert "download.pytorch.org/whl/cu" in setup and "pip install -q -e ~/xmlai" in setup
    # the dashboard is reachable only through an SSH tunnel
    assert "--dashboard-host=127.0.0.1" in " ".join(cfg["head_start_ray_commands"])


def _broken_unknown_field(c):
    c["available_node_types"]["gpu_worker"]["bogus_field"] = 1


def _broken_type(c):
    c["available_node_types"]["gpu_worker"]["min_workers"] = "two"


def _broken_head(c):
    c["head_node_type"] = "no_such_type"


def _broken_max_workers(c):
    c["available_node_types"]["gpu_worker"]["min_workers"] = 9
    c["available_node_types"]["gpu_worker"]["max_workers"] = 9


@pytest.mark.parametrize(
    "breaker, exc, message",
    [
        (_broken_unknown_field, jsonschema.ValidationError, "'bogus_field' was unexpected"),
        (_broken_type, jsonschema.ValidationError, "'two' is not of type 'integer'"),
        (_broken_head, ValueError, "`head_node_type` must be one of `available_node_types`"),
        (_broken_max_workers, ValueError, "smaller than the sum of `min_workers`"),
    ],
)
def test_broken_copy_fails_with_rays_message(tmp_path, breaker, exc, message):
    raw = _load()
    breaker(raw)
    broken = tmp_path / "cluster.yaml"
    broken.write_text(yaml.safe_dump(raw))  # a real broken file, loaded like the original
    with pytest.raises(exc, match=re.escape(message)):
        validate_config(prepare_config(yaml.safe_load(broken.read_text())))
