"""A tiny real training run: built-in XML -> parse -> windows -> train -> checkpoint -> reload.

Uses a few heads (scale, opacity, level, keyframe, interpolation) so a few epochs of a tiny model beat
the constant baseline; the full-size figures are the slow test in test_train_quality.py.
"""

from __future__ import annotations

import json
import math
import shutil

import pytest
import torch

from core.config import apply_overrides
from core.data.batch import MODEL_FEATURES
from core.data.dataset import WindowDataset, collate
from core.learn.checkpoint import CHECKPOINT_FILE, PersistenceError, init_weights, load_checkpoint, load_state
from core.learn.model import build_model
from core.learn.train_loop import Hooks, LocalHooks, TrainingError, train
from core.serve.export import export_model, load_exported
from tests.core.learn._runs import Interrupt


@pytest.fixture(scope="module")
def trained(tiny, tmp_path_factory):
    cfg, data = tiny
    out = tmp_path_factory.mktemp("run")
    hooks = LocalHooks(out)
    res = train(cfg, data, hooks, progress=False, log=lambda s: None)
    return cfg, data, out, res, hooks


def test_training_beats_constant_baseline(trained):
    cfg, data, out, res, hooks = trained
    assert res.epochs_run == cfg.train.epochs
    losses = [h["train_loss"] for h in res.history]
    assert losses[-1] < losses[0]
    assert res.best["val_objective"] < 1.0, res.best
    # the heads the structure alone teaches a tiny model on 24 timelines: where keys go (a static value
    # is a key on a clip's first frame) and how they ease; the values need the full corpus
    assert res.history[-1]["ratio/keyframe"] < 1.0 and res.history[-1]["ratio/interpolation"] < 1.0
    for key in (
        "val_objective_ctx",
        "mae/scale",
        "keyframe_f1",
        "keyframe_f1_within1",
        "interp_acc",
        "baseline/mae/scale",
    ):
        assert key in res.history[-1]
    # reports carry the per-head ratios whose mean is the objective
    last = res.history[-1]
    ratios = [v for k, v in last.items() if k.startswith("ratio/")]
    assert math.isclose(sum(ratios) / len(ratios), last["val_objective"], rel_tol=1e-9)
    assert len(hooks.history) == cfg.train.epochs


def test_checkpoint_reloads_with_same_predictions(trained):
    cfg, data, out, res, _ = trained
    model, cfg2, scalers = load_checkpoint(out / "checkpoints" / "last")
    assert cfg2 == cfg
    assert scalers.to_json() == data.scalers.to_json()
    # rebuild the final weights a second way: from the raw state file
    st = load_state(out / "checkpoints" / "last" / CHECKPOINT_FILE)
    assert st["epoch"] == cfg.train.epochs
    batch = collate([WindowDataset(data.val, scalers, context=0.5, seed=3)[i] for i in range(4)])
    with torch.no_grad():
        a = model(batch)
        model.load_state_dict(st["model"])
        b = model(batch)
    for k in a:
        torch.testing.assert_close(a[k], b[k])
    best = json.loads((out / "checkpoints" / "best" / "metrics.json").read_text())
    assert best["val_objective"] == pytest.approx(res.best["val_objective"])
    # training bounded each head by its parameter's range in these scalers' units: opacity at most 100 %
    j = list(model.regression).index("opacity")
    r = scalers.target_names.index("opacity")
    assert float(model.range_hi[j]) == pytest.approx((100.0 - scalers.target_mean[r]) / scalers.target_std[r])
    assert float(model.range_lo[j]) == pytest.approx((0.0 - scalers.target_mean[r]) / scalers.target_std[r])


def test_export_torchscript_and_predictor_match_checkpoint(trained, tmp_path):
    cfg, data, out, res, _ = trained
    exported = export_model(out / "checkpoints" / "best", tmp_path / "model")
    for name in ("weights.pt", "model.ts", "config.yaml", "scalers.json", "metrics.json", "MODEL_CARD.md"):
        assert (exported / name).is_file(), name
    model, _, scalers = load_checkpoint(out / "checkpoints" / "best")
    eager = load_exported(exported)
    scripted = load_exported(exported, torchscript=True)
    batch = collate([WindowDataset(data.val, scalers, context=0.5, seed=3)[i] for i in range(4)])
    with torch.no_grad():
        ref = model(batch)
        for pred in (eager, scripted):
            got = pred.model(batch)
            for k in ref:
                torch.testing.assert_close(got[k], ref[k], rtol=1e-5, atol=1e-5)


def test_resume_does_not_redo_finished_epochs(tiny, tmp_path):
    cfg, data = tiny
    cfg = apply_overrides(cfg, {"train.epochs": 3})
    with pytest.raises(KeyboardInterrupt):
        train(cfg, data, Interrupt(tmp_path, stop_after=2), progress=False, log=lambda s: None)
    hooks = LocalHooks(tmp_path, resume=tmp_path)
    res = train(cfg, data, hooks, progress=False, log=lambda s: None)
    assert [h["epoch"] for h in hooks.history] == [3]  # epochs 1 and 2 were not run again
    assert [h["epoch"] for h in res.history] == [1, 2, 3]  # the history came back with the checkpoint
    # the resumed run ends where an uninterrupted one does (same data order, RNG and optimizer state)
    full = LocalHooks(tmp_path / "full")
    train(cfg, data, full, progress=False, log=lambda s: None)
    assert hooks.history[-1]["train_loss"] == pytest.approx(full.history[-1]["train_loss"], rel=1e-5)
    assert hooks.history[-1]["val_objective"] == pytest.approx(full.history[-1]["val_objective"], rel=1e-5)


