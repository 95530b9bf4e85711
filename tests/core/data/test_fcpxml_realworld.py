"""The FCPXML reader on real exports. Expected values were read by hand from the XML files."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.data.formats import read_bytes, read_file
from core.data.formats.fcpxml import _Spans
from core.data.timeline import Timeline
from tests.conftest import curve_keys, read_one


def _clips(tl: Timeline, name: str, kind: str | None = None):
    return [(t, c) for t, c in tl.iter_clips() if c.name == name and (kind is None or t.kind == kind)]


def test_slide_still_keys_in_local_time(realworld_dir):
    # <video start="86399313/24000s"> (about 1 h) at offset 0; position keys at 86399313/24000s and
    # 86423337/24000s are local times: they land on timeline 0 and 24024/24000 s.
    tl = read_one(realworld_dir / "fcpxml" / "cutlass__slide.fcpxml")
    assert tl.rate == Fraction(24000, 1001) and (tl.width, tl.height) == (1280, 720)
    [(track, clip)] = list(tl.iter_clips())
    assert track.kind == "video" and clip.media_kind == "still"  # FFVideoFormatRateUndefined asset
    assert (clip.start, clip.end, clip.source_in) == (0, Fraction(241241, 24000), Fraction(86399313, 24000))
    cx = curve_keys(clip, "center_x")
    assert [t for t, _, _ in cx] == [0, Fraction(24024, 24000)]
    # "51.3109 0": percent of the frame height -> 51.3109 * 720 / 100 px of 1280
    assert cx[1][1] == pytest.approx(51.3109 * 720 / 100 / 1280)
    assert [i for _, _, i in cx] == ["smooth", "smooth"]  # no curve attribute: the DTD default
    assert curve_keys(clip, "rotation") == [(Fraction(24024, 24000), 0.0, "linear")]  # curve="linear"


def test_timeline_sample_connected_clip_at_gap_head(realworld_dir):
    # <gap offset="480480/120000s" start="3600s"> holds <asset-clip lane="-1" offset="3600s">: the
    # clip sits at the gap's head. It has no start, so its volume keys are in media time from 0.
    tl = read_one(realworld_dir / "fcpxml" / "pipeline-neo__TimelineSample.fcpxml")
    [(track, clip)] = _clips(tl, "Eternal_Structures")
    assert track.kind == "audio" and clip.media_kind == "audio"  # an audio-only asset
    assert clip.start == Fraction(480480, 120000)
    assert clip.end == clip.start + Fraction(90810720, 720000)
    keys = curve_keys(clip, "level_db")
    # <fadeIn type="easeIn" duration="2317580/720000s"> over the keys (issue 7.3; it was dropped):
    # silence at the clip start, up to the key curve's value at the fade's end (4 dB, held before
    # the first key), then the 8 keys unchanged.
    fade_end = clip.start + Fraction(2317580, 720000)
    assert keys[:2] == [(clip.start, -60.0, "smooth"), (fade_end, 4.0, "smooth")]
    assert keys[2] == (clip.start + Fraction(7849868, 720000), 4.0, "smooth")  # value="4dB"
    assert keys[3][1] == -35.0 and len(keys) == 2 + 8


def test_timeline_sample_still_position_and_scale(realworld_dir):
    # truffle_page.png: <clip start="1080079/240s"> (about 4500 s), keys from 1080079/240s.
    tl = read_one(realworld_dir / "fcpxml" / "pipeline-neo__TimelineSample.fcpxml")
    [(track, clip)] = _clips(tl, "truffle_page.png")
    assert track.kind == "video" and clip.media_kind == "still"
    scale = curve_keys(clip, "scale")
    assert scale[0][:2] == (clip.start, pytest.approx(326.97)) and scale[1][1] == pytest.approx(289.97)
    assert scale[1][0] - scale[0][0] == Fraction(108174066, 24000) - Fraction(1080079, 240)
    cy = curve_keys(clip, "center_y")
    assert cy[0][1] == pytest.approx(0.3125) and cy[0][2] == "linear"  # "76.9444 -31.25", y up -> down


def test_brenner_fcpxml12_key_lists_in_db(realworld_dir):
    # FCPXML 1.2: <param name="amount" keyValues="-1dB; -8dB; ..." keyTimes="37520041/720000s; ...">
    # on a connected audio (lane -1, start 2476800/48000s) of a clip at offset 0.
    tl = read_one(realworld_dir / "fcpxml" / "xmeml__BRENNER_DAGDROMMER_mktf61000312u.fcpxml")
    assert tl.rate == 25  # frameDuration 100/2500s
    [(track, clip)] = _clips(tl, "BRENNER_2012_VIGNETT_171012 - a1")
    assert track.kind == "audio"
    assert clip.start == Fraction(12383091, 240000)
    keys = curve_keys(clip, "level_db")
    # keys win over amount="-5dB"; <fadeOut type="easeIn" duration="406425825/1474560000s"> now
    # applies on top of them (issue 7.3): at the fade's start the key curve's value (between the
    # -15 and -36 keys, smooth), the -36 key 0.0034 s before the end scaled to silence, silence at the end.
    shift = clip.start - Fraction(2476800, 48000)
    times = [shift + Fraction(t, 720000) for t in (37520041, 37822581, 38132815, 38300398, 38532079)]
    end = clip.start + Fraction(460800, 240000)
    fade_start = end - Fraction(406425825, 1474560000)
    u = float((fade_start - times[3]) / (times[4] - times[3]))
    at_fade_start = -15.0 + (-36.0 + 15.0) * u * u * (3 - 2 * u)
    assert [t for t, _, _ in keys] == times[:4] + [fade_start, times[4], end]
    assert [v for _, v, _ in keys] == pytest.approx([-1.0, -8.0, -8.0, -15.0, at_fade_start, -60.0, -60.0])
    # adjust-blend keyValues "1; 0" -> opacity 100 -> 0 on the first clip's video
    [(_, video)] = _clips(tl, "BRENNER_2012_VIGNETT_171012", "video")
    assert [(t, v) for t, v, _ in curve_keys(video, "opacity")] == [
        (Fraction(255400, 5000), 100.0),
        (Fraction(257800, 5000), 0.0),
    ]
    kinds = {c.media_kind for _, c in tl.iter_clips()}
    assert {"generator", "audio", "video"} <= kinds and "sequence" not in kinds  # titles; mc-clips flattened
    assert any(c.xml_context and c.xml_context[-1].split("/")[-1].startswith("mc-clip") for _, c in tl.iter_clips())
    assert any(not c.enabled for _, c in tl.iter_clips())


def test_brenner_fade_out_becomescurve_keys(realworld_dir):
    # The first clip's <adjust-volume><param name="amount"><fadeOut type="easeIn" duration=...>.
    tl = read_one(realworld_dir / "fcpxml" / "xmeml__BRENNER_DAGDROMMER_mktf61000312u.fcpxml")
    [(_, audio)] = _clips(tl, "BRENNER_2012_VIGNETT_171012", "audio")
    assert audio.end == Fraction(12402290, 240000)  # audioDuration
    keys = curve_keys(audio, "level_db")
    assert keys == [(audio.end - Fraction(29983045, 491520000), 0.0, "smooth"), (audio.end, -60.0, "smooth")]


def test_resolve_unreduced_fractions_and_tc_start(realworld_dir):
    # tcStart="3600/1s"; first clips at offset 3600/1s and 90346/25s; asset-clip start = source in.
    tl = read_one(realworld_dir / "fcpxml" / "lossless-cut__FCPXML_1_9.fcpxml")
    assert tl.rate == 25 and (tl.width, tl.height) == (720, 576)
    video = tl.tracks[0].clips
    assert len(video) == 173
    assert (video[0].start, video[0].end) == (0, Fraction(346, 25))
    assert video[1].start == Fraction(90346, 25) - 3600
    assert all(not c.curves for c in video)  # position="0 0" scale="1 1": defaults, no curve


def test_occlusion_lanes_sync_clips_and_tc_start(realworld_dir):
    # tcStart 3590s; the title at offset 3590s opens the timeline; lanes -3..4 become tracks.
    tl = read_one(realworld_dir / "fcpxml" / "DAWFileKit__Occlusion3.fcpxml")
    first = tl.tracks[0].clips[0]
    assert (first.name, first.start, first.media_kind) == ("Basic Title", 0, "generator")
    [(track, music)] = _clips(tl, "TempMusic")
    assert track.kind == "audio" and not music.enabled  # enabled="0"
    # sync-clip 2-1-5: picture and sound, the sound timed by audioStart/audioDuration
    both = _clips(tl, "2-1-5")
    assert sorted(t.kind for t, _ in both) == ["audio", "video"]
    [(_, vfx)] = _clips(tl, "VFX - Add SFX")
    assert curve_keys(vfx, "opacity") == [(vfx.start, 75.0, "smooth")]  # static adjust-blend amount="0.75"
    [(_, sync)] = _clips(tl, "1-X-1", "video")
    assert curve_keys(sync, "center_y") == [(sync.start, pytest.approx(-0.225729), "smooth")]  # position "0 22.5729"


def test_transitions_set_lengths_on_both_sides(realworld_dir):
    # 24.fcpxml: a transition offset 55600/2400s duration 40700/2400s centred on the cut at 76000/2400s
    tl = read_one(realworld_dir / "fcpxml" / "DAWFileKit__24.fcpxml")
    a, b = tl.tracks[0].clips[:2]
    assert a.end == b.start == Fraction(76000, 2400)
    assert a.transition_out == b.transition_in == Fraction(40700, 2400)
    assert a.transition_in == Fraction(28600, 2400)  # from black at the head


def test_compound_clip_sequences_are_not_timelines(realworld_dir):
    timelines = read_file(realworld_dir / "fcpxml" / "otio-fcpx-xml-adapter__fcpx_example.fcpxml")
    assert [tl.name for tl in timelines] == ["OpenTimeline_Project", "OpenTimeline_Project 1"]
    # ref-clips are flattened (issue 7.5): their contents play in their place, none is a "sequence"
    clips = [c for tl in timelines for _, c in tl.iter_clips()]
    assert not any(c.media_kind == "sequence" for c in clips)
    assert any(c.xml_context and c.xml_context[0].split("/")[-1].startswith("ref-clip") for c in clips)


def test_synthetic_keyframe_interpolation_and_units():
    xml = b"""<fcpxml version="1.10"><resources>
      <format id="r1" frameDuration="1/25s" width="1920" height="1080"/>
      <asset id="a" start="0s" duration="100s" hasVideo="1" hasAudio="1" format="r1"/></resources>
      <library><event><project name="p"><sequence format="r1" tcStart="0s" duration="10s"><spine>
        <asset-clip ref="a" offset="0s" start="20s" duration="10s">
          <adjust-transform><param name="rotation"><keyframeAnimation>
            <keyframe time="20s" value="0" curve="smooth"/><keyframe time="25s" value="90" curve="linear"/>
            <keyframe time="28s" value="45" interp="easeIn"/></keyframeAnimation></param></adjust-transform>
          <adjust-volume amount="-120dB"/>
        </asset-clip></spine></sequence></project></event></library></fcpxml>"""
    [tl] = read_bytes(xml, "synthetic.fcpxml")
    video, audio = tl.tracks
    [clip] = video.clips
    # FCP X turns a positive angle counter-clockwise: the canonical (clockwise) angle is its negative
    assert curve_keys(clip, "rotation") == [(0, 0.0, "smooth"), (5, -90.0, "linear"), (8, -45.0, "smooth")]
    assert curve_keys(audio.clips[0], "level_db") == [(0, -60.0, "smooth")]  # floored


def test_multicam_reading_does_not_depend_on_the_hash_seed(realworld_dir):
    # a multicam clip's adjustments are composed over a union of parameter names: in set order, the
    # clip's dicts (and so its repr, JSON and written files) changed with PYTHONHASHSEED
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    path = realworld_dir / "fcpxml" / "xmeml__BRENNER_DAGDROMMER_mktf61000312u.fcpxml"
    code = (
        "import hashlib, sys; from core.data.formats import read_file; "
        "tls = read_file(sys.argv[1]); "
        "names = [(list(c.curves), list(c.static)) for tl in tls for _, c in tl.iter_clips()]; "
        "print(hashlib.sha256(repr(names).encode()).hexdigest())"
    )
    seen = set()
    for seed in ("1", "2", "3", "4"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=env, cwd=ROOT)
        assert out.returncode == 0, out.stderr
        seen.add(out.stdout.strip())
    assert len(seen) == 1, seen


_TIMES = st.fractions(min_value=-20, max_value=20, max_denominator=6)


@given(st.lists(st.tuples(_TIMES, _TIMES), min_size=1, max_size=12), st.lists(_TIMES, min_size=1, max_size=3))
def test_the_spans_found_for_a_time_include_every_one_that_holds_it(spans, times):
    # the spine's transitions are looked up by time instead of compared with every clip (quadratic in a long
    # spine: 3,000 clips with their transitions took 21 s to read, now half a second)
    found = _Spans(spans).holding(*times)
    assert found == sorted(set(found))  # spine order, each once: where two hold a clip, the later one wins
    assert {i for i, (s, e) in enumerate(spans) for t in times if s <= t <= e} <= set(found)


def test_every_clip_of_a_long_spine_gets_its_transitions():
    items = []
    for i in range(200):
        items.append(f'<asset-clip ref="a" offset="{i * 4}s" start="20s" duration="4s"/>')
        items.append(f'<transition offset="{i * 4 + 3}s" duration="2s"/>' if i < 199 else "")
    xml = f"""<fcpxml version="1.10"><resources>
      <format id="r1" frameDuration="1/25s" width="1920" height="1080"/>
      <asset id="a" start="0s" duration="100s" hasVideo="1" format="r1"/></resources>
      <library><event><project name="p"><sequence format="r1" tcStart="0s" duration="800s"><spine>
      {"".join(items)}</spine></sequence></project></event></library></fcpxml>""".encode()
    [tl] = read_bytes(xml, "long.fcpxml")
    clips = tl.tracks[0].clips
    assert [(c.transition_in, c.transition_out) for c in clips] == [(0, 2)] + [(2, 2)] * 198 + [(2, 0)]


def test_occlusion_sync_clip_sounds_like_the_clip_connected_to_its_gap(realworld_dir):
    # sync-clip 5-1-9 holds a gap with the clip TestAudio connected to it, and its sync-source switches one of
    # TestAudio's four roles off (audio-role-source "dialogue.Boom 1" enabled="0"): the other three play. Its
    # sound is TestAudio's, at the sync clip's 12.0412 dB and TestAudio's own 3 dB: two volume stages, added.
    tl = read_one(realworld_dir / "fcpxml" / "DAWFileKit__Occlusion3.fcpxml")
    [(_, sound)] = _clips(tl, "5-1-9", "audio")
    keys = curve_keys(sound, "level_db")
    assert keys[0][1] == -60.0 and keys[-1][1] == pytest.approx(12.0412 + 3.0)  # after its fade in
