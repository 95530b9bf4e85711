"""MLT reader, issue 7 item 6 and issue 6 item 1: timeline filters count negative key times back
from the tractor's length, and what the export says about each clip's source and role. Expected
values are read by hand from the XML (the quoted properties)."""

from __future__ import annotations

from fractions import Fraction as F

import pytest

from core.data.formats import read_bytes, read_file

DOC = (
    '<mlt version="7.0.0"><profile frame_rate_num="25" frame_rate_den="1" width="1920" height="1080"/>'
    '<producer id="black" in="0" out="{black_out}"><property name="mlt_service">color</property></producer>'
    '<producer id="p" in="0" out="99"><property name="resource">a.mp4</property>{producer}</producer>'
    '<playlist id="pl"><entry producer="p" in="0" out="49"/></playlist>'
    '<tractor id="t"{tractor_out}><track producer="black"/><track producer="pl"/>'
    '<filter><property name="mlt_service">volume</property><property name="level">0=0;-25=-20</property></filter>'
    "</tractor></mlt>"
)


def _doc(black_out="199", tractor_out="", producer=""):
    data = DOC.format(black_out=black_out, tractor_out=tractor_out, producer=producer).encode()
    (tl,) = read_bytes(data, "t.mlt")
    (clip,) = [c for _, c in tl.iter_clips()]
    return tl, clip


# ---- issue 7.6: timeline filters' length --------------------------------------------------------


def test_timeline_filter_negative_time_counts_back_from_the_tractor_out():
    # tractor out=99: the filter lasts 100 frames, so -25 is frame 75 = 3 s (it stayed at -1 s).
    _, clip = _doc(tractor_out=' out="99"')
    assert [(k.time, k.value) for k in clip.curves["level_db"].keys] == [(0, 0.0), (3, -20.0)]


def test_timeline_filter_without_out_lasts_as_long_as_the_longest_track():
    # no tractor out: the longest track is the black one (out=199: 200 frames), -25 -> frame 175 = 7 s
    _, clip = _doc()
    assert [k.time for k in clip.curves["level_db"].keys] == [0, 7]
    assert clip.effects == ["volume"]


# ---- issue 6.1: source and role -----------------------------------------------------------------


def test_kdenlive_source_links_and_names(realworld_dir):
    # kdenlive_mixes_markers: producer1 = myClip.mp4 (kdenlive:id 2, meta.media.width/height
    # 1920x1080, frame_rate 25/1, audio_index 1 with meta.media.1.codec.channels 2); tracks named
    # "Nothing", "With Mix", "A3", "A2"; AVSplit groups pair "1:2664"/"2:2664", "0:1309"/"3:1297".
    (tl,) = read_file(realworld_dir / "mlt" / "kdenlive-opentimelineio__kdenlive_mixes_markers.kdenlive")
    assert (tl.app, tl.app_version, tl.dialect_version) == ("Kdenlive", "22.11.70 (rev. e629e8bf1)", "7.9.0")
    assert (tl.size_known, tl.pixel_aspect) == (True, 1.0)
    assert sorted(t.name for t in tl.tracks) == ["A2", "A3", "Nothing", "With Mix"]
    clips = [(t, c) for t, c in tl.iter_clips() if c.name == "myClip.mp4"]
    assert clips
    for _, clip in clips:
        assert (clip.source_width, clip.source_height, clip.source_rate) == (1920, 1080, 25)
        assert (clip.audio_channels, clip.file_ext, clip.source_id, clip.speed) == (2, ".mp4", "2", 1.0)
    # the group "0:1309"/"3:1297": real track 0 at frame 1309 (A3) with real track 3 at 1297 (With Mix), the
    # positions Kdenlive gives the two clips, each the start of a same-track mix into it; both mixes cut at
    # frame 1322 (A3: out 53.36 s less mixcut 12 frames; With Mix: out 52.88 s, mixcut 0), so picture and
    # sound start together there
    by_group = {}
    for t, c in clips:
        by_group.setdefault(c.link_group, []).append((t.name, round(c.start * 25)))
    assert sorted(by_group["0:1309"]) == [("A3", 1322), ("With Mix", 1322)]
    assert sorted(by_group["1:2664"]) == [("A2", 2664), ("Nothing", 2664)]


def test_shotcut_app_track_names_and_static_rect(realworld_dir):
    # media.mlt: title "Shotcut version 20.09.27"; playlist1 "V2" has an affineSizePosition filter,
    # transition.rect "941 175 812 457 1" in a 1920x1080 profile.
    (tl,) = read_file(realworld_dir / "mlt" / "Shotcut-Autoexporter__media.mlt")
    assert (tl.app, tl.app_version, tl.dialect_version) == ("Shotcut", "20.09.27", "6.23.0")
    assert [t.name for t in tl.tracks] == ["V1", "V2", "A1"]
    for clip in tl.tracks[1].clips:
        # affine's fill (no meta.media: the picture's shape is the rect's, 1.777, not wider than the frame): as high
        # as the rect
        assert clip.static["scale"] == pytest.approx(457 / 1080 * 100)
        assert clip.static["center_x"] == pytest.approx((941 + 812 / 2) / 1920 - 0.5)
        assert clip.static["center_y"] == pytest.approx((175 + 457 / 2) / 1080 - 0.5)
        assert clip.static["opacity"] == 100.0
        assert "affineSizePosition" in clip.effects
        assert clip.param_refs["scale"].component == "rect"