def test_non_finite_loss_stops_with_clear_message(tiny):
    cfg, data = tiny
    bad = apply_overrides(cfg, {"train.lr": 1e30, "train.grad_clip": 0.0, "train.epochs": 3})
    with pytest.raises(TrainingError, match="non-finite|explosion"):
        train(bad, data, Hooks(), progress=False, log=lambda s: None)


def test_resume_from_missing_folder_is_clear(tiny, tmp_path):
    cfg, data = tiny
    with pytest.raises(FileNotFoundError, match="no state.pt"):
        train(cfg, data, LocalHooks(tmp_path, resume=tmp_path / "nope"), progress=False, log=lambda s: None)


def test_init_from_starts_from_the_checkpoint_weights(trained, tmp_path):
    """train.init_from (scripts/train.py --init): the run starts from another run's best weights."""
    cfg, data, out, res, _ = trained
    best, _, _ = load_checkpoint(out / "checkpoints" / "best")
    fresh = build_model(cfg.model, n_features=len(MODEL_FEATURES))
    assert init_weights(fresh, out, MODEL_FEATURES) == out / "checkpoints" / "best"  # a run folder finds its best
    for k, v in best.state_dict().items():
        assert torch.equal(fresh.state_dict()[k], v), k
    # One epoch at a negligible learning rate keeps what it started from: the checkpoint's objective,
    # where the same epoch from random weights stays near the constant.
    still = {"train.epochs": 1, "train.lr": 1e-9, "train.warmup_epochs": 0}
    tuned = train(apply_overrides(cfg, {**still, "train.init_from": str(out)}), data, progress=False, log=print)
    scratch = train(apply_overrides(cfg, still), data, progress=False, log=lambda s: None)
    assert tuned.best["val_objective"] == pytest.approx(res.best["val_objective"], abs=0.02)
    assert tuned.best["val_objective"] < scratch.best["val_objective"] - 0.05


def test_init_from_refuses_another_model_or_other_features(trained, tmp_path):
    cfg, _, out, _, _ = trained
    other = build_model(apply_overrides(cfg, {"model.preset": "compact"}).model, n_features=len(MODEL_FEATURES))
    with pytest.raises(PersistenceError, match=r"best/state\.pt: weights do not fit this model"):
        init_weights(other, out, MODEL_FEATURES)
    ck = tmp_path / "ck"
    shutil.copytree(out / "checkpoints" / "best", ck)
    sc = json.loads((ck / "scalers.json").read_text())
    sc["feature_names"][0] = "a_feature_this_code_lacks"
    (ck / "scalers.json").write_text(json.dumps(sc))
    with pytest.raises(PersistenceError, match=r"ck/scalers\.json: trained on other input features.*a_feature_this"):
        init_weights(build_model(cfg.model, n_features=len(MODEL_FEATURES)), ck, MODEL_FEATURES)
    with pytest.raises(PersistenceError, match="no state.pt"):
        init_weights(other, tmp_path, MODEL_FEATURES)


def test_init_from_older_weights_keeps_what_they_lack_from_the_new_model(trained, tmp_path):
    """Weights written before the rule's trust and the everywhere-interpolation prior existed fine-tune the
    current model: what they lack keeps the new model's values (not the legacy defaults a plain load gives)."""
    cfg, _, out, _, _ = trained
    ck = tmp_path / "old"
    shutil.copytree(out / "checkpoints" / "best", ck)
    state = load_state(ck / CHECKPOINT_FILE)
    for k in ("rule_trust", "interp_prior_everywhere"):
        state["model"].pop(k)
    torch.save(state, ck / CHECKPOINT_FILE)
    fresh = build_model(cfg.model, n_features=len(MODEL_FEATURES))
    init_weights(fresh, ck, MODEL_FEATURES)
    assert bool(fresh.interp_prior_everywhere)
    assert torch.equal(fresh.rule_trust, torch.zeros_like(fresh.rule_trust))
    legacy, _, _ = load_checkpoint(ck)  # loading it as it is: the behaviour it was trained with
    assert not bool(legacy.interp_prior_everywhere)


@pytest.mark.parametrize("val_windows", [0, 7])
def test_validation_metrics_reproduce_the_runs_own_figures_for_its_best_checkpoint(trained, val_windows, tmp_path):
    """What stage 2 scores a mean of refits with must be what training reported for each refit: the same
    windows (all, or the even subset of train.val_windows), draws of given clips and constants."""
    from core.learn.train_loop import validation_metrics

    cfg, data, out, res, _ = trained
    if val_windows:  # a run that validates on a subset: its own figures, and the scoring's, are of that subset
        assert len(data.val["features"]) > 2 * val_windows
        cfg = apply_overrides(cfg, {"train.val_windows": val_windows, "train.epochs": 1})
        out = tmp_path / "sub"
        res = train(cfg, data, LocalHooks(out), progress=False, log=lambda s: None)
    model, _, _ = load_checkpoint(out / "checkpoints" / "best")
    got = validation_metrics(model, cfg, data)
    for key in ("val_objective", "val_objective_ctx", "val_objective_vs_data", "ratio/scale", "ctx_ratio/level_db"):
        assert got[key] == pytest.approx(res.best[key], rel=1e-5), key
