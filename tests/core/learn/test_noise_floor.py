"""The built-in corpus's noise floor is a floor: on data whose Bayes predictor is known, the estimate from
16 other draws comes out at the true best ratio, not above it (the mean of 16 draws' own noise, rare keys
no other draw has, heads that are pure noise), and never above the constant."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from core.config import REGRESSION_TARGETS, ModelConfig
from core.learn.evaluate import noise_floor

DRAWS = 16
T = 200_000  # positions (one window, one track, T steps)


def _data(rng, y_of, oracle_of, keys=None):
    """A val dict of one video track with T steps: each regression target from ``y_of`` / ``oracle_of``."""
    r = len(REGRESSION_TARGETS)
    targets = np.zeros((1, 1, T, r), np.float32)
    oracle = np.zeros_like(targets)
    for i in range(r):
        targets[0, 0, :, i], oracle[0, 0, :, i] = y_of(i), oracle_of(i)
    val = {
        "targets": targets,
        "oracle_targets": oracle,
        "target_valid": np.ones_like(targets, bool),
        "track_kind": np.zeros((1, 1), np.int64),  # video
    }
    if keys is not None:
        y, k = keys
        val.update(
            keyframe=y[None, None].astype(np.float32),
            oracle_keyframe=(k / DRAWS)[None, None].astype(np.float32),
            keyframe_valid=np.ones((1, 1, T), bool),
        )
    return val


def _scalers():
    r = len(REGRESSION_TARGETS)
    return SimpleNamespace(target_mean=np.zeros(r), target_std=np.ones(r))


def _baseline(rate=0.01):
    reg = {name: {"audio": 0.0, "video": 0.0} for name in REGRESSION_TARGETS}
    return {"regression": reg, "keyframe": {"audio": rate, "video": rate}}


def test_regression_floor_is_the_bayes_ratio_and_never_above_the_constant():
    rng = np.random.default_rng(0)
    signal = rng.normal(size=T)  # what the structure decides (variance 1), for the first target only
    noise = 0.5  # the draw's own jitter: the Bayes predictor's error variance 0.25

    def draw(i):
        return (signal if i == 0 else 0.0) + rng.normal(scale=noise, size=T)

    def oracle(i):  # the mean of 16 other draws of the same structure
        return (signal if i == 0 else 0.0) + rng.normal(scale=noise, size=(DRAWS, T)).mean(axis=0)

    cfg = ModelConfig(classify=[])
    f = noise_floor(_data(rng, draw, oracle), _scalers(), cfg, _baseline(), draws=DRAWS)
    # structured head: Bayes 0.25 against the constant's 1.25 (and the ratios' 0.01 smoothing); the raw
    # 16-draw estimate, 0.25 (1 + 1/16), said 0.219
    assert f[f"ratio/{REGRESSION_TARGETS[0]}"] == pytest.approx(0.26 / 1.26, abs=0.005)
    # pure-noise heads: nothing beats the constant; raw, the 16-draw mean scored 1 + 1/16
    for name in REGRESSION_TARGETS[1:]:
        assert 0.97 <= f[f"ratio/{name}"] <= 1.0


def test_key_floor_is_not_inflated_by_keys_no_other_draw_has():
    rng = np.random.default_rng(1)
    q = np.where(rng.random(T) < 0.02, 0.3, 0.002)  # the true key rate per step: rare, clustered
    y = (rng.random(T) < q).astype(np.float64)
    k = rng.binomial(DRAWS, q).astype(np.float64)  # how many of 16 other draws have a key there
    zero = np.zeros(T)
    val = _data(rng, lambda i: zero, lambda i: zero, keys=(y, k))
    rate = float(y.mean())
    f = noise_floor(val, _scalers(), ModelConfig(targets=[]), _baseline(rate), draws=DRAWS)

    def ratio(p):
        p = np.clip(p, 1e-4, 1 - 1e-4)
        ce = -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()
        base = -(y * np.log(rate) + (1 - y) * np.log(1 - rate)).mean()
        return (ce + 0.01) / (base + 0.01)

    bayes, raw = ratio(q), ratio(k / DRAWS)
    assert raw > bayes + 0.1  # k / 16, clipped at 1e-4: the old estimate, well above the true floor
    assert abs(f["ratio/keyframe"] - bayes) < 0.05
