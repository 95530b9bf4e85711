"""core.data.context: the track block's key rate and interpolation shares shrink towards the timeline's
given clips of the same kind before the training prior (key habits are the editor's)."""

from __future__ import annotations

import numpy as np
import pytest

from core.config import REGRESSION_TARGETS
from core.data.batch import FEATURES
from core.data.context import (
    INTERP_PRIOR_KEYS,
    KEY_PRIOR_STEPS,
    TRACK_INTERP_LOG,
    TRACK_KEY_LOGIT,
    ClipTable,
    TimelineSummary,
)
from core.data.scalers import (
    EVIDENCE_KEYS,
    FORMAT_INTERP,
    FORMAT_PRIOR_KEYS,
    interpolation_by_dialect,
    interpolation_evidence,
)

R = len(REGRESSION_TARGETS)
PRIOR = {"keyframe": {"video": 0.01, "audio": 0.02}, "interpolation": [0.7, 0.3, 0.0]}


def _raw(
    kinds: list[int], keys: dict[int, list[tuple[int, int]]], T: int = 8, dialect: str | None = None
) -> dict[str, np.ndarray]:
    """One window, one clip per track spanning T steps; ``keys[track]`` = [(step, interpolation class)]."""
    K = len(kinds)
    features = np.zeros((1, K, T, len(FEATURES)), np.float32)
    if dialect:
        features[..., FEATURES.index("dialect_" + dialect)] = 1.0
    raw = {
        "features": features,
        "timeline": np.zeros(1, np.int64),
        "start_step": np.zeros(1, np.int64),
        "clip_id": np.zeros((1, K, T), np.int64),
        "step_mask": np.ones((1, K, T), bool),
        "track_mask": np.ones((1, K), bool),
        "track_row": np.arange(K)[None, :],
        "track_kind": np.array([kinds]),
        "source_id": np.zeros((1, K, T), np.int64),
        "targets": np.zeros((1, K, T, R), np.float32),
        "target_valid": np.zeros((1, K, T, R), bool),
        "keyframe_valid": np.ones((1, K, T), bool),
        "keyframe": np.zeros((1, K, T), np.int64),
        "interp_valid": np.zeros((1, K, T), bool),
        "interpolation": np.zeros((1, K, T), np.int64),
    }
    for k, ks in keys.items():
        for t, c in ks:
            raw["keyframe"][0, k, t] = 1
            raw["interp_valid"][0, k, t] = True
            raw["interpolation"][0, k, t] = c
    return raw


def test_a_track_without_keys_takes_its_timelines_habits_and_a_keyed_track_shrinks_towards_them():
    # video tracks 0 (two smooth keys) and 1 (none), audio track 2 (none); every clip given
    raw = _raw([0, 0, 1], {0: [(0, 1), (4, 1)]})
    table = ClipTable(raw, np.zeros(R), np.ones(R))
    s = TimelineSummary(table, 0, np.ones(len(table), bool), PRIOR).track_block
    q0 = np.array(PRIOR["interpolation"])
    kind_q = (np.array([0.0, 2.0, 0.0]) + INTERP_PRIOR_KEYS * q0) / (2 + INTERP_PRIOR_KEYS)
    offset = TRACK_INTERP_LOG.start  # the track block starts the summary
    interp = np.exp(s[:, offset : offset + 3])
    assert interp[1] == pytest.approx(np.maximum(kind_q, 1e-4), abs=1e-6)  # no keys: the timeline's video habit
    own = (np.array([0.0, 2.0, 0.0]) + INTERP_PRIOR_KEYS * kind_q) / (2 + INTERP_PRIOR_KEYS)
    assert interp[0] == pytest.approx(np.maximum(own, 1e-4), abs=1e-6)
    assert interp[2] == pytest.approx(np.maximum(q0, 1e-4), abs=1e-6)  # audio: no given audio keys, the prior
    assert interp[1, 1] > q0[1] and interp[0, 1] > interp[1, 1]  # smooth, more so where the keys are
    # the key rate: 2 keys in 16 given video steps, shrunk to the prior with KEY_PRIOR_STEPS
    kind_rate = (2 + KEY_PRIOR_STEPS * 0.01) / (16 + KEY_PRIOR_STEPS)
    logit = s[:, TRACK_KEY_LOGIT]
    assert 1 / (1 + np.exp(-logit[1])) == pytest.approx((0 + KEY_PRIOR_STEPS * kind_rate) / (8 + KEY_PRIOR_STEPS))
    audio_rate = KEY_PRIOR_STEPS * 0.02 / (8 + KEY_PRIOR_STEPS)  # 8 given audio steps without a key
    assert 1 / (1 + np.exp(-logit[2])) == pytest.approx(KEY_PRIOR_STEPS * audio_rate / (8 + KEY_PRIOR_STEPS))


