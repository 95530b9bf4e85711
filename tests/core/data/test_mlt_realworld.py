"""The MLT reader on real Kdenlive and Shotcut files, plus synthetic animation strings the corpus
lacks. Expected values were read by hand from the XML files."""

from __future__ import annotations

from fractions import Fraction

import pytest

from core.data.formats import read_bytes, read_file
from tests.conftest import curve_keys, read_one


def test_kdenlive_entry_keys_in_source_time(realworld_dir):
    # <entry producer="producer9" in="00:00:06.640"> at timeline 2.96 s with a volume filter
    # level "00:00:06.640=0;00:00:08.480=15.5556;00:00:12.000=-29.5778": key 6.64 s is the entry's in.
    tl = read_one(realworld_dir / "mlt" / "kdenlive-opentimelineio__kdenlive_example_v191180.kdenlive")
    assert tl.rate == 25 and (tl.width, tl.height) == (720, 576)
    [clip] = [c for t, c in tl.iter_clips() if t.kind == "audio" and c.source_in == Fraction(664, 100)]
    assert clip.start == Fraction(74, 25)
    assert curve_keys(clip, "level_db") == [
        (Fraction(74, 25), 0.0, "linear"),
        (Fraction(74, 25) + Fraction(184, 100), 15.5556, "linear"),
        (Fraction(74, 25) + Fraction(536, 100), -29.5778, "linear"),
    ]
    kinds = {c.media_kind for _, c in tl.iter_clips()}
    assert {"generator", "video", "audio"} <= kinds  # color and kdenlivetitle producers
    # the plain brightness effect (level up to 2.03) is not an opacity; the two fade_from_black filters (start 0,
    # end 1, alpha -1, out 0.36 s and 1.28 s) are: 0 -> 100 over 10 and 33 frames from each clip's start
    faded = {c.name: curve_keys(c, "opacity") for _, c in tl.iter_clips() if "opacity" in c.curves}
    assert faded == {
        "Dark Blue": [(0, 0.0, "linear"), (Fraction(10, 25), 100.0, "linear")],
        "Placeholder: Unsupported clip type": [(0, 0.0, "linear"), (Fraction(33, 25), 100.0, "linear")],
    }


def test_kdenlive_old_fade_filters_ramp_gain_to_end(realworld_dir):
    # Kdenlive 19 "fadeout": volume gain=1 end=0, in=1:01.240 out=1:02.360 (inclusive: 29 frames)
    tl = read_one(realworld_dir / "mlt" / "kdenlive-opentimelineio__kdenlive_example_v191180.kdenlive")
    clip = tl.audio_tracks[0].clips[0]
    assert curve_keys(clip, "level_db") == [(clip.end - Fraction(29, 25), 0.0, "linear"), (clip.end, -60.0, "linear")]


def test_audio_mix_fade_filter_counts_from_its_in(realworld_dir):
    # brightness filter in=0.16 out=0.28 with alpha "00:00:00.000=1;00:00:00.120=0" on an entry at 0
    tl = read_one(realworld_dir / "mlt" / "kdenlive-test-suite__audio-mix.kdenlive")
    [clip] = [c for _, c in tl.iter_clips() if "opacity" in c.curves]
    assert clip.start == 0 and clip.source_in == 0
    assert curve_keys(clip, "opacity") == [(Fraction(4, 25), 100.0, "linear"), (Fraction(7, 25), 0.0, "linear")]


def test_effect_zones(realworld_dir):
    # Sequence filter in=2.96 out=5.96 (fade_from_black, level 0 -> 1 over 0..3.0 s) reaches the
    # clips it overlaps (0-5 s and 5-10 s); the track zone filter qtblend in=7.0 out=9.4 only the clip at
    # 5-10 s. MLT runs a zoned filter only in its zone: before it, and after its last frame, a clip's
    # parameter is at its default (the fade's end is at the default already).
    tl = read_one(realworld_dir / "mlt" / "kdenlive-test-suite__effect-zones.kdenlive")
    a, b, c = tl.video_tracks[0].clips
    fade = [(Fraction(74, 25), 0.0, "linear"), (Fraction(149, 25), 100.0, "linear")]
    assert curve_keys(a, "opacity") == [(0, 100.0, "hold"), *fade]
    assert curve_keys(b, "opacity") == fade
    assert "opacity" not in c.curves
    assert "scale" not in a.curves
    # rect "606 341 705 396" in 1920x1080 (a colour clip, the profile's shape, fitted in the rect): scale
    # 396/1080 (the smaller of 705/1920 and 396/1080), centre x (606 + 705/2)/1920 - 0.5, from 7.0 s through
    # the zone's last frame (9.40 s), then back to the default at 9.44 s
    for param, value in (("scale", 396 / 1080 * 100), ("center_x", (606 + 705 / 2) / 1920 - 0.5)):
        keys = curve_keys(b, param)
        assert [(t, i) for t, _, i in keys] == [
            (5, "hold"),
            (7, "linear"),
            (Fraction(47, 5), "hold"),
            (Fraction(236, 25), "linear"),
        ]
        assert [v for _, v, _ in keys] == pytest.approx(
            [0.0 if param == "center_x" else 100.0, value, value, keys[0][1]]
        )


