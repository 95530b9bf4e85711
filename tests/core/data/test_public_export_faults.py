"""Reader faults found on public exports (issue 7, session 25), each with the construct of the public file in a
small document. Expected values are worked out by hand below.

* Premiere exports a clip's gain as a second Audio Levels filter and plays the two summed
  (tranvietthang94-jpg/premiere-auto-dialogue-xml: "Level +12 + Gain +6 -> XML re-export +18 dB, PCM +18 dB").
* Kdenlive before 19.08 writes its background as a ``black_track`` playlist (synchrone/kremlin-clock, Kdenlive
  17.12.3), which was read as a video track holding one clip "black".
* Shotcut's Opacity filter at one value (brightness ``alpha`` 0.64; marekk3301/animaton2024) was ignored.
"""

from __future__ import annotations

import math
from fractions import Fraction as F

import pytest

from core.data.formats import read_bytes
from core.data.formats.mlt_base import _comma_locale


def _levels(*filters: str) -> str:
    return "".join(
        f"<filter><effect><effectid>audiolevels</effectid><parameter><parameterid>level</parameterid>{body}"
        "</parameter></effect></filter>"
        for body in filters
    )


def _xmeml(items: str) -> bytes:
    return (
        '<xmeml version="4"><sequence><duration>150</duration><rate><timebase>25</timebase></rate><name>s</name>'
        f"<media><audio><track>{items}</track></audio></media></sequence></xmeml>"
    ).encode()


def _item(name: str, start: int, filters: str) -> str:
    return (
        f"<clipitem><name>{name}</name><start>{start}</start><end>{start + 50}</end><in>0</in><out>50</out>"
        f"{filters}</clipitem>"
    )


def test_a_second_audio_levels_filter_adds_as_a_gain():
    plus12, plus6 = "<value>3.98107</value>", "<value>1.99526</value>"  # 20 log10: +12 dB, +6 dB
    keyed = (
        "<keyframe><when>0</when><value>1</value></keyframe><keyframe><when>49</when><value>0.501187</value></keyframe>"
    )
    (tl,) = read_bytes(
        _xmeml(
            _item("level12 gain6", 0, _levels(plus12, plus6))
            + _item("level6 gain12", 50, _levels(plus6, plus12))
            + _item("keyed, gain6", 100, _levels(keyed, plus6))
        ),
        "stacked.xml",
    )
    a, b, c = tl.tracks[0].clips
    for clip in (a, b):
        assert clip.static["level_db"] == pytest.approx(18.0, abs=1e-4)
        assert [k.value for k in clip.curves["level_db"].keys] == pytest.approx([18.0], abs=1e-4)
    assert (a.gain_db, b.gain_db) == (pytest.approx(6.0, abs=1e-4), pytest.approx(12.0, abs=1e-4))
    # 0 -> -6 dB under +6: 6 -> 0 dB heard, at 4 s and 4 s + 49 frames
    keys = [(k.time, k.value) for k in c.curves["level_db"].keys]
    assert [t for t, _ in keys] == [F(100, 25), F(149, 25)]
    assert [v for _, v in keys] == pytest.approx([6.0, 0.0], abs=1e-4)


def test_a_single_audio_levels_filter_reads_as_before():
    (tl,) = read_bytes(_xmeml(_item("one", 0, _levels("<value>1.99526</value>"))), "one.xml")
    (clip,) = tl.tracks[0].clips
    assert clip.gain_db is None and clip.static["level_db"] == pytest.approx(6.0, abs=1e-4)


