"""Windows: shapes and dtypes of core.data.batch, no real (track, step) lost, padding masked, track groups."""

from __future__ import annotations

from fractions import Fraction as Fr

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.config import REGRESSION_TARGETS
from core.data.batch import FEATURES, RAW_KEYS
from core.data.frames import timeline_to_frames
from core.data.timeline import Clip, Timeline, Track
from core.data.windows import concat_windows, make_windows, window_starts

F, R = len(FEATURES), len(REGRESSION_TARGETS)
DTYPES = {
    "features": np.float32,
    "targets": np.float32,
    "target_valid": np.bool_,
    "keyframe": np.int64,
    "keyframe_valid": np.bool_,
    "interpolation": np.int64,
    "interp_valid": np.bool_,
    "clip_id": np.int32,
    "source_id": np.int64,
    "track_kind": np.int64,
    "track_index": np.int64,
    "track_row": np.int64,
    "track_mask": np.bool_,
    "step_mask": np.bool_,
    "timeline": np.int64,
    "start_step": np.int64,
}


def random_frames(rng: np.random.Generator, n_tracks: int, n_steps: int) -> pd.DataFrame:
    """A frame table with random values; ``elapsed_s`` encodes (track, step) so every cell can be traced."""
    n = n_tracks * n_steps
    track = np.repeat(np.arange(n_tracks), n_steps)
    step = np.tile(np.arange(n_steps), n_tracks)
    n_video = rng.integers(0, n_tracks + 1)
    cols = {"track": track, "track_kind": (track >= n_video).astype(np.int64), "step": step, "t": step * 0.1}
    for f in FEATURES:
        cols[f] = rng.normal(size=n)
    cols["elapsed_s"] = (track * 100_000 + step).astype(np.float64)  # exact in float32
    clip = rng.integers(-1, 4, size=n).astype(np.int32)
    cols["clip_id"] = clip
    for r in REGRESSION_TARGETS:
        cols[r] = rng.normal(size=n)
    for r in REGRESSION_TARGETS:
        cols["valid_" + r] = (clip >= 0) & (rng.random(n) < 0.7)
    cols["keyframe"] = ((clip >= 0) & (rng.random(n) < 0.1)).astype(np.int64)
    cols["keyframe_valid"] = clip >= 0
    cols["interpolation"] = rng.integers(0, 3, size=n) * cols["keyframe"]
    cols["interp_valid"] = cols["keyframe"] == 1
    df = pd.DataFrame(cols)
    return df.sample(frac=1.0, random_state=int(rng.integers(1 << 30)))  # row order must not matter


def check_contract(w: dict, K: int, T: int) -> None:
    assert set(w) == set(RAW_KEYS)
    N = len(w["timeline"])
    shapes = {
        "features": (N, K, T, F),
        "targets": (N, K, T, R),
        "target_valid": (N, K, T, R),
        "track_kind": (N, K),
        "track_index": (N, K),
        "track_row": (N, K),
        "track_mask": (N, K),
        "timeline": (N,),
        "start_step": (N,),
    }
    for k, v in w.items():
        assert v.dtype == DTYPES[k], k
        assert v.shape == shapes.get(k, (N, K, T)), k