def test_qtblend_rotate_rotationcurve_keys(realworld_dir):
    # four 26-frame entries (out inclusive: 0..1.000 s), qtblend rotation "0=0;1.000=180", "...=360"
    tl = read_one(realworld_dir / "mlt" / "kdenlive-test-suite__qtblend-rotate.kdenlive")
    clips = tl.video_tracks[0].clips
    assert [c.start for c in clips] == [0, Fraction(26, 25), Fraction(52, 25), Fraction(78, 25)]
    assert curve_keys(clips[0], "rotation") == [(0, 0.0, "linear"), (1, 180.0, "linear")]
    assert curve_keys(clips[1], "rotation")[-1] == (Fraction(26, 25) + 1, 360.0, "linear")
    assert "scale" not in clips[0].curves  # full-frame rect: defaults, no curve
    assert curve_keys(clips[2], "scale")[0][1] == 50.0  # rect "960 270 960 540"
    assert curve_keys(clips[2], "center_x")[0][1] == 0.25 and "center_y" not in clips[2].curves


def test_shotcut_track_filters_in_track_time(realworld_dir):
    # playlist filters: level "00:00:19.640=1;00:00:20.600=0" (fade out) after a fade in; volume in dB
    tl = read_one(realworld_dir / "mlt" / "Shotcut-Autoexporter__media.mlt")
    assert [t.kind for t in tl.tracks] == ["video", "video", "audio"]  # background skipped
    [v1] = tl.tracks[0].clips
    assert curve_keys(v1, "opacity")[-2:] == [(Fraction(491, 25), 100.0, "linear"), (Fraction(103, 5), 0.0, "linear")]
    [a1] = tl.audio_tracks[0].clips
    assert [v for _, v, _ in curve_keys(a1, "level_db")] == [-60.0, 0.0, 0.0, -60.0]


def test_shotcut_transition_tractors_meet_in_the_middle(realworld_dir):
    tl = read_one(realworld_dir / "mlt" / "Shotcut-Autoexporter__media.mlt")
    a, b, c = tl.tracks[1].clips
    assert (a.media_kind, b.media_kind) == ("video", "still")  # qimage
    # blank 8.04 s, entry 0..2.800 (71 frames), transition 0..0.880 (23 frames)
    assert a.start == Fraction(201, 25) and a.end == b.start == Fraction(201 + 71, 25) + Fraction(23, 50)
    assert a.transition_out == b.transition_in == Fraction(23, 25)
    # the transition plays the first clip on after its out (2.84 s on) and the second from its 0.00 s up to its
    # entry's in (0.92 s): at the middle, 11.5 frames in, the first is at 2.84 + 0.46 s, the second at 0.46 s
    assert (a.source_in, a.source_out) == (0, Fraction(71, 25) + Fraction(23, 50))
    assert b.source_in == Fraction(23, 25) - Fraction(23, 50)


def test_sequences_and_project_tractor(realworld_dir):
    tl = read_one(realworld_dir / "mlt" / "kdenlive-test-suite__sequences.kdenlive")
    assert tl.name == "Sequence 3"  # the project tractor plays the active sequence
    kinds = [c.media_kind for c in tl.video_tracks[0].clips]
    assert kinds == ["generator", "sequence", "sequence"]