@pytest.mark.parametrize(
    ("handles", "interps"),
    [
        (["", "", ""], ["linear"] * 3),  # FCPCurve alone: straight lines
        (["O", "I", ""], ["smooth", "linear", "linear"]),  # a one-sided group: only the segment between them
        (["", "I", ""], ["smooth", "linear", "linear"]),  # an incoming handle curves the segment before it only
        (["O", "IO", "I"], ["smooth"] * 3),  # FCP 7's smoothed group: the last key was smoothed too
    ],
)
def test_fcp7_bezier_handles_decide_which_segments_curve(handles, interps):
    # FCP 7 writes <interpolation><name>FCPCurve</name> on every keyed parameter; a key is smoothed by its handles
    bez = {
        "I": "<inscale>0</inscale><inbez><horiz>5</horiz><vert>-3.14159</vert></inbez>",
        "O": "<outscale>0</outscale><outbez><horiz>5</horiz><vert>0</vert></outbez>",
    }
    keys = "".join(
        f"<keyframe><when>{w}</when><value>{v}</value>{''.join(bez[c] for c in h)}</keyframe>"
        for w, v, h in zip((0, 20, 40), (0.5, 1, 0.25), handles)
    )
    level = f"{keys}<interpolation><name>FCPCurve</name></interpolation><value>1</value>"
    (tl,) = read_bytes(_xmeml(_item("keyed", 0, _levels(level))), "fcp7.xml")
    assert [k.interp for k in tl.tracks[0].clips[0].curves["level_db"].keys] == interps


def _motion(scale: str, aspect: str) -> str:
    return (
        "<filter><effect><name>Basic Motion</name><effectid>basic</effectid><parameter><parameterid>scale"
        f"</parameterid>{scale}</parameter></effect></filter><filter><effect><name>Distort</name><effectid>"
        f"deformation</effectid><parameter><parameterid>aspect</parameterid>{aspect}</parameter></effect></filter>"
    )


def _video(items: str) -> bytes:
    return (
        '<xmeml version="4"><sequence><duration>150</duration><rate><timebase>25</timebase></rate><name>s</name>'
        f"<media><video><track>{items}</track></video></media></sequence></xmeml>"
    ).encode()


def test_a_distort_aspect_squeezing_the_height_scales_the_scale_read():
    # VEGAS Pro's twin exports of one clip: xmeml scale 133.3333 with Distort aspect -33.33332, FCPXML
    # scale="1.333333 1" (133 % wide, 100 % high). A positive aspect squeezes the width: the height keeps the scale
    keyed = (
        "<keyframe><when>0</when><value>100</value></keyframe><keyframe><when>25</when><value>200</value></keyframe>"
    )
    (tl,) = read_bytes(
        _video(
            _item("wide", 0, _motion("<value>133.3333</value>", "<value>-33.33332</value>"))
            + _item("keyed", 50, _motion(keyed, "<value>-50</value>"))
            + _item("narrow", 100, _motion("<value>120</value>", "<value>20</value>"))
        ),
        "distort.xml",
    )
    wide, keyed_clip, narrow = tl.tracks[0].clips
    assert wide.static["scale"] == pytest.approx(100.0, abs=1e-4)
    assert [k.value for k in keyed_clip.curves["scale"].keys] == pytest.approx([200 / 3, 400 / 3])
    assert narrow.static["scale"] == 120.0


PROFILE = '<profile frame_rate_num="25" frame_rate_den="1" width="1920" height="1080"/>'


def test_kdenlives_old_black_track_playlist_is_the_background():
    doc = (
        f'<mlt version="6.6.0">{PROFILE}'
        '<producer id="2" in="0" out="249"><property name="mlt_service">color</property></producer>'
        '<producer id="black" in="0" out="17146"><property name="mlt_service">colour</property></producer>'
        '<playlist id="black_track"><entry producer="black" in="0" out="124"/></playlist>'
        '<playlist id="playlist1"><blank length="25"/><entry producer="2" in="0" out="99"/></playlist>'
        '<tractor id="maintractor" in="0" out="124"><track producer="black_track"/><track producer="playlist1"/>'
        "</tractor></mlt>"
    )
    (tl,) = read_bytes(doc.encode(), "old.kdenlive")
    assert [(t.kind, [(c.start, c.end) for c in t.clips]) for t in tl.tracks] == [("video", [(1, 5)])]
    assert tl.duration == 5


