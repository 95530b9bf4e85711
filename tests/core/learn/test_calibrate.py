"""Per-head stacking with the train constant and the same-track rule (core.learn.calibrate), on the
timelines of test_context_training (every clip of a track shares one value drawn per track): the rule
is exact there for the tracks with a given clip, and nothing but the mean is learnable without one."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from core.config import config_from_dict
from core.data.batch import MODEL_FEATURES
from core.data.dataset import WindowDataset, collate
from core.data.scalers import Scalers
from core.learn.calibrate import calibrate, set_constants
from core.learn.evaluate import compare
from core.learn.loss import MultiTrackLoss
from core.learn.model import build_model
from core.learn.rules import comparators, constant_of
from tests.core.learn.test_context_training import WINDOW, windows


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    train_raw, cal_raw, val_raw = windows(range(30)), windows(range(500, 512)), windows(range(1000, 1012))
    scalers = Scalers.fit(train_raw)
    cfg = config_from_dict(
        {
            "data": {"window": WINDOW, "overlap": 0, "max_tracks": 2},
            "model": {"preset": "tiny", "dropout": 0.0, "targets": ["scale", "pan"], "classify": ["keyframe"]},
        }
    )
    return cfg, scalers, cal_raw, val_raw


def model_of(cfg):
    torch.manual_seed(1)
    # an untrained model: its heads are noise around its resting value, worse than the constant
    model = build_model(cfg.model, n_features=len(MODEL_FEATURES)).eval()
    with torch.no_grad():
        for head in model.regression.values():
            head.bias[1:] = 3.0  # gates open: the noise reaches the outputs
            head.weight.mul_(10.0)
        model.rest.fill_(0.8)
    return model


def batch_of(raw, scalers, context=0.5):
    ds = WindowDataset(raw, scalers, context=context, seed=3)
    return collate([ds[i] for i in range(8)])


def run(model, cfg, scalers, raw, context):
    loader = DataLoader(WindowDataset(raw, scalers, context=context, seed=5), batch_size=32, collate_fn=collate)
    loss_fn = MultiTrackLoss(cfg.loss, cfg.model, keyframe_pos_weight=scalers.keyframe_pos_weight)
    const = constant_of(raw, scalers.target_mean, scalers.target_std)
    comps = comparators(scalers, const, cfg.model.targets, cfg.model.classify)
    stds = torch.as_tensor(scalers.target_std, dtype=torch.float32)
    return compare(model, loader, loss_fn, comps, stds, cfg.model, torch.device("cpu"))


def test_identity_blend_changes_nothing_and_zero_blend_is_the_constant(setup):
    cfg, scalers, _, val_raw = setup
    model = model_of(cfg)
    model.agree_rule.fill_(False)  # the stacking alone (the agree rule would replace the constant where given)
    batch = batch_of(val_raw, scalers)
    with torch.no_grad():
        plain = model(batch)
        set_constants(model, scalers, scalers.keyframe_pos_weight or 1.0)
        model.calibrated.fill_(True)
        same = model(batch)
        model.blend.zero_()
        const = model(batch)
    for name in ("scale", "pan"):
        torch.testing.assert_close(same[name], plain[name], atol=1e-5, rtol=1e-5)
    d_plain = plain["keyframe"][..., 1] - plain["keyframe"][..., 0]
    torch.testing.assert_close(same["keyframe"][..., 1] - same["keyframe"][..., 0], d_plain, atol=1e-5, rtol=1e-5)
    video = batch["track_kind"] == 0  # (B, K)
    for name in ("scale", "pan"):
        want = torch.where(
            video[:, :, None],
            torch.tensor(scalers.baseline["regression"][name]["video"], dtype=torch.float32),
            torch.tensor(scalers.baseline["regression"][name]["audio"], dtype=torch.float32),
        ).expand_as(const[name])
        torch.testing.assert_close(const[name], want)


def test_fitted_stacking_follows_the_rule_where_given_and_the_constant_elsewhere(setup):
    cfg, scalers, cal_raw, val_raw = setup
    model = model_of(cfg)
    model.agree_rule.fill_(False)  # the stacking alone: the agree rule gives the rule's value already here
    before_none, before_half = run(model, cfg, scalers, val_raw, 0.0), run(model, cfg, scalers, val_raw, 0.5)
    fits = calibrate(model, scalers, cal_raw, scalers.keyframe_pos_weight or 1.0, context=0.5)
    assert set(fits) == {"scale", "pan", "keyframe"}
    for name in ("scale", "pan"):
        b_given = fits[name]["b_given"]
        assert b_given > 0.8, fits  # the rule is exact where a track has a given clip
    after_none, after_half = run(model, cfg, scalers, val_raw, 0.0), run(model, cfg, scalers, val_raw, 0.5)
    for name in ("scale", "pan"):
        train_key, key = f"ratio_vs_train_constant/{name}", f"ratio_vs_data_constant/{name}"
        # the untrained heads are far worse than the constant they fall back on; stacked, close to it
        assert before_none["model"][train_key] > 1.3
        assert after_none["model"][train_key] < 1.1, after_none["model"][train_key]
        rule = after_half["comparators"]["same_track"][key]
        assert after_half["model"][key] < rule + 0.1, (name, after_half["model"][key], rule)
        assert after_half["model"][key] < before_half["model"][key]


def test_calibration_travels_with_the_weights_and_old_weights_load(setup):
    cfg, scalers, cal_raw, val_raw = setup
    model = model_of(cfg)
    calibrate(model, scalers, cal_raw, scalers.keyframe_pos_weight or 1.0)
    batch = batch_of(val_raw, scalers)
    with torch.no_grad():
        want = model(batch)
        fresh = build_model(cfg.model, n_features=len(MODEL_FEATURES)).eval()
        fresh.load_state_dict(model.state_dict())
        scripted = torch.jit.script(fresh)
        for got in (fresh(batch), scripted(batch)):
            for k in want:
                torch.testing.assert_close(got[k], want[k])
        old = {
            k: v
            for k, v in model.state_dict().items()
            if k not in ("calibrated", "blend", "const_reg", "rule_trust", "interp_prior_everywhere")
        }
        assert bool(model.interp_prior_everywhere)
        legacy = build_model(cfg.model, n_features=len(MODEL_FEATURES)).eval()
        with torch.no_grad():
            legacy.rule_trust.fill_(-1.0)
        legacy.load_state_dict(old)  # written before calibration and the rule's trust: loads, uncalibrated
        assert not bool(legacy.calibrated)
        assert torch.equal(legacy.rule_trust, torch.zeros_like(legacy.rule_trust))  # full trust, as then
        assert not bool(legacy.interp_prior_everywhere)  # its interpolation prior only where clips were given
        assert np.allclose(legacy.blend.numpy(), [[1.0, 1.0, 0.0]] * 3)