@settings(max_examples=40, deadline=None)
@given(
    n_tracks=st.integers(1, 11),
    n_steps=st.integers(1, 130),
    window=st.integers(2, 40),
    overlap_frac=st.floats(0, 0.95),
    max_tracks=st.integers(1, 5),
    seed=st.integers(0, 2**16),
)
def test_no_real_step_lost_and_padding_masked(n_tracks, n_steps, window, overlap_frac, max_tracks, seed):
    rng = np.random.default_rng(seed)
    overlap = min(int(overlap_frac * window), window - 1)
    df = random_frames(rng, n_tracks, n_steps)
    w = make_windows(df, window, overlap, max_tracks, timeline=7)
    check_contract(w, max_tracks, window)
    assert (w["timeline"] == 7).all()
    by_id = df.set_index(df.track * 100_000 + df.step).sort_index()

    sm = w["step_mask"]
    ids = w["features"][..., FEATURES.index("elapsed_s")].astype(np.int64)  # (N, K, T)
    track, step = ids // 100_000, ids % 100_000
    n_idx, k_idx, t_idx = np.nonzero(sm)
    # every real cell is where it should be: its step, its slot in its track group, its values
    assert (step[sm] == w["start_step"][n_idx] + t_idx).all()
    assert (track[sm] % max_tracks == k_idx).all() and (w["track_index"][n_idx, k_idx] == k_idx).all()
    assert (w["track_row"][n_idx, k_idx] == track[sm]).all()  # the row in the timeline, across track groups
    assert (w["track_row"][~w["track_mask"]] == -1).all()
    ref = by_id.loc[ids[sm]]
    np.testing.assert_array_equal(w["targets"][sm], ref[list(REGRESSION_TARGETS)].to_numpy(np.float32))
    np.testing.assert_array_equal(w["features"][sm], ref[list(FEATURES)].to_numpy(np.float32))
    np.testing.assert_array_equal(w["target_valid"][sm], ref[["valid_" + r for r in REGRESSION_TARGETS]].to_numpy())
    np.testing.assert_array_equal(w["clip_id"][sm], ref.clip_id.to_numpy())
    np.testing.assert_array_equal(w["keyframe"][sm], ref.keyframe.to_numpy())
    np.testing.assert_array_equal(w["interpolation"][sm], ref.interpolation.to_numpy())
    np.testing.assert_array_equal(w["track_kind"][n_idx, k_idx], ref.track_kind.to_numpy())
    # no real (track, step) lost
    assert set(np.unique(ids[sm]).tolist()) == set(by_id.index.tolist())
    # padding is masked and empty
    pad = ~sm
    assert not w["target_valid"][pad].any() and not w["keyframe_valid"][pad].any()
    assert not w["interp_valid"][pad].any() and (w["clip_id"][pad] == -1).all()
    assert (w["features"][pad] == 0).all() and (w["keyframe"][pad] == 0).all()
    assert not sm[~w["track_mask"]].any()
    assert (w["track_kind"][~w["track_mask"]] == 0).all()
    # track groups: ceil(n_tracks / K) groups, each with the same windows in time
    n_groups = -(-n_tracks // max_tracks)
    assert w["track_mask"].sum() == n_tracks * len(window_starts(n_steps, window, overlap))
    assert len(w["timeline"]) == n_groups * len(window_starts(n_steps, window, overlap))
    assert sm.any(axis=(1, 2)).all()  # no window without a real step


@pytest.mark.parametrize(
    "n,window,overlap,expected",
    [
        (10, 20, 5, [0]),
        (20, 20, 5, [0]),
        (21, 20, 5, [0, 1]),
        (50, 20, 10, [0, 10, 20, 30]),
        (55, 20, 10, [0, 10, 20, 30, 35]),
        (0, 20, 5, []),
    ],
)
def test_window_starts(n, window, overlap, expected):
    assert window_starts(n, window, overlap).tolist() == expected


def test_short_timeline_padded_and_more_tracks_than_max():
    tracks = [Track("video", i, [Clip("v", Fr(0), Fr(1))]) for i in range(3)] + [
        Track("audio", i, [Clip("a", Fr(0), Fr(1, 2), media_kind="audio")]) for i in range(2)
    ]
    tl = Timeline("t", Fr(25), Fr(1), tracks)
    w = make_windows(timeline_to_frames(tl), window=16, overlap=4, max_tracks=2)
    check_contract(w, 2, 16)
    assert len(w["timeline"]) == 3  # groups (V1 V2) (V3 A1) (A2 pad)
    assert w["track_kind"].tolist() == [[0, 0], [0, 1], [1, 0]]
    assert w["track_mask"].tolist() == [[True, True], [True, True], [True, False]]
    assert w["step_mask"][:, :, :10].sum() == 50 and not w["step_mask"][:, :, 10:].any()
    assert w["keyframe_valid"][2, 0].sum() == 5  # A2 covers 0 .. 0.5 s


def test_concat_windows():
    rng = np.random.default_rng(0)
    a = make_windows(random_frames(rng, 2, 30), 10, 0, 4, timeline=0)
    b = make_windows(random_frames(rng, 5, 12), 10, 0, 4, timeline=1)
    c = concat_windows([a, b])
    check_contract(c, 4, 10)
    assert len(c["timeline"]) == len(a["timeline"]) + len(b["timeline"])
    check_contract(concat_windows([], window=10, max_tracks=4), 4, 10)
    with pytest.raises(ValueError):
        concat_windows([])