@pytest.mark.parametrize(
    ("alpha", "rect", "opacity"),
    [
        ("0.64", None, 64.0),  # Shotcut's Opacity at one value
        ("0.5", "480 270 960 540 1", 50.0),  # under a Size & Position rect at full opacity
        ("1", None, None),  # fully opaque: nothing to read
        ("-1", None, None),  # Kdenlive's fades write -1: "as the level", not an opacity
    ],
)
def test_a_one_value_brightness_alpha_is_an_opacity(alpha, rect, opacity):
    affine = (
        '<filter><property name="mlt_service">affine</property>'
        f'<property name="transition.rect">{rect}</property></filter>'
        if rect
        else ""
    )
    doc = (
        f'<mlt version="7.22.0">{PROFILE}<producer id="p" in="0" out="49"><property name="mlt_service">color</property>'
        f'{affine}<filter><property name="mlt_service">brightness</property><property name="level">1</property>'
        f'<property name="shotcut:filter">brightnessOpacity</property><property name="alpha">{alpha}</property>'
        '</filter></producer><playlist id="v"><entry producer="p" in="0" out="49"/></playlist>'
        '<tractor id="t"><track producer="v"/></tractor></mlt>'
    )
    (tl,) = read_bytes(doc.encode(), "opacity.mlt")
    (clip,) = tl.tracks[0].clips
    if opacity is None:
        assert "opacity" not in clip.curves and clip.static.get("opacity", 100.0) == 100.0
    else:
        assert clip.static["opacity"] == pytest.approx(opacity)


PAL = '<profile frame_rate_num="25" frame_rate_den="1" width="720" height="576"/>'


def test_old_composite_geometry_strings_are_read():
    # Kdenlive 0.9 / MLT 6: geometry "x/y:wxh:mix", the mix a percent; from full frame to a quarter of it in the
    # lower right, half see-through, over frames 0-99 (sink-archive/cc-trailer's era; the reader read nothing).
    doc = (
        f'<mlt version="6.4.1">{PAL}'
        '<producer id="a" in="0" out="99"><property name="mlt_service">colour</property></producer>'
        '<producer id="b" in="0" out="99"><property name="resource">b.png</property></producer>'
        '<playlist id="p1"><entry producer="a" in="0" out="99"/></playlist>'
        '<playlist id="p2"><entry producer="b" in="0" out="99"/></playlist>'
        '<tractor id="t"><track producer="p1"/><track producer="p2"/>'
        '<transition in="0" out="99"><property name="mlt_service">composite</property>'
        '<property name="a_track">0</property><property name="b_track">1</property>'
        '<property name="geometry">0=0/0:720x576:100;99=360/288:360x288:50</property></transition>'
        "</tractor></mlt>"
    )
    (tl,) = read_bytes(doc.encode(), "old.kdenlive")
    top = tl.tracks[1].clips[0]
    expect = {"scale": [100.0, 50.0], "center_x": [0.0, 0.25], "center_y": [0.0, 0.25], "opacity": [100.0, 50.0]}
    for param, values in expect.items():
        keys = top.curves[param].keys
        assert [k.time for k in keys] == [0, F(99, 25)]
        assert [k.value for k in keys] == pytest.approx(values)