def test_clips_that_are_not_given_reveal_nothing():
    raw = _raw([0, 0], {0: [(0, 1), (4, 1)]})
    table = ClipTable(raw, np.zeros(R), np.ones(R))
    given = np.array([False, True])  # the keyed clip is not given
    s = TimelineSummary(table, 0, given, PRIOR).track_block
    offset = TRACK_INTERP_LOG.start
    assert np.exp(s[1, offset : offset + 3]) == pytest.approx(np.maximum(PRIOR["interpolation"], 1e-4), abs=1e-6)


def test_without_given_keys_a_track_starts_from_its_dialects_training_shares():
    # training: two linear keys in an FCPXML timeline; the format's habit (smooth) outweighs them
    train = _raw([0], {0: [(0, 0), (4, 0)]}, dialect="fcpxml")
    by_dialect = interpolation_by_dialect(train)
    habit = FORMAT_PRIOR_KEYS * np.asarray(FORMAT_INTERP["fcpxml"])
    fcpx = (np.array([2.0, 0.0, 0.0]) + habit) / (2 + FORMAT_PRIOR_KEYS)
    assert by_dialect["fcpxml"] == pytest.approx(fcpx.tolist())
    assert by_dialect["xmeml"] == pytest.approx(list(FORMAT_INTERP["xmeml"]))  # no xmeml keys: the format's habit
    # how far the model's own interpolation logits are followed: n / (n + EVIDENCE_KEYS) keys per dialect
    evidence = interpolation_evidence(train)
    assert evidence == pytest.approx({"xmeml": 0.0, "fcpxml": 2 / (2 + EVIDENCE_KEYS), "mlt": 0.0})
    prior = {**PRIOR, "interpolation_by_dialect": by_dialect}
    offset = TRACK_INTERP_LOG.start
    cases = (("fcpxml", fcpx), ("xmeml", np.asarray(FORMAT_INTERP["xmeml"])), (None, PRIOR["interpolation"]))
    for dialect, want in cases:
        raw = _raw([0], {}, dialect=dialect)
        table = ClipTable(raw, np.zeros(R), np.ones(R))
        s = TimelineSummary(table, 0, np.zeros(len(table), bool), prior).track_block  # nothing given
        assert np.exp(s[0, offset : offset + 3]) == pytest.approx(np.maximum(want, 1e-4), abs=1e-6), dialect


