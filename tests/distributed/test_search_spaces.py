"""Every search space samples 50 times into valid configs; user space files (.py, .yaml) work and pickle."""

from __future__ import annotations

import dataclasses
import pickle
import re

import optuna
import pytest

import search_spaces
import search_spaces.loss_weights
from core.config import Config, apply_overrides, config_from_dict

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
    seen, seen_floor = set(), set()
    for params in _samples(space):
        cfg = search_spaces.config_of(Config(), params)
        again = config_from_dict(cfg.to_dict())  # the stored config rebuilds
        assert again == cfg
        if name.startswith("architecture") or name == "full":
            assert cfg.model.d_model % cfg.model.n_heads == 0
            seen.add((cfg.model.attention, cfg.train.optimizer))
        if name in ("loss_weights", "full"):
            assert set(cfg.loss.weights) == set(search_spaces.loss_weights.HEADS)
            # the power is a dimension only where the programme weighting is on
            assert ("loss.programme_power" in params) == (params["loss.programme_floor"] > 0)
            seen_floor.add(params["loss.programme_floor"])
        if name in ("training", "full"):
            seen.add(round(cfg.train.context_max, 1))
    if name != "loss_weights":
        assert len(seen) >= 4  # the choices are actually explored
    if name in ("loss_weights", "full"):
        assert seen_floor == {0.0, 0.1}  # both sides of the condition were sampled
    # Tune ships the space to its searcher by pickling: the copy must sample exactly what the original does
    copy = pickle.loads(pickle.dumps(space))
    a, b = (optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=7)).ask() for _ in range(2))
    assert (space(a) or {}) == (copy(b) or {}) and a.params == b.params and a.params


def test_full_space_covers_what_decides_quality():
    """Architecture, loss weights, context and fine-tuning settings, each a real config field."""
    params = next(_samples(search_spaces.resolve("full")))
    cfg = search_spaces.config_of(Config(), params)
    for key in (
        "model.n_layers",
        "model.attention",
        "model.dropout",
        "loss.weights.opacity",
        "loss.keyframe_pos_scale",
        "loss.regression",
        "train.context_max",
        "train.programme_balance",
        "train.warmup_epochs",
        "train.grad_clip",
        "train.lr",
        "train.weight_decay",
    ):
        assert key in params
    assert cfg.train.context_max == params["train.context_max"] and cfg.train.lr == params["train.lr"]


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


@pytest.mark.parametrize("name", search_spaces.NAMES)
def test_the_default_config_is_a_point_of_every_named_space(name):
    """A search can start from the default: its point rebuilds the default config exactly."""
    default = Config()
    point, outside = search_spaces.default_point(search_spaces.resolve(name), default)
    assert outside == [] and point
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.enqueue_trial(point)  # what OptunaSearch(points_to_evaluate=...) does
    trial = study.ask()
    derived = search_spaces.resolve(name)(trial) or {}
    assert trial.params == point
    got = search_spaces.config_of(default, {**trial.params, **derived})
    assert all(got.loss.weight(h) == 1.0 for h in search_spaces.loss_weights.HEADS)  # explicit 1.0 = unset
    assert dataclasses.replace(got, loss=dataclasses.replace(got.loss, weights={})) == default


def test_default_point_names_what_lies_outside_the_space(tmp_path):
    f = tmp_path / "narrow.yaml"
    f.write_text("base: architecture\ntrain.lr: {type: float, low: 1.0e-2, high: 1.0e-1, log: true}\n")
    point, outside = search_spaces.default_point(search_spaces.resolve(str(f)), Config())
    assert outside == ["train.lr"] and point["model.n_layers"] == 2
    # a width the space cannot derive (heads x head size) is outside too
    _, outside = search_spaces.default_point(
        search_spaces.resolve("architecture"),
        apply_overrides(Config(), {"model.d_model": 40, "model.n_heads": 4, "model.d_ff": 80}),
    )
    assert "head_dim" in outside
    g = tmp_path / "asks_more.py"
    g.write_text(
        "def space(trial):\n"
        "    trial.suggest_float('train.lr', 1e-4, 1e-2, log=True)\n"
        "    return {'train.seed': trial.number}\n"
    )
    point, outside = search_spaces.default_point(search_spaces.resolve(str(g)), Config())
    assert len(outside) == 1 and "more than suggestions" in outside[0]


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


def test_multivariate_tpe_searches_the_full_space_past_its_random_start():
    """--searcher tpe-mv: Optuna's multivariate TPE (groups for the define-by-run space, the constant liar)
    proposes valid configs of the full space after its random start-up too, and is seeded."""
    from distributed.settings import SearchSettings
    from distributed.tune import _searcher

    def proposals(seed):
        searcher = _searcher(search_spaces.resolve("full"), SearchSettings(searcher="tpe-mv", seed=seed))
        assert searcher._sampler.__class__.__name__ == "TPESampler" and searcher._sampler._multivariate
        out = []
        for i in range(14):  # past the 10 random start-up trials
            params = searcher.suggest(f"t{i}")
            cfg = search_spaces.config_of(Config(), params)
            assert cfg.model.d_model % cfg.model.n_heads == 0
            searcher.on_trial_complete(f"t{i}", {"val_objective": 1.0 - 0.05 * cfg.model.n_layers + 0.001 * i})
            out.append(params)
        return out

    first = proposals(0)
    assert first == proposals(0)
    assert len({str(sorted(p.items())) for p in first[10:]}) > 1


def test_every_searcher_maps_to_its_seeded_sampler():
    """tpe-mv (the default, measured best by benchmarks/bench_asha.py), tpe and random map to their Optuna
    samplers (distributed.samplers, which the Ray and the debug search share), seeded; an unknown name is
    refused."""
    import optuna

    from distributed.samplers import sampler_of
    from distributed.settings import SEARCHERS, SearchSettings

    assert SearchSettings().searcher == "tpe-mv"
    mv, uni, rnd = (sampler_of(name, 3) for name in ("tpe-mv", "tpe", "random"))
    assert isinstance(mv, optuna.samplers.TPESampler) and mv._multivariate and mv._constant_liar
    assert isinstance(uni, optuna.samplers.TPESampler) and not uni._multivariate
    assert isinstance(rnd, optuna.samplers.RandomSampler)
    assert mv._n_startup_trials == uni._n_startup_trials == SearchSettings().startup_trials == 10  # Optuna's own
    assert sampler_of("tpe-mv", 3, 16)._n_startup_trials == sampler_of("tpe", 3, 16)._n_startup_trials == 16
    assert set(SEARCHERS) == {"tpe-mv", "tpe", "random"}
    draws = [optuna.create_study(sampler=sampler_of("random", 3)).ask().suggest_float("x", 0, 1) for _ in range(2)]
    assert draws[0] == draws[1]  # seeded
    with pytest.raises(ValueError, match="unknown searcher"):
        sampler_of("grid", 0)