def test_a_speed_changed_clip_is_named_by_its_media_and_an_image_sequence_is_video():
    doc = (
        f'<mlt version="6.23.0">{PAL}'
        '<producer id="w" in="0" out="99"><property name="mlt_service">timewarp</property>'
        '<property name="resource">2.000000:/m/Screen.mp4</property><property name="warp_speed">2</property>'
        "</producer>"
        '<producer id="s" in="0" out="99"><property name="mlt_service">qimage</property>'
        '<property name="resource">/m/dump%05d.png?begin=100</property><property name="ttl">1</property></producer>'
        '<producer id="i" in="0" out="99"><property name="mlt_service">qimage</property>'
        '<property name="resource">/m/photo.png</property></producer>'
        '<playlist id="v"><entry producer="w" in="0" out="49"/><entry producer="s" in="0" out="49"/>'
        '<entry producer="i" in="0" out="49"/></playlist><tractor id="t"><track producer="v"/></tractor></mlt>'
    )
    (tl,) = read_bytes(doc.encode(), "speed.kdenlive")
    warped, sequence, photo = tl.tracks[0].clips
    assert (warped.name, warped.file_ext, warped.speed) == ("Screen.mp4", ".mp4", 2.0)
    assert (sequence.media_kind, photo.media_kind) == ("video", "still")


def test_older_kdenlive_fades_ramp_from_start_to_end():
    # datalad's project.kdenlive (and the corpus' kdenlive_example_v191180): fade_from_black / fade_to_black as
    # brightness start -> end with alpha -1 ("follow the level") and no level property. MLT's brightness filter
    # ramps start to end over the filter (reaching end at in + length). A title at 0.96 s fades in over 26
    # frames and out over its last 13.
    doc = (
        f'<mlt version="7.4.0">{PROFILE}<producer id="t" in="0" out="200">'
        '<property name="mlt_service">kdenlivetitle</property></producer>'
        '<playlist id="v"><blank length="24"/><entry producer="t" in="0" out="85">'
        '<filter out="00:00:01.000"><property name="start">0</property><property name="end">1</property>'
        '<property name="mlt_service">brightness</property><property name="kdenlive_id">fade_from_black</property>'
        '<property name="alpha">-1</property></filter>'
        '<filter in="00:00:02.920" out="00:00:03.400">'
        '<property name="start">1</property><property name="end">0</property>'
        '<property name="mlt_service">brightness</property><property name="kdenlive_id">fade_to_black</property>'
        '<property name="alpha">-1</property></filter></entry></playlist>'
        '<tractor id="x"><track producer="v"/></tractor></mlt>'
    )
    (tl,) = read_bytes(doc.encode(), "fades.kdenlive")
    (clip,) = tl.tracks[0].clips
    keys = [(k.time, k.value) for k in clip.curves["opacity"].keys]
    assert keys == [(F(24, 25), 0.0), (F(50, 25), 100.0), (F(97, 25), 100.0), (F(110, 25), 0.0)]


# en_DK (English with Danish formats, a common Linux choice) and Esperanto write a comma as glibc's locale data says,
# though English does not
@pytest.mark.parametrize("locale", ["cs_CZ", "de_DE.UTF-8", "German_Germany.1252", "en_DK.UTF-8", "eo"])
def test_numbers_with_a_decimal_comma_in_a_comma_locale(locale):
    # jirisembera/tabor-2018-intro (Shotcut 18.06, LC_NUMERIC cs_CZ): MLT reads numbers in the document's locale,
    # and Shotcut writes keys, rects and levels with a decimal comma there. A rect with "0,5" stopped the file.
    doc = (
        f'<mlt LC_NUMERIC="{locale}" version="6.9.0">{PROFILE}'
        '<producer id="p" in="00:00:00,000" out="00:00:09,960"><property name="resource">a.mp4</property>'
        '<filter out="00:00:03,960"><property name="mlt_service">affine</property>'
        '<property name="transition.rect">00:00:00,000=0 0 1920 1080 1;00:00:02,000=480 270 960 540 0,5</property>'
        '</filter><filter><property name="mlt_service">volume</property><property name="level">-6,5</property>'
        '</filter></producer><playlist id="v"><entry producer="p" in="00:00:00,000" out="00:00:03,960"/></playlist>'
        '<tractor id="t"><track producer="v"/></tractor></mlt>'
    )
    (tl,) = read_bytes(doc.encode(), "comma.mlt")
    (clip,) = tl.tracks[0].clips
    assert [(k.time, k.value) for k in clip.curves["scale"].keys] == [(0, 100.0), (2, 50.0)]
    assert [k.value for k in clip.curves["opacity"].keys] == [100.0, 50.0]
    assert clip.static["level_db"] == -6.5


