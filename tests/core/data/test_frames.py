"""Frame table: values at steps, validity per track kind, key-to-step assignment, structural features."""

from __future__ import annotations

from fractions import Fraction as Fr

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.config import REGRESSION_TARGETS
from core.data.batch import FEATURES
from core.data.frames import _TIMELINE_META, curve_values, n_steps_of, timeline_to_frames
from core.data.timeline import INTERPOLATIONS, PARAMS, Clip, Curve, Key, Timeline, Track


def simple_timeline() -> Timeline:
    """V1: still [0, 2) with a scale ramp, video [2, 4) with a fade-out; V2: title [1.04, 1.5) with an
    opacity key on its first frame; A1: music [0, 4) with level keys partly outside the clip."""
    still = Clip(
        "still", Fr(0), Fr(2), media_kind="still", curves={"scale": Curve([Key(Fr(0), 100.0), Key(Fr(2), 200.0)])}
    )
    video = Clip(
        "video",
        Fr(2),
        Fr(4),
        transition_in=Fr(1, 2),
        curves={"opacity": Curve([Key(Fr(35, 10), 100.0, "smooth"), Key(Fr(4), 0.0)])},
    )
    title = Clip(
        "title",
        Fr(26, 25),
        Fr(3, 2),
        media_kind="generator",
        curves={"opacity": Curve([Key(Fr(26, 25), 0.0, "hold"), Key(Fr(5, 4), 100.0)])},
    )
    music = Clip(
        "music",
        Fr(0),
        Fr(4),
        media_kind="audio",
        curves={"level_db": Curve([Key(Fr(-2), 0.0), Key(Fr(2), -20.0), Key(Fr(6), -20.0)])},
    )
    return Timeline(
        "simple",
        Fr(25),
        Fr(4),
        [Track("video", 0, [still, video]), Track("video", 1, [title]), Track("audio", 0, [music])],
    )


@pytest.fixture(scope="module")
def frames():
    return timeline_to_frames(simple_timeline(), 0.1)


def rows(df, track):
    return df[df.track == track].set_index("step")


def test_columns_and_grid(frames):
    for col in (
        "track",
        "track_kind",
        "track_enabled",
        "step",
        "t",
        "clip_id",
        "keyframe",
        "keyframe_valid",
        "interpolation",
        "interp_valid",
        *FEATURES,
        *REGRESSION_TARGETS,
        *("valid_" + r for r in REGRESSION_TARGETS),
    ):
        assert col in frames.columns, col
    assert len(frames) == 3 * 40
    assert frames.groupby("track").step.apply(list).map(lambda s: s == list(range(40))).all()
    np.testing.assert_allclose(rows(frames, 0).t.to_numpy(), np.arange(40) * 0.1)
    assert rows(frames, 2).track_kind.eq(1).all() and rows(frames, 0).track_kind.eq(0).all()


@pytest.mark.parametrize("duration,expected", [(Fr(3, 10), 3), (Fr(31, 100), 4), (Fr(4), 40), (Fr(0), 0)])
def test_number_of_steps(duration, expected):
    assert n_steps_of(duration, 0.1) == expected


def test_curve_values_at_steps(frames):
    v1, a1 = rows(frames, 0), rows(frames, 2)
    np.testing.assert_allclose(v1.scale[:20], 100 + 50 * np.arange(20) * 0.1, atol=1e-5)
    assert (v1.scale[20:] == PARAMS["scale"][0]).all()  # no scale curve on the second clip: default
    assert (v1.opacity[:35] == 100.0).all() and v1.opacity[39] == pytest.approx(100 * (1 - 3 * 0.8**2 + 2 * 0.8**3))
    # keys outside the clip still shape the curve: -2 s -> 0 dB, 2 s -> -20 dB, linear between
    np.testing.assert_allclose(a1.level_db[:20], -20 * (np.arange(20) * 0.1 + 2) / 4, atol=1e-5)
    assert (a1.level_db[20:] == -20.0).all()
    t2 = rows(frames, 1)
    assert (t2.opacity[11:13] == 0.0).all() and t2.opacity[13] == 100.0  # hold until the key at 1.25 s


def test_validity_per_track_kind(frames):
    v1, v2, a1 = rows(frames, 0), rows(frames, 1), rows(frames, 2)
    for r in REGRESSION_TARGETS:
        video = PARAMS[r][1] == "video"
        assert v1["valid_" + r].all() == video and v1["valid_" + r].any() == video
        assert a1["valid_" + r].all() == (not video) and a1["valid_" + r].any() == (not video)
        # V2 only where the title is: steps 11..14 (1.1 .. 1.4 s)
        assert v2["valid_" + r].to_numpy().nonzero()[0].tolist() == ([11, 12, 13, 14] if video else [])
    assert v2.keyframe_valid.to_numpy().nonzero()[0].tolist() == [11, 12, 13, 14]
    assert (frames[~frames.keyframe_valid].keyframe == 0).all()
    assert (frames.interp_valid == (frames.keyframe == 1)).all()


def test_key_on_first_frame_lands_inside_the_clip(frames):
    v2 = rows(frames, 1)
    # the title starts at 1.04 s: its first-frame key is nearest to step 10 (1.0 s), which the clip
    # does not cover, so it goes to step 11, the clip's first step
    assert v2.keyframe.to_numpy().nonzero()[0].tolist() == [11, 12]  # keys at 1.04 and 1.25 (tie -> earlier)
    assert v2.interpolation[11] == INTERPOLATIONS.index("hold")
    assert v2.interpolation[12] == INTERPOLATIONS.index("linear")


