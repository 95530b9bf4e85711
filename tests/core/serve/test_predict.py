"""Prediction per parameter with a real tiny model: given curves stay and are context, every other
parameter gets a curve, ``params`` limits them, keys go where ``pick_keys`` puts them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.config import REGRESSION_TARGETS
from core.data.frames import grid_step, timeline_to_frames
from core.data.synth import generate_timeline
from core.data.timeline import PARAMS
from core.data.windows import make_windows, window_starts
from core.learn.keys import pick_keys
from core.serve.predict import DEFAULT_TOLERANCE, _GivenCurves


@pytest.fixture(scope="module")
def timeline():
    return generate_timeline(3)  # some clips keyed (audio levels), most not


@pytest.fixture(scope="module")
def prediction(predictor, timeline):
    # the network's own predictions: here the given values of most tracks agree (levels at one value), and the
    # agree rule (test_model.py) would hold every other clip at them, mostly the defaults, which are not written
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    predictor.model.agree_rule.fill_(False)
    try:
        return predictor.predict_timeline(timeline)
    finally:
        predictor.model.agree_rule.fill_(True)
        torch.set_num_threads(n)


def _keyed(curve):
    return [(k.time, k.value, k.interp) for k in curve.keys]


def test_given_curves_stay_and_every_other_parameter_gets_one(predictor, timeline, prediction):
    std = np.asarray(predictor.scalers.target_std)
    partly_given = 0
    for k, track in enumerate(timeline.tracks):
        for j, clip in enumerate(track.clips):
            new = prediction.predicted.get((k, j), {})
            out = prediction.annotated.tracks[k].clips[j]
            for p, curve in clip.curves.items():
                assert p not in new and _keyed(out.curves[p]) == _keyed(curve)  # given: exactly as it was
            for p in predictor.predictable(track.kind):
                if p in clip.curves:
                    continue
                if p in new:
                    assert _keyed(out.curves[p]) == _keyed(new[p])
                    assert all(clip.start <= key.time <= clip.end for key in new[p].keys)
                    continue
                # not predicted: only where every key it would get sits at the default
                r = REGRESSION_TARGETS.index(p)
                steps = np.flatnonzero(_clip_ids(predictor, timeline)[k] == j)
                v, tol = prediction.values[k, steps, r] - PARAMS[p][0], DEFAULT_TOLERANCE * std[r]
                assert len(steps) == 0 or np.abs(v).min() < tol or abs(v.mean()) < tol
            partly_given += bool(clip.curves) and bool(new)
    assert sum(len(c) for c in prediction.predicted.values()) > 10
    assert partly_given >= 1  # a clip with a curve still gets predictions for its other parameters


def _clip_ids(predictor, tl) -> np.ndarray:
    frames = timeline_to_frames(tl, predictor.cfg.data.step_s)
    return frames["clip_id"].to_numpy().reshape(len(tl.tracks), -1)


def test_keys_go_where_pick_keys_puts_them(predictor, timeline, prediction):
    step = grid_step(predictor.cfg.data.step_s)
    clip_ids = _clip_ids(predictor, timeline)
    threshold = predictor.cfg.train.keyframe_threshold
    checked = 0
    for k, track in enumerate(timeline.tracks):
        todo = [
            j for j, c in enumerate(track.clips) if any(p not in c.curves for p in predictor.predictable(track.kind))
        ]
        mask = np.isin(clip_ids[k], todo)
        keys = pick_keys(torch.from_numpy(prediction.keyframe_prob[k]), torch.from_numpy(mask), threshold).numpy()
        for (kk, j), curves in prediction.predicted.items():
            if kk != k:
                continue
            steps = np.flatnonzero(clip_ids[k] == j)
            picked = list(steps[keys[steps]])
            for curve in curves.values():
                at = [int(key.time / step) for key in curve.keys]
                assert at == (picked or [steps[0]])  # no key picked: one key at the clip's first step
                checked += 1
    assert checked


def test_params_limit_what_is_predicted(predictor, timeline):
    pred = predictor.predict_timeline(timeline, params=["opacity", "level_db"])
    names = {p for curves in pred.predicted.values() for p in curves}
    assert names and names <= {"opacity", "level_db"}
    with pytest.raises(ValueError, match="unknown parameter"):
        predictor.predict_timeline(timeline, params=["volume"])


def test_context_is_per_parameter(predictor, timeline):
    d = predictor.cfg.data
    frames = timeline_to_frames(timeline, d.step_s)
    raw = make_windows(frames, d.window, d.overlap, d.max_tracks)
    S = int(frames["step"].max()) + 1
    music = next(k for k, t in enumerate(timeline.tracks) if any("level_db" in c.curves for c in t.clips))
    given = np.zeros((len(timeline.tracks), max(len(t.clips) for t in timeline.tracks), len(REGRESSION_TARGETS)), bool)
    for k, t in enumerate(timeline.tracks):
        for j, c in enumerate(t.clips):
            for r, p in enumerate(REGRESSION_TARGETS):
                given[k, j, r] = p in c.curves
    ds = _GivenCurves(raw, predictor.scalers, given, len(window_starts(S, d.window, d.overlap)), d.max_tracks)
    level, pan = REGRESSION_TARGETS.index("level_db"), REGRESSION_TARGETS.index("pan")
    group, row = divmod(music, d.max_tracks)
    item = ds[group * len(window_starts(S, d.window, d.overlap))]  # the first window of the music's track group
    on = item["step_mask"][row]
    assert on.any()
    assert bool((item["context_given"][row, on, level] == 1).all())  # the music's level is context
    assert bool((item["context_given"][row, on, pan] == 0).all())  # its pan is not: it gets predicted
    assert bool((item["context_values"][row, on, pan] == 0).all())