def test_every_number_of_a_filter_follows_the_decimal_comma():
    # Not only keys and rects: Shotcut's one-value Opacity in a Czech project is alpha "0,64".
    doc = (
        f'<mlt LC_NUMERIC="cs_CZ" version="6.9.0">{PROFILE}<producer id="p" in="0" out="99">'
        '<property name="mlt_service">color</property><filter><property name="mlt_service">brightness</property>'
        '<property name="shotcut:filter">brightnessOpacity</property><property name="level">1</property>'
        '<property name="alpha">0,64</property></filter></producer>'
        '<playlist id="v"><entry producer="p" in="0" out="99"/></playlist><tractor id="t"><track producer="v"/>'
        "</tractor></mlt>"
    )
    (tl,) = read_bytes(doc.encode(), "comma_alpha.mlt")
    assert tl.tracks[0].clips[0].static["opacity"] == pytest.approx(64.0)


def test_a_speed_change_with_a_decimal_comma():
    # jirisembera/tabor-2018-intro's 07.mlt (Shotcut 18.06, cs_CZ): a timewarp producer at "0,75" (its length,
    # 16.64 s, is the 12.48 s media / 0.75) read at full speed; MLT's timewarp parses the speed in the locale
    doc = (
        f'<mlt LC_NUMERIC="cs_CZ" version="6.9.0">{PROFILE}<producer id="slow" in="0" out="99">'
        '<property name="resource">0,75:clip.mts</property><property name="warp_speed">0,75</property>'
        '<property name="mlt_service">timewarp</property></producer><producer id="old" in="0" out="99">'
        '<property name="resource">1,5:clip.mts</property><property name="mlt_service">timewarp</property></producer>'
        '<playlist id="v"><entry producer="slow" in="0" out="49"/><entry producer="old" in="0" out="49"/></playlist>'
        '<tractor id="t"><track producer="v"/></tractor></mlt>'
    )
    (tl,) = read_bytes(doc.encode(), "comma_speed.mlt")
    assert [c.speed for c in tl.tracks[0].clips] == [0.75, 1.5]


@pytest.mark.parametrize(
    ("tilt_y", "scale_y_key", "expected_y"),
    [("0,484259", "0,23", -0.3015), ("0=0,5;50=0", "0,5", None)],
)
def test_kdenlives_crop_scale_and_tilt_places_the_picture(tilt_y, scale_y_key, expected_y):
    # RomekRJM/Madkomat500Plus (Kdenlive 18.12, pl_PL): a picture-in-picture made with "Crop, Scale and Tilt"
    # (frei0r.scale0tilt): frei0r draws the frame at 2 * Scale of its size, its corner at (2 * Tilt - 1) of the
    # frame: Scale 0.23 is 46 %, centre 2 * 0.5 + 0.23 - 1.5 = -0.27 across, 2 * 0.484259 + 0.23 - 1.5 down
    doc = (
        f'<mlt LC_NUMERIC="pl_PL" version="6.12.0">{PROFILE}<producer id="p" in="0" out="99">'
        '<property name="resource">pip.mp4</property><filter><property name="mlt_service">frei0r.scale0tilt</property>'
        '<property name="Clip left">0</property><property name="Scale X">0,23</property>'
        f'<property name="Scale Y">{scale_y_key}</property><property name="Tilt X">0,5</property>'
        f'<property name="Tilt Y">{tilt_y}</property></filter></producer>'
        '<playlist id="v"><entry producer="p" in="0" out="99"/></playlist><tractor id="t"><track producer="v"/>'
        "</tractor></mlt>"
    )
    (tl,) = read_bytes(doc.encode(), "tilt.kdenlive")
    (clip,) = tl.tracks[0].clips
    assert clip.static["scale"] == pytest.approx(46.0) and clip.static["center_x"] == pytest.approx(-0.27)
    if expected_y is not None:
        assert clip.static["center_y"] == pytest.approx(expected_y, abs=1e-4)
    else:  # Tilt Y keyed from 0.5 to 0 over two seconds: the picture rises from the centre by a frame
        keys = [(k.time, k.value) for k in clip.curves["center_y"].keys]
        assert keys == [(0, pytest.approx(0.0)), (2, pytest.approx(-1.0))]


