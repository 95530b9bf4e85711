"""Every search space samples 50 times into valid configs; user space files (.py, .yaml) work and pickle."""

from __future__ import annotations

import pickle
import re

import optuna
import pytest

import search_spaces
import search_spaces.loss_weights
from core.config import Config, config_from_dict

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _samples(space, n=50, seed=0):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    for _ in range(n):
        trial = study.ask()
        derived = space(trial) or {}
        params = {**trial.params, **derived}  # what OptunaSearch hands a trial
        study.tell(trial, 1.0)
        yield params


@pytest.mark.parametrize("name", search_spaces.NAMES)
def test_named_space_samples_valid_configs(name):
    space = search_spaces.resolve(name)
    seen = set()
    for params in _samples(space):
        cfg = search_spaces.config_of(Config(), params)
        again = config_from_dict(cfg.to_dict())  # the stored config rebuilds
        assert again == cfg
        if name != "loss_weights":
            assert cfg.model.d_model % cfg.model.n_heads == 0
            seen.add((cfg.model.attention, cfg.train.optimizer))
        if name in ("loss_weights", "full"):
            assert set(cfg.loss.weights) == set(search_spaces.loss_weights.HEADS)
    if name != "loss_weights":
        assert len(seen) >= 4  # the categorical choices are actually explored
    # Tune ships the space to its searcher by pickling: the copy must sample exactly what the original does
    copy = pickle.loads(pickle.dumps(space))
    a, b = (optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=7)).ask() for _ in range(2))
    assert (space(a) or {}) == (copy(b) or {}) and a.params == b.params and a.params


def test_architecture_space_covers_issue_list():
    params = next(_samples(search_spaces.resolve("architecture")))
    for key in (
        "model.d_model",
        "model.n_heads",
        "model.n_layers",
        "model.d_ff",
        "model.dropout",
        "model.attention",
        "train.lr",
        "train.weight_decay",
        "train.batch_size",
        "train.optimizer",
        "train.schedule",
    ):
        assert key in params


def test_python_space_file(tmp_path):
    f = tmp_path / "my_space.py"
    f.write_text("def space(trial):\n    trial.suggest_int('model.n_layers', 1, 2)\n    return {'train.epochs': 3}\n")
    space = pickle.loads(pickle.dumps(search_spaces.resolve(str(f))))  # pickled as its path
    for params in _samples(space, n=5):
        cfg = search_spaces.config_of(Config(), params)
        assert cfg.train.epochs == 3 and cfg.model.n_layers in (1, 2)


def test_yaml_space_file(tmp_path):
    f = tmp_path / "space.yaml"
    f.write_text(
        "base: architecture\n"
        "train.lr: {type: float, low: 1.0e-4, high: 1.0e-3, log: true}\n"
        "model.n_layers: {type: int, low: 2, high: 3}\n"
        "model.attention: {type: categorical, choices: [full]}\n"
        "train.epochs: 4\n"
    )
    space = pickle.loads(pickle.dumps(search_spaces.resolve(str(f))))
    for params in _samples(space, n=50):
        cfg = search_spaces.config_of(Config(), params)
        assert 1e-4 <= cfg.train.lr <= 1e-3 and cfg.model.n_layers in (2, 3) and cfg.model.attention == "full"
        assert cfg.train.epochs == 4


@pytest.mark.parametrize(
    "text, message",
    [
        ("lr: {type: float, low: 1, high: 2}\n", "not a dotted config key"),
        ("train.lr: {type: gauss, low: 1, high: 2}\n", "type must be one of"),
        ("train.lr: {type: float, low: 1}\n", "missing ['high']"),
    ],
)
def test_bad_yaml_space_names_the_key(tmp_path, text, message):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(search_spaces.SpaceError, match=re.escape(message)):
        search_spaces.resolve(str(f))


def test_unknown_space_name():
    with pytest.raises(search_spaces.SpaceError, match="use one of architecture, architecture_large"):
        search_spaces.resolve("archi")