def test_clock_strings_at_2997_round_as_mlt():
    # 30000/1001 fps: "00:00:01.000" -> lrint(29.97) = 30; "00:01:00.000" -> floor(1798.2) = 1798;
    # "01:00:00.000" -> floor(107892.1) = 107892 (not 107892.107...); SMPTE "00:00:01:05" -> 30 + 5
    from core.data.formats.mlt import _Reader

    reader = _Reader(_doc(30000, 1001, ""), "x.mlt")
    assert reader.frames("00:00:01.000", "") == 30
    assert reader.frames("00:01:00.000", "") == 1798
    assert reader.frames("01:00:00.000", "") == 107892
    assert reader.frames("00:00:00.500", "") == 15  # 14.985 -> 15
    assert reader.frames("00:00:01:05", "") == 35
    # SMPTE seconds round up (MLT 7: ceil(29.97 * 17) = 510, where lrint gave 509), hours and minutes down
    assert reader.frames("00:00:16:29", "") == 509
    assert reader.frames("00:00:17:00", "") == 510
    assert reader.frames("00:01:58:29", "") == 1798 + 1768
    assert reader.frames("42", "") == 42
    # Shotcut's stock Size, Position & Rotate presets ("Slide In From Left") write ":1.0": MLT's atoi("") is 0 minutes
    assert reader.frames(":1.0", "") == 30


def _doc(num, den, playlist_body, filters=""):
    from lxml import etree

    xml = f"""<mlt><profile frame_rate_num="{num}" frame_rate_den="{den}" width="1000" height="500"/>
      <producer id="p" in="0" out="999"><property name="mlt_service">avformat</property></producer>
      <playlist id="pl0">{playlist_body}</playlist>
      <tractor id="main"><track producer="pl0"/>{filters}</tractor></mlt>"""
    return etree.fromstring(xml.encode())


def _synthetic(rect_or_level: str, service: str = "affine", prop: str = "transition.rect"):
    body = f"""<blank length="10"/><entry producer="p" in="20" out="69">
      <filter><property name="mlt_service">{service}</property>
      <property name="{prop}">{rect_or_level}</property></filter></entry>"""
    from lxml import etree

    [tl] = read_bytes(etree.tostring(_doc(10, 1, body)), "synthetic.mlt")
    return tl.tracks[0].clips[0]


def test_synthetic_markers_hold_smooth_and_negative_times():
    # entry at timeline frame 10 with in=20 (10 fps): key frame f -> timeline (10 + f - 20) / 10 s
    clip = _synthetic("20|=0 0 1000 500 1;30~=0 0 500 250 0.5;-1=250 125 500 250 1")
    scale = curve_keys(clip, "scale")
    # -1 counts back from the producer's length (in 0 .. out 999: 1000 frames): frame 999
    assert scale == [(1, 100.0, "hold"), (2, 50.0, "smooth"), (Fraction(989, 10), 50.0, "linear")]
    assert curve_keys(clip, "opacity")[1][1] == 50.0
    assert curve_keys(clip, "center_x")[2][1] == 0.0 and curve_keys(clip, "center_x")[1][1] == -0.25


def test_synthetic_percent_rect_and_easing_letters():
    clip = _synthetic("20=0% 0% 100% 100% 100%;25e=50% 0% 50% 50% 40%;27!=0% 0% 100% 100% 100%")
    assert curve_keys(clip, "scale") == [
        (1, 100.0, "linear"),
        (Fraction(3, 2), 50.0, "smooth"),
        (Fraction(17, 10), 100.0, "hold"),
    ]
    assert curve_keys(clip, "opacity")[1][1] == 40.0
    assert curve_keys(clip, "center_x")[1][1] == pytest.approx(0.25)


def test_synthetic_volume_gain_and_panner():
    clip = _synthetic("20=0.5;30=1", service="volume", prop="gain")
    assert [v for _, v, _ in curve_keys(clip, "level_db")] == [pytest.approx(-6.0206), 0.0]


def test_kdenlive_same_track_mixes_meet_at_their_cut(realworld_dir):
    # tractor3 (a video track): playlist6 holds the first clips, playlist7 the ones mixed into them.
    # transition5: in 00:00:13.520, out 00:00:14.520 (the first clip's end: entry 0..14.480 inclusive),
    # mixcut 12 -> the cut is 12 frames before 14.52 s, at 14.04 s; the second clip (entry in 1:49.640)
    # shows from 109.64 + (14.04 - 13.52) = 110.16 s of its source. transition6: in 51.88, out 52.88,
    # mixcut 0 -> the cut at the first clip's end; the second (in 1:05.560) starts 1.0 s into the mix.
    # transition8: in 1:27.36, out 1:35.92 (a mix as long as a clip), mixcut 99 -> the cut at 91.96 s.
    (tl,) = read_file(realworld_dir / "mlt" / "kdenlive-opentimelineio__kdenlive_mixes_markers.kdenlive")
    clips = tl.video_tracks[1].clips
    placed = [(c.start, c.end, c.source_in, c.transition_in, c.transition_out) for c in clips[:6]]
    s = Fraction(1, 25)
    assert placed == [
        (0, 351 * s, 0, 0, 1),
        (351 * s, 776 * s, 2754 * s, 1, 0),
        (928 * s, 1322 * s, 941 * s, 0, 1),
        (1322 * s, 1970 * s, 1664 * s, 1, 1),
        (1970 * s, 2299 * s, 1335 * s, 1, Fraction(214, 25)),
        (2299 * s, 2512 * s, 351 * s, Fraction(214, 25), 0),
    ]
    assert all(a.end <= b.start for a, b in zip(clips, clips[1:]))  # no clip overlaps the next any more
    assert all(c.source_out - c.source_in == c.end - c.start for c in clips)
    # Kdenlive's AVSplit groups name a mixed clip by its position in its playlist, the mix's start (13.52 s)
    assert clips[1].link_group == "0:338"