@pytest.mark.parametrize("bin_id", ["main_bin", "main bin"])
def test_kdenlives_version_is_read_from_its_bin_before_and_after_19_04(bin_id):
    # Kdenlive up to 19.04 names its bin playlist "main bin" (dilkas/maximum-common-subgraph, 17.12.3)
    doc = (
        f'<mlt version="6.6.0">{PROFILE}<producer id="p" in="0" out="99"><property name="resource">a.mp4</property>'
        '</producer><playlist id="v"><entry producer="p" in="0" out="99"/></playlist>'
        f'<playlist id="{bin_id}"><property name="kdenlive:docproperties.kdenliveversion">17.12.3</property>'
        '<property name="kdenlive:docproperties.version">0.96</property></playlist>'
        '<tractor id="t"><track producer="v"/></tractor></mlt>'
    )
    (tl,) = read_bytes(doc.encode(), "old.kdenlive")
    assert (tl.app, tl.app_version) == ("Kdenlive", "17.12.3")


def test_a_resolve_link_group_of_four_is_one_group():
    # donwellsav/conform-bridge's Resolve export: one clip on V1 and A1-A3, each member listing the group its own
    # way (the members before it in reverse order, then itself, then the rest); read by its first link, three groups
    def item(ident: str, links: list[str]) -> str:
        refs = "".join(f"<link><linkclipref>{r}</linkclipref></link>" for r in links)
        return (
            f'<track><clipitem id="{ident}"><name>c</name><start>0</start><end>50</end><in>0</in><out>50</out>'
            f'<file id="f"><name>00030.MTS</name></file>{refs}</clipitem></track>'
        )

    doc = (
        '<xmeml version="5"><sequence><name>s</name><rate><timebase>24</timebase></rate><media><video>'
        + item("v", ["v", "a1", "a2", "a3"])
        + "</video><audio>"
        + item("a1", ["v", "a1", "a2", "a3"])
        + item("a2", ["a1", "v", "a2", "a3"])
        + item("a3", ["a2", "a1", "v", "a3"])
        + "</audio></media></sequence></xmeml>"
    )
    (tl,) = read_bytes(doc.encode(), "resolve.xml")
    assert {c.link_group for _, c in tl.iter_clips()} == {"a1"}


@pytest.mark.parametrize(("name", "cut"), [("OMO PROMO FINAL (Resolve)", 921), ("Premiere", 920)])
def test_resolves_odd_centred_transition_cuts_after_its_middle(name, cut):
    # donwellsav/conform-bridge's Resolve export: an 11-frame dissolve 915..926 between STORE 2 (start 823, in 132,
    # out 230) and STORE 34 (in 619, out 719); Resolve's out - in runs from cut to cut: 823 + 98 = 921, a frame
    # after the middle; the OTIO adapter's rule (floor) stays for the others
    doc = (
        f"<xmeml version='5'><sequence><name>{name}</name><rate><timebase>24</timebase></rate><media><video><track>"
        '<clipitem id="a"><name>a</name><start>823</start><end>-1</end><in>132</in><out>230</out></clipitem>'
        "<transitionitem><start>915</start><end>926</end><alignment>center</alignment></transitionitem>"
        '<clipitem id="b"><name>b</name><start>-1</start><end>1021</end><in>619</in><out>719</out></clipitem>'
        "</track></video></media></sequence></xmeml>"
    )
    (tl,) = read_bytes(doc.encode(), "odd.xml")
    a, b = tl.tracks[0].clips
    assert a.end == b.start == F(cut, 24)
    assert b.source_in == F(619 + cut - 915, 24)  # source frame <in> stays at the transition's start