def test_profile_pixel_aspect(realworld_dir):
    # kdenlive_example_v191180: DV/DVD PAL profile, sample_aspect 16/15; VID0001.MKV 720x576.
    (tl,) = read_file(realworld_dir / "mlt" / "kdenlive-opentimelineio__kdenlive_example_v191180.kdenlive")
    assert tl.pixel_aspect == pytest.approx(16 / 15) and (tl.width, tl.height) == (720, 576)
    vid = [c for _, c in tl.iter_clips() if c.name == "VID0001.MKV"]
    assert vid and all((c.source_width, c.source_height, c.file_ext) == (720, 576, ".mkv") for c in vid)
    assert "audiolevel" not in {e for _, c in tl.iter_clips() for e in c.effects}  # a meter, not an effect


def test_timewarp_speed():
    producer = (
        '<property name="mlt_service">timewarp</property><property name="warp_speed">-0.5</property>'
        '<property name="resource">-0.5:clip.MOV</property>'
    )
    _, clip = _doc(producer=producer)
    assert (clip.speed, clip.time_remap, clip.file_ext) == (-0.5, False, ".mov")


def test_unknown_stays_none():
    tl, clip = _doc()
    assert (tl.app, tl.app_version, tl.pixel_aspect) == (None, None, None)
    assert (clip.source_width, clip.source_rate, clip.audio_channels, clip.link_group) == (None,) * 4
    assert clip.start == 0 and clip.end == F(50, 25)


def _shotcut(hide_v2: str | None, hide_a1: str = "video") -> list:
    """A Shotcut project: V1, V2 (each a colour clip) and A1 (an audio clip); the track elements' hide attributes."""
    v2 = f' hide="{hide_v2}"' if hide_v2 else ""
    doc = f"""<mlt title="Shotcut version 24.02">
      <profile frame_rate_num="25" frame_rate_den="1" width="1920" height="1080"/>
      <producer id="c" in="0" out="99"><property name="mlt_service">color</property></producer>
      <producer id="a" in="0" out="99"><property name="resource">a.wav</property></producer>
      <playlist id="background"><entry producer="c" in="0" out="99"/></playlist>
      <playlist id="p0"><property name="shotcut:video">1</property><property name="shotcut:name">V1</property>
        <entry producer="c" in="0" out="49"/></playlist>
      <playlist id="p1"><property name="shotcut:video">1</property><property name="shotcut:name">V2</property>
        <entry producer="c" in="0" out="49"/></playlist>
      <playlist id="p2"><property name="shotcut:audio">1</property><property name="shotcut:name">A1</property>
        <entry producer="a" in="0" out="49"/></playlist>
      <tractor id="t"><track producer="background"/><track producer="p0"/><track producer="p1"{v2}/>
        <track producer="p2" hide="{hide_a1}"/></tractor></mlt>"""
    (tl,) = read_bytes(doc.encode(), "hidden.mlt")
    return [(t.kind, t.name, t.enabled) for t in tl.tracks]


def test_a_hidden_shotcut_video_track_stays_a_video_track_and_is_disabled():
    # Shotcut hides a video track with hide="video", as it writes every audio track; shotcut:video says the kind.
    assert _shotcut(None) == [("video", "V1", True), ("video", "V2", True), ("audio", "A1", True)]
    assert _shotcut("video") == [("video", "V1", True), ("video", "V2", False), ("audio", "A1", True)]
    assert _shotcut("audio") == [("video", "V1", True), ("video", "V2", True), ("audio", "A1", True)]  # muted only
    assert _shotcut(None, hide_a1="both") == [("video", "V1", True), ("video", "V2", True), ("audio", "A1", False)]


def test_a_hidden_kdenlive_video_track_is_disabled(realworld_dir):
    # Kdenlive writes hide="audio" on a video track's playlists and "both" once the track is hidden too
    (tl,) = read_file(realworld_dir / "mlt" / "kdenlive-test-suite__mix-slide.kdenlive")
    assert all(t.enabled for t in tl.tracks)
    doc = (realworld_dir / "mlt" / "kdenlive-test-suite__mix-slide.kdenlive").read_text(encoding="utf-8")
    tractor = doc.index('<tractor id="tractor2"')
    end = doc.index("</tractor>", tractor)
    hidden = doc[:tractor] + doc[tractor:end].replace('hide="audio"', 'hide="both"') + doc[end:]
    (tl,) = read_bytes(hidden.encode(), "hidden.kdenlive")
    assert [t.enabled for t in tl.tracks if t.clips] == [False]  # mix-slide's one track with clips (tractor2)