def test_the_robust_track_block_is_the_median_and_spread_of_the_given_clips_on_the_track():
    from core.data.context import N_SUMMARY_MEAN_ONLY, TRACK_MEDIAN, TRACK_SPREAD

    # track 0: five clips of 4 steps, rotation 0, 0, 0, 90, 45; track 1: one clip at 10; track 2: none given
    T, r = 20, REGRESSION_TARGETS.index("rotation")
    raw = _raw([0, 0, 0], {}, T=T)
    raw["clip_id"][0] = np.arange(T)[None, :] // 4
    raw["clip_id"][0, 1:] = 0
    raw["target_valid"][..., r] = True
    raw["targets"][0, 0, :, r] = np.repeat([0.0, 0.0, 0.0, 90.0, 45.0], 4)
    raw["targets"][0, 1:, :, r] = 10.0
    table = ClipTable(raw, np.zeros(R), np.ones(R))
    assert len(table) == 7
    given = np.array([True, True, True, True, False, True, False])  # the 45-degree clip is not given
    s = TimelineSummary(table, 0, given, PRIOR)
    track = np.array([0, 1, 2])
    summary, _ = s.tokens(track, np.zeros(3, np.int64), raw["clip_id"][0], raw["step_mask"][0])
    med, spread = summary[:, 0, TRACK_MEDIAN][:, r], summary[:, 0, TRACK_SPREAD][:, r]
    assert med == pytest.approx([0.0, 10.0, 0.0])  # the median of 0, 0, 0, 90; the one clip; nothing given
    assert spread == pytest.approx([np.std([0.0, 0.0, 0.0, 90.0]), 0.0, 0.0])
    from core.data.context import TRACK_MEAN

    assert summary[0, 0, TRACK_MEAN][r] == pytest.approx(22.5)  # the mean follows the odd clip
    assert TRACK_MEDIAN.start == N_SUMMARY_MEAN_ONLY  # the robust block comes after the mean-only layout
    assert (summary[:, :, TRACK_MEDIAN] == summary[:, :1, TRACK_MEDIAN]).all()  # broadcast over the track


def test_the_geometry_block_is_the_mean_of_the_given_video_clips_of_the_same_source_size():
    from core.data.batch import FEATURES as F_NAMES
    from core.data.context import GEOMETRY_HAS, GEOMETRY_MEAN

    # three video tracks of one clip each: 720x576 sources on tracks 0 and 1, 1920x1080 on track 2; an
    # audio track (3) whose clip comes from a 720x576 file too
    r = REGRESSION_TARGETS.index("scale")
    raw = _raw([0, 0, 0, 1], {}, T=4)
    raw["features"][0, :, :, F_NAMES.index("src_size_known")] = 1.0
    raw["features"][0, [0, 1, 3], :, F_NAMES.index("src_w_log_ratio")] = np.log(720 / 1920)
    raw["features"][0, [0, 1, 3], :, F_NAMES.index("src_h_log_ratio")] = np.log(576 / 1080)
    lvl = REGRESSION_TARGETS.index("level_db")
    raw["target_valid"][0, :3, :, r] = True
    raw["target_valid"][0, 3, :, lvl] = True
    raw["targets"][0, :3, :, r] = np.array([133.0, 187.5, 100.0])[:, None]
    raw["targets"][0, 3, :, lvl] = -6.0
    table = ClipTable(raw, np.zeros(R), np.ones(R))
    given = np.array([True, False, False, True])  # track 0's clip and the audio clip are given
    s = TimelineSummary(table, 0, given, PRIOR)
    summary, _ = s.tokens(np.arange(4), np.array([0, 0, 0, 1]), raw["clip_id"][0], raw["step_mask"][0])
    assert summary[:, 0, GEOMETRY_HAS][:, r].tolist() == [1.0, 1.0, 0.0, 0.0]  # 1080p: no same-size clip given
    assert not summary[:, :, GEOMETRY_HAS][:, :, lvl].any()  # the audio clip's size groups nothing
    assert summary[:2, 0, GEOMETRY_MEAN][:, r] == pytest.approx([133.0, 133.0])  # track 1 learns 133 % from track 0
    assert summary[2, 0, GEOMETRY_MEAN][r] == 0.0
    raw["features"][0, :, :, F_NAMES.index("src_size_known")] = 0.0  # sizes the file does not state group nothing
    s = TimelineSummary(ClipTable(raw, np.zeros(R), np.ones(R)), 0, given, PRIOR)
    summary, _ = s.tokens(np.arange(4), np.array([0, 0, 0, 1]), raw["clip_id"][0], raw["step_mask"][0])
    assert not summary[..., GEOMETRY_HAS].any()
