"""The xmeml reader on real exports. Expected values were read by hand from the XML files."""

from __future__ import annotations

from fractions import Fraction

import pytest

from core.data.timeline import Curve, Timeline
from tests.conftest import curve_keys, read_one


def _clip(tl: Timeline, clip_id: str):
    found = [(t, c) for t, c in tl.iter_clips() if c.clip_id == clip_id]
    assert len(found) == 1, f"{clip_id}: {len(found)} matches"
    return found[0]


def test_fade_in_out_level_keys_in_seconds_and_db(realworld_dir):
    # BOM file; both exploded stereo channels carry the keys when = 0, 1498, 2989 at 25 fps,
    # linear gain 0, 0.99763, 0.
    tl = read_one(realworld_dir / "xmeml" / "xmeml__Fade_inn_og_ut.xml")
    assert tl.rate == 25 and tl.duration == 120 and (tl.width, tl.height) == (1920, 1080)
    audio = [(t, c) for t, c in tl.iter_clips() if t.kind == "audio"]
    assert [(t.index, c.clip_id) for t, c in audio] == [(0, "clipitem-190"), (1, "clipitem-191")]
    for _, clip in audio:
        assert (clip.start, clip.end, clip.media_kind) == (0, 120, "audio")
        times, values, interps = zip(*curve_keys(clip, "level_db"))
        assert times == (0, Fraction(1498, 25), Fraction(2989, 25))  # 59.92 s, 119.56 s
        assert values[0] == -60.0 and values[2] == -60.0  # gain 0 -> the floor
        assert values[1] == pytest.approx(-0.02061, abs=1e-4)
        assert interps == ("linear",) * 3  # Premiere writes no interpolation data


def test_broshow_scale_keys_start_at_clip_start(realworld_dir):
    # clipitem-526: start 19475 (25 fps), in 62, out 148; scale keys at when 62..
    tl = read_one(realworld_dir / "xmeml" / "xmeml__BroShow_ep_Vold_uten_FLICKR.xml")
    _, clip = _clip(tl, "clipitem-526")
    assert (clip.start, clip.end) == (Fraction(19475, 25), Fraction(19561, 25))
    assert clip.source_in == Fraction(62, 25)
    scale = curve_keys(clip, "scale")
    assert scale[0][:2] == (clip.start, 26.0)  # when = in lands on the clip's first frame
    assert scale[-1][:2] == (Fraction(19558, 25), 55.0)  # <value>55 is ignored, the keys rule
    assert all(clip.start <= t < clip.end for t, _, _ in scale)
    assert {"rotation", "center_x", "center_y"} <= clip.curves.keys()


def test_broshow_media_kinds(realworld_dir):
    tl = read_one(realworld_dir / "xmeml" / "xmeml__BroShow_ep_Vold_uten_FLICKR.xml")
    kinds = [c.media_kind for _, c in tl.iter_clips()]
    # 32 clipitems hold a nested <sequence> (full or by id reference)
    assert kinds.count("sequence") == 32
    assert kinds.count("audio") == 269
    # only top-level sequences are timelines: the 17 disabled tracks sit in nested sequences
    assert len(tl.tracks) == 33 and all(t.enabled for t in tl.tracks)


def test_premiere_clip_rate_differs_from_sequence_rate(realworld_dir):
    # clipitem-1: rate 15 in a 30 fps sequence; start/end 536-636 (sequence rate), in/out 0-50 (15 fps)
    tl = read_one(realworld_dir / "xmeml" / "otio-fcp-adapter__premiere_example.xml")
    assert tl.rate == 30
    _, clip = _clip(tl, "clipitem-1")
    assert (clip.start, clip.end) == (Fraction(536, 30), Fraction(636, 30))
    assert clip.duration == Fraction(10, 3)  # 3.33 s both ways
    assert clip.source_out - clip.source_in == Fraction(50, 15)


def test_minus_one_edges_resolved_at_transition_cut(realworld_dir):
    tl = read_one(realworld_dir / "xmeml" / "otio-fcp-adapter__premiere_example.xml")
    # end-black transition 538-557: clipitem-4 (start 322, end -1) ends at the transition end
    _, clip4 = _clip(tl, "clipitem-4")
    assert (clip4.start, clip4.end) == (Fraction(322, 30), Fraction(557, 30))
    assert clip4.transition_out == Fraction(19, 30) and clip4.transition_in == 0
    # centre transition 1152-1177 between clipitem-11 (end -1) and clipitem-12 (start -1, in 6):
    # the cut is at int((1152 + 1177) / 2) = 1164
    track11, clip11 = _clip(tl, "clipitem-11")
    track12, clip12 = _clip(tl, "clipitem-12")
    assert track11 is track12
    assert clip11.end == clip12.start == Fraction(1164, 30)
    assert clip12.end == Fraction(1246, 30)
    assert clip11.transition_out == clip12.transition_in == Fraction(25, 30)
    # source frame <in> sits at the transition start, so the visible head is 12 frames later
    assert clip12.source_in == Fraction(6 + 12, 30)


