"""Metadata features (core.data.frames.metadata_features) on real clips, values worked out by hand from
the clip's source fields (which the reader tests check against the XML), and unknown -> flag 0."""

from __future__ import annotations

import math

import pytest

from core.data.batch import FEATURES, METADATA_FEATURES
from core.data.formats import read_file
from core.data.frames import metadata_features, timeline_to_frames
from tests.conftest import REALWORLD

MOSER = REALWORLD / "xmeml" / "xmeml__Multicam_Moser_1.xml"
AUDIO_MIX = REALWORLD / "mlt" / "kdenlive-test-suite__audio-mix.kdenlive"


def clips_of(path):
    if not path.is_file():
        pytest.skip(f"real-world file not found: {path} (set XMLAI_REALWORLD)")
    tl = read_file(path)[0]
    return tl, list(tl.iter_clips())


def test_every_metadata_feature_is_a_frame_column():
    assert set(METADATA_FEATURES) <= set(FEATURES)


def test_anamorphic_pal_in_full_hd():
    tl, clips = clips_of(MOSER)
    assert (tl.width, tl.height) == (1920, 1080)
    track, clip = next((t, c) for t, c in clips if c.source_width == 720 and c.source_height == 576)
    f = metadata_features(tl, track, clip)
    par = clip.source_pixel_aspect  # 64/45: 720 pixels show 1024 wide
    assert par == pytest.approx(64 / 45, rel=1e-3)
    assert f["src_size_known"] == 1.0 and f["src_portrait"] == 0.0
    assert f["src_w_log_ratio"] == pytest.approx(math.log(720 / 1920))
    assert f["src_h_log_ratio"] == pytest.approx(math.log(576 / 1080))
    # with pixel aspects: 1920 / 1024 = 1.875 = 1080 / 576, so fit and fill agree (187.5 %)
    assert math.exp(f["fit_log"]) == pytest.approx(1.875, rel=1e-3)
    assert math.exp(f["fill_log"]) == pytest.approx(1.875, rel=1e-3)
    # in square pixels (Premiere's 100 % = one source pixel per sequence pixel): 1.875 and 2.667
    assert math.exp(f["fit_px_log"]) == pytest.approx(1080 / 576)
    assert math.exp(f["fill_px_log"]) == pytest.approx(1920 / 720)
    assert f["app_premiere"] == 1.0 and f["app_known"] == 1.0 and f["dialect_xmeml"] == 1.0


def test_source_channel_of_a_stereo_pair():
    tl, clips = clips_of(MOSER)
    track, clip = next((t, c) for t, c in clips if t.kind == "audio" and c.source_channel == 2)
    f = metadata_features(tl, track, clip)
    assert f["channel_known"] == 1.0 and f["channel_even"] == 1.0 and f["channel_odd"] == 0.0
    assert f["channel_index"] == 1.0
    assert f["channels_known"] == float(clip.audio_channels is not None)


def test_unknown_source_is_flagged_not_guessed():
    tl, clips = clips_of(AUDIO_MIX)
    track, clip = next((t, c) for t, c in clips if c.source_width is None)
    f = metadata_features(tl, track, clip)
    assert f["src_size_known"] == 0.0
    for name in ("src_w_log_ratio", "src_h_log_ratio", "fit_log", "fill_log", "fit_px_log", "fill_px_log"):
        assert f[name] == 0.0
    assert f["dialect_mlt"] == 1.0
    # in the frame table, a clip's rows carry its features
    frames = timeline_to_frames(tl)
    assert (frames.loc[frames.active == 1, "dialect_mlt"] == 1.0).all()
    assert (frames["src_size_known"] <= 1.0).all()