def _mix_doc(mixcut: str, second_at: int = 75) -> bytes:
    # two 100-frame clips on one Kdenlive track at 25 fps, the second on the track's second playlist
    return f"""<mlt><profile frame_rate_num="25" frame_rate_den="1" width="1920" height="1080"/>
      <producer id="a" in="0" out="499"><property name="resource">a.mp4</property></producer>
      <producer id="b" in="0" out="499"><property name="resource">b.mp4</property></producer>
      <producer id="black_track" in="0" out="999"><property name="resource">black</property></producer>
      <playlist id="p0"><entry producer="a" in="0" out="99"/></playlist>
      <playlist id="p1"><blank length="{second_at}"/><entry producer="b" in="200" out="299"/></playlist>
      <tractor id="t0"><track producer="p0"/><track producer="p1"/>
        <transition id="mix0" in="75" out="100"><property name="mlt_service">luma</property>
          <property name="kdenlive:mixcut">{mixcut}</property><property name="reverse">0</property>
        </transition></tractor>
      <tractor id="main"><track producer="black_track"/><track producer="t0"/></tractor></mlt>""".encode()


@pytest.mark.parametrize(
    "mixcut, cut",
    [("12", 88), ("0", 100), ("25", 75), ("999", 75)],  # the cut: mixcut frames before 100, never before 75
)
def test_a_mix_is_cut_mixcut_frames_before_the_first_clips_end(mixcut, cut):
    (tl,) = read_bytes(_mix_doc(mixcut), "mix.kdenlive")
    a, b = tl.tracks[0].clips
    s = Fraction(1, 25)
    assert (a.start, a.end, a.source_in, a.source_out, a.transition_out) == (0, cut * s, 0, cut * s, 1)
    assert (b.start, b.end, b.source_in, b.transition_in) == (cut * s, 175 * s, (200 + cut - 75) * s, 1)


def test_a_mix_is_where_its_clips_are_as_kdenlive_loads_it():
    # Kdenlive takes the clips playing at the mix's in and end, and the mix from the second one's start to
    # the first one's end: a stale in (75 here, the second clip starting at 70) moves with them
    (tl,) = read_bytes(_mix_doc("12", second_at=70), "mix.kdenlive")
    a, b = tl.tracks[0].clips
    assert (a.end, b.start, a.transition_out, b.transition_in) == (
        Fraction(88, 25),
        Fraction(88, 25),
        Fraction(30, 25),
        Fraction(30, 25),
    )


def test_a_video_mix_written_with_its_tracks_swapped():
    # Kdenlive 25 (Bornitis/web-sjediste, a slideshow of stills): a reversed video mix is a_track 1, b_track 0 with
    # reverse 0, its first clip on the track's second playlist; Kdenlive's loadMix swaps the two clips it finds
    swapped = b'<track producer="p1"/><track producer="p0"/>'
    doc = _mix_doc("12").replace(b'<track producer="p0"/><track producer="p1"/>', swapped)
    assert swapped in doc
    (tl,) = read_bytes(doc, "mix.kdenlive")
    a, b = tl.tracks[0].clips
    s = Fraction(1, 25)
    assert (a.start, a.end, a.transition_out) == (0, 88 * s, 1)
    assert (b.start, b.source_in, b.transition_in) == (88 * s, (200 + 13) * s, 1)


def test_a_mix_whose_clips_do_not_meet_leaves_them_as_they_are():
    (tl,) = read_bytes(_mix_doc("12", second_at=110), "mix.kdenlive")  # no clip plays on the second playlist
    a, b = tl.tracks[0].clips
    assert (a.end, b.start, a.transition_out, b.transition_in) == (4, Fraction(110, 25), 0, 0)