def test_ntsc_rates(realworld_dir):
    assert read_one(realworld_dir / "xmeml" / "xmeml__Conecta_Test_XML.xml").rate == Fraction(30000, 1001)
    generators = read_one(realworld_dir / "xmeml" / "otio-fcp-adapter__premiere_generators.xml")
    assert generators.rate == Fraction(24000, 1001)
    # lower-case <ntsc>False (Norden-Aktuelt) is false
    assert read_one(realworld_dir / "xmeml" / "xmeml__Norden-Aktuelt-3.xml").rate == 25


def test_generators(realworld_dir):
    tl = read_one(realworld_dir / "xmeml" / "otio-fcp-adapter__premiere_generators.xml")
    video = tl.video_tracks[0].clips
    # Slug (leader, black, bars, transparent), Blue Matte generatoritem, GraphicAndType
    assert [c.name for c in video] == [
        "Universal Counting Leader",
        "Black Video",
        "Blue Matte",
        "HD Bars and Tone",
        "Transparent Video",
        "Graphic",
    ]
    assert all(c.media_kind == "generator" for c in video)
    # Black Video: start 264 at 24000/1001, source in 86313 frames (about 1 h into the slug)
    black = video[1]
    assert black.start == Fraction(264 * 1001, 24000)
    assert black.source_in == Fraction(86313 * 1001, 24000)


def test_fcp7_text_generators_and_stills(realworld_dir):
    tl = read_one(realworld_dir / "xmeml" / "xmeml__NGxx13_ELSKER_Opfehliany.xml")
    kinds = [c.media_kind for _, c in tl.iter_clips()]
    assert "generator" in kinds and "still" in kinds and "sequence" in kinds


def test_disabled_clips_and_tracks(realworld_dir):
    tl = read_one(realworld_dir / "xmeml" / "xmeml__disabled.xml")
    clips = [c for _, c in tl.iter_clips()]
    assert len(clips) == 2 and not any(c.enabled for c in clips)
    # a static level <value>0.251189 (-12 dB) differs from the default, so it is a one-key curve
    assert curve_keys(clips[0], "level_db") == [(0, pytest.approx(-12.0206, abs=1e-3), "linear")]

    tl = read_one(realworld_dir / "xmeml" / "otio-fcp-adapter__premiere_enable_property.xml")
    disabled = sorted(c.name for _, c in tl.iter_clips() if not c.enabled)
    assert disabled == [
        "audio_track_1_disabled_1",
        "audio_track_1_disabled_1",
        "video_track_1_disabled_1",
        "video_track_1_disabled_2",
        "video_track_3_disabled_1",
    ]
    assert [t.enabled for t in tl.video_tracks] == [True, True, False]


def test_fractional_when_and_fcp_curve(realworld_dir):
    tl = read_one(realworld_dir / "xmeml" / "xmeml__dnpr6370211-alt-offline.hg.xml")
    # "Clip1ATK90 2": start 7048, in 163, level keys when 224.429 .. with gain 3.98107 (+12 dB)
    _, clip = _clip(tl, "Clip1ATK90 2")
    times, values, _ = zip(*curve_keys(clip, "level_db"))
    assert times[0] == Fraction(7048, 25) + (Fraction("224.429") - 163) / 25
    assert values == pytest.approx((12.0, -60.0, -60.0, 12.0), abs=1e-3)
    # still (.tif) with opacity keys 1130, 1155, 1223, 1253 on in 1129, start 28901, FCPCurve
    _, still = _clip(tl, "NRK © 2011 Sluttplakat 1920x1080.tif")
    assert still.media_kind == "still"
    assert curve_keys(still, "opacity") == [
        (Fraction(28901 + 1, 25), 0.0, "smooth"),
        (Fraction(28901 + 26, 25), 100.0, "smooth"),
        (Fraction(28901 + 94, 25), 100.0, "smooth"),
        (Fraction(28901 + 124, 25), 0.0, "smooth"),
    ]