def test_a_transition_centred_on_a_clip_half_its_length_is_that_clips_tail():
    # se1yu/Video-Editing (Resolve, FCPXML 1.11): a 1 s Smooth Cut centred on the cut at 0.5 s, after a 0.5 s clip:
    # the transition starts where the clip does, and follows it in the spine.
    doc = (
        '<fcpxml version="1.11"><resources><format id="f" frameDuration="1/24s" width="1920" height="1080"/>'
        '<asset id="a" hasVideo="1" format="f" duration="100s" src="file:///m/a.mov"/></resources>'
        '<library><event><project name="p"><sequence format="f" duration="4s"><spine>'
        '<asset-clip ref="a" name="A" offset="0s" duration="1/2s"/>'
        '<transition name="Smooth Cut" offset="0s" duration="1s"/>'
        '<asset-clip ref="a" name="B" offset="1/2s" duration="7/2s"/>'
        "</spine></sequence></project></event></library></fcpxml>"
    )
    (tl,) = read_bytes(doc.encode(), "t.fcpxml")
    a, b = tl.tracks[0].clips
    assert (a.transition_out, b.transition_in) == (1, 1)


@pytest.mark.parametrize(("gain", "expected"), [("2", -60.0), ("0.5", -60.0)])
def test_a_muted_volume_key_stays_silent_under_a_second_filters_gain(gain, expected):
    # Daniel-Chin/Teo-demos-ChatPiano (Kdenlive 25.04.2): a clip's "volume" filter mutes stretches with -100 dB keys
    # and a "gain" filter doubles it (+6.02 dB). MLT multiplies the two amplitudes: -93.98 dB, silence; the reader
    # floored each filter at -60 first and read -53.98 dB. The keys at 0 dB take the gain (+6.02 or -6.02 dB)
    doc = (
        f'<mlt version="7.32.0">{PROFILE}'
        '<producer id="m" in="0" out="999"><property name="resource">music.mp3</property>'
        '<property name="mlt_service">avformat</property><property name="video_index">-1</property>'
        '<property name="audio_index">0</property></producer>'
        '<playlist id="p"><property name="kdenlive:audio_track">1</property><entry producer="m" in="0" out="199">'
        '<filter><property name="mlt_service">volume</property><property name="kdenlive_id">volume</property>'
        '<property name="level">0=0;25=0;50=-100;125=-100;150=0</property></filter>'
        '<filter><property name="mlt_service">volume</property><property name="kdenlive_id">gain</property>'
        f'<property name="gain">{gain}</property></filter></entry></playlist>'
        '<tractor id="t" in="0" out="199"><track producer="p" hide="video"/></tractor></mlt>'
    )
    (tl,) = read_bytes(doc.encode(), "mute.kdenlive")
    (clip,) = tl.tracks[0].clips
    plus = 20 * math.log10(float(gain))
    assert [(k.time, k.value) for k in clip.curves["level_db"].keys] == pytest.approx(
        [(0, plus), (1, plus), (2, expected), (5, expected), (6, plus)]
    )


@pytest.mark.parametrize(
    ("locale", "comma"),
    [("en_US.UTF-8", False), ("C", False), ("en_DK.UTF-8", True), ("de_CH.UTF-8", False), ("fr_CH", False)]
    + [("es_ES.UTF-8", True), ("es_MX.UTF-8", False), ("br_FR", True), ("French_France.1252", True)],
)
def test_the_locale_decides_the_decimal_separator_as_glibc_does(locale, comma):
    assert _comma_locale(locale) is comma