def test_keys_outside_the_clip_are_dropped_from_labels(frames):
    v1, a1 = rows(frames, 0), rows(frames, 2)
    assert a1.keyframe.to_numpy().nonzero()[0].tolist() == [20]  # -2 s and 6 s are outside [0, 4]
    # V1: scale keys at 0 and 2 (the cut: the still's last step 19), opacity keys at 3.5 and 4 (end -> step 39)
    assert v1.keyframe.to_numpy().nonzero()[0].tolist() == [0, 19, 35, 39]
    assert v1.interpolation[35] == INTERPOLATIONS.index("smooth")


def test_structural_features(frames):
    v1, v2, a1 = rows(frames, 0), rows(frames, 1), rows(frames, 2)
    assert (v1.active == 1).all() and v2.active.to_numpy().nonzero()[0].tolist() == [11, 12, 13, 14]
    assert v1.clip_id[:20].eq(0).all() and v1.clip_id[20:].eq(1).all() and v2.clip_id[0] == -1
    np.testing.assert_allclose(v1.elapsed_s[:20], np.arange(20) * 0.1, atol=1e-6)
    np.testing.assert_allclose(v1.remaining_s[20:], 4 - np.arange(20, 40) * 0.1, atol=1e-6)
    np.testing.assert_allclose(v1.progress[:20], np.arange(20) * 0.1 / 2, atol=1e-6)
    assert (v1.clip_duration_s == 2.0).all()
    assert v1.kind_still[:20].eq(1).all() and v1.kind_video[20:].eq(1).all() and v2.kind_generator[12] == 1
    assert a1.kind_audio.eq(1).all()
    assert v1.transition_in_s[25] == 0.5 and v1.transition_in_s[5] == 0.0
    # two video clips play at 1.1 .. 1.4 s (still + title), one elsewhere; music always
    np.testing.assert_array_equal(v1.n_video_active.to_numpy(), [2.0 if 11 <= i <= 14 else 1.0 for i in range(40)])
    assert (frames.n_audio_active == 1).all()
    np.testing.assert_allclose(v2.seq_position, np.arange(40) * 0.1 / 4, atol=1e-6)
    np.testing.assert_allclose(v2.seq_remaining_s, 4 - np.arange(40) * 0.1, atol=1e-6)
    per_row = ("n_video_active", "n_audio_active", "seq_position", "seq_remaining_s", "track_enabled")
    per_row += _TIMELINE_META + ("track_of_kind_pos", "tracks_of_kind_log")  # timeline and track metadata
    for f in FEATURES:  # no clip, no clip features
        if f not in per_row:
            assert v2[f][0] == 0.0, f
    assert (frames.clip_enabled[frames.active == 1] == 1).all() and (frames.track_enabled == 1).all()


def test_features_never_come_from_keyframes():
    tl = simple_timeline()
    bare = simple_timeline()
    for _, clip in bare.iter_clips():
        clip.curves = {}
    a, b = timeline_to_frames(tl), timeline_to_frames(bare)
    np.testing.assert_array_equal(a[list(FEATURES)].to_numpy(), b[list(FEATURES)].to_numpy())
    assert b.keyframe.sum() == 0
    assert (b[b.valid_opacity].opacity == 100.0).all() and (b[b.valid_level_db].level_db == 0.0).all()


def test_overlap_later_start_wins_and_disabled_clips():
    a = Clip("a", Fr(0), Fr(3), curves={"scale": Curve([Key(Fr(1, 2), 50.0)])})
    b = Clip("b", Fr(1), Fr(2), enabled=False, curves={"scale": Curve([Key(Fr(3, 2), 70.0)])})
    tl = Timeline(
        "o",
        Fr(30),
        Fr(3),
        [Track("video", 0, [b, a]), Track("video", 1, enabled=False, clips=[Clip("c", Fr(0), Fr(1))])],
    )
    df = timeline_to_frames(tl)
    v1, v2 = rows(df, 0), rows(df, 1)
    # b starts later and wins over 1 .. 2 s; a resumes after
    assert v1.clip_id.tolist() == [1] * 10 + [0] * 10 + [1] * 10
    assert (v1.scale[10:20] == 70.0).all() and (v1.scale[:10] == 50.0).all()
    assert v1.keyframe.to_numpy().nonzero()[0].tolist() == [5, 15]
    # disabled clips and tracks keep targets and labels, are flagged, and do not count as playing
    assert v1.clip_enabled[10:20].eq(0).all() and v1["valid_scale"].all()
    assert v2.track_enabled.eq(0).all() and v2.active[:10].eq(1).all()
    assert v1.n_video_active.tolist() == [1.0] * 10 + [0.0] * 10 + [1.0] * 10


def test_empty_timeline_and_empty_tracks():
    tl = Timeline("e", Fr(25), Fr(1), [Track("video", 0), Track("audio", 0)])
    df = timeline_to_frames(tl)
    assert len(df) == 20 and (df.clip_id == -1).all() and not df.keyframe_valid.any()
    assert len(timeline_to_frames(Timeline("z", Fr(25), Fr(0), [Track("video", 0)]))) == 0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-50, 150), st.floats(-100, 100), st.sampled_from(INTERPOLATIONS)), min_size=1, max_size=6
    )
)
def test_curve_values_matches_value_at(keys):
    curve = Curve([Key(Fr(t, 10), v, i) for t, v, i in keys])
    t = np.linspace(-6, 16, 97)
    np.testing.assert_allclose(curve_values(curve, t), [curve.value_at(x) for x in t], rtol=1e-9, atol=1e-9)