def test_fcp7_keys_are_straight_unless_smoothed_with_bezier_handles(realworld_dir):
    """FCP 7 writes ``<interpolation><name>FCPCurve`` on every keyed parameter; a key is smoothed by its Bezier
    handles (its manual: straight lines between keys unless smoothed; audio levels cannot be smoothed). fcp.sample's
    MVI_0462 (start 1185, in 2 at 25 fps): opacity keys 86 -> 100, 102 -> 0 and centre keys without handles, under
    FCPCurve: linear; scale 2 -> 100, 67 -> 125 where only the second key has an incoming handle (``<inbez>``):
    a curved segment, and the key with the handle is a smoothed one."""
    tl = read_one(realworld_dir / "xmeml" / "xmeml__fcp.sample.xml")
    (clip,) = [c for _, c in tl.iter_clips() if c.name == "MVI_0462"]
    start = Fraction(1185, 25)
    assert curve_keys(clip, "opacity") == [
        (start + Fraction(84, 25), 100.0, "linear"),
        (start + Fraction(100, 25), 0.0, "linear"),
    ]
    assert curve_keys(clip, "scale") == [(start, 100.0, "smooth"), (start + Fraction(65, 25), 125.0, "smooth")]
    assert [k.interp for k in clip.curves["center_x"].keys] == ["linear", "linear"]
    # audio levels: 794 keyed FCP 7 level parameters in the corpora, none with a handle: every key linear
    tl = read_one(realworld_dir / "xmeml" / "xmeml__DNPR63700211_Bare_musikk-timeline.xml")
    interps = {k.interp for _, c in tl.iter_clips() for k in c.curves.get("level_db", Curve([])).keys}
    assert interps == {"linear"}


def test_fcp7_pixel_aspect_conform_reads_the_scale_premiere_shows(realworld_dir):
    """FCP 7 conforms a 720x576 anamorphic clip to a 1920x1080 sequence with Basic Motion scale 266.667 and Distort
    aspect -42.2222 (1 - 64/45): 720 x 2.66667 = 1920 wide, 576 x 2.66667 / 1.42222 = 1080 high, the look Premiere
    writes as 187.5 %. The scale read is the height's factor, scale / (1 - aspect/100)."""
    tl = read_one(realworld_dir / "xmeml" / "xmeml__NGxx13_ELSKER_Opfehliany.xml")
    (clip,) = [c for _, c in tl.iter_clips() if c.name == "mktf-ng-cave-roses_p0" and float(c.start) == 108.0]
    assert (clip.source_width, clip.source_height, tl.width, tl.height) == (720, 576, 1920, 1080)
    assert clip.static["scale"] == pytest.approx(266.667 / (1 + 42.2222 / 100))
    assert clip.static["scale"] == pytest.approx(187.5, abs=0.01)
    # a clip without an aspect keeps its scale (640x480 at 300 %)
    (square,) = [c for _, c in tl.iter_clips() if c.clip_id.startswith("MIHARA") and float(c.start) == 3.68]
    assert square.static["scale"] == 300.0


def test_stale_keys_outside_the_clip_are_kept(realworld_dir):
    # SCD072839.wav7: start 10284, in 2784, keys copied from an earlier piece at 65.2857, 155, 1689
    tl = read_one(realworld_dir / "xmeml" / "xmeml__DNPR63700211_Bare_musikk-timeline.xml")
    _, clip = _clip(tl, "SCD072839.wav7")
    times, values, _ = zip(*curve_keys(clip, "level_db"))
    assert times == tuple(Fraction(10284, 25) + (Fraction(w) - 2784) / 25 for w in ("65.2857", "155", "1689"))
    assert all(t < clip.start for t in times)
    assert values == pytest.approx((-12.0, -19.0, -21.0), abs=0.01)
    # the curve holds its last value over the clip
    assert clip.curves["level_db"].value_at(clip.start) == pytest.approx(-21.0, abs=0.01)


def test_untouched_parameters_give_no_curve(realworld_dir):
    # FCP7 writes every Motion-tab filter, mostly at defaults (scale 100, centre 0 0, pan 0 ...)
    tl = read_one(realworld_dir / "xmeml" / "xmeml__Conecta_Test_XML.xml")
    for _, clip in tl.iter_clips():
        for param, curve in clip.curves.items():
            if len(curve) == 1:
                default = {"scale": 100, "opacity": 100}.get(param, 0.0)
                assert curve.keys[0].value != pytest.approx(default), (clip.clip_id, param)


def test_project_wrapper_and_bins(realworld_dir):
    # <project><children> with master clips in a bin: one sequence, clips only from its tracks
    tl = read_one(realworld_dir / "xmeml" / "lossless-cut__Final_Cut_Pro_XMEML.xml")
    assert tl.name == "Sequence 1" and tl.rate == 25
    assert sum(len(t.clips) for t in tl.tracks) == 18
