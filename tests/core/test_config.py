"""Config: validation names the offending key, YAML round trip, overrides, every YAML in the repo loads."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.config import MODEL_PRESETS, Config, ConfigError, apply_overrides, config_from_dict, load_config

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_are_valid_and_round_trip_through_yaml(tmp_path):
    cfg = Config()
    cfg.save(tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == cfg


@pytest.mark.parametrize(
    "raw, needle",
    [
        ({"model": {"d_modle": 64}}, "model.d_modle"),
        ({"trian": {}}, "trian"),
        ({"model": {"d_model": 30, "n_heads": 4}}, "n_heads (4) must divide model.d_model (30)"),
        ({"model": {"attention": "sparse"}}, "model.attention"),
        ({"model": {"targets": ["scale", "crop"]}}, "crop"),
        ({"model": {"preset": "huge"}}, "model.preset"),
        ({"train": {"optimizer": "lamb"}}, "train.optimizer"),
        ({"train": {"lr": -1}}, "train.lr"),
        ({"data": {"overlap": 100, "window": 100}}, "data.overlap"),
        ({"loss": {"weights": {"scael": 1.0}}}, "scael"),
        ({"loss": {"weights": {"scale": -1.0}}}, "loss.weights.scale"),
        ({"train": {"lr": "fast"}}, "train.lr must be a number, got 'fast'"),
        ({"loss": {"weights": {"pan": "heavy"}}}, "loss.weights.pan must be a number"),
    ],
)
def test_bad_values_name_the_key(raw, needle):
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        config_from_dict(raw)


def test_yaml_errors_name_the_file(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("model:\n  d_model: 64\n  bogus: 1\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown config key model.bogus"):
        load_config(p)


def test_presets_fill_fields_and_explicit_fields_win():
    cfg = config_from_dict({"model": {"preset": "large"}})
    assert cfg.model.d_model == MODEL_PRESETS["large"]["d_model"]
    cfg = config_from_dict({"model": {"preset": "large", "n_layers": 1}})
    assert cfg.model.n_layers == 1 and cfg.model.d_model == MODEL_PRESETS["large"]["d_model"]


def test_overrides():
    cfg = apply_overrides(Config(), {"train.lr": 0.01, "loss.weights.scale": 3.0, "model.d_model": 64})
    assert cfg.train.lr == 0.01 and cfg.loss.weight("scale") == 3.0 and cfg.loss.weight("pan") == 1.0
    assert cfg.model.d_model == 64
    with pytest.raises(ConfigError, match="SECTION.KEY"):
        apply_overrides(Config(), {"lr": 0.1})


def test_every_yaml_config_in_the_repo_loads():
    found = [p for p in ROOT.rglob("*.yaml") if "configs" in p.parts]
    for p in found:
        load_config(p)
    assert found, "the repo ships example configs under configs/"
    # cluster.yaml and search spaces are other schemas, validated by their own tests
    assert yaml.safe_load((ROOT / "cluster.yaml").read_text())["cluster_name"]


def test_numbers_without_a_dot_are_numbers(tmp_path):
    """PyYAML reads ``1e-3`` as a string (YAML 1.1 wants ``1.0e-3``); every user writes it, in a file or an
    override, and used to get "'>' not supported between instances of 'str' and 'int'"."""
    (tmp_path / "c.yaml").write_text("train:\n  lr: 5e-4\n  weight_decay: 1e-2\nloss:\n  weights:\n    pan: 2e0\n")
    assert yaml.safe_load((tmp_path / "c.yaml").read_text())["train"]["lr"] == "5e-4"  # what PyYAML gives
    cfg = load_config(tmp_path / "c.yaml")
    assert cfg.train.lr == 5e-4 and cfg.train.weight_decay == 1e-2 and cfg.loss.weights == {"pan": 2.0}
    cfg = apply_overrides(Config(), {"train.lr": yaml.safe_load("1e-3"), "loss.weights.scale": yaml.safe_load("3e-1")})
    assert cfg.train.lr == 1e-3 and cfg.loss.weights["scale"] == 0.3
    assert isinstance(cfg.train.lr, float)
