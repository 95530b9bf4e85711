"""xmeml reader, issue 7 items 1-2 and issue 6 item 1: Premiere's mixed rates, its Audio Gain, and
what the export says about each clip's source and role. Expected values are read by hand from
the XML (the quoted elements); dB values are 20*log10 of the linear gain the file writes."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from lxml import etree

from core.data.formats import read_bytes, read_file
from core.data.formats._xml import safe_parse
from core.data.formats.write_back import write_back
from core.data.timeline import Curve, Key, Timeline
from tests.core.data._corpus import PRODUCTION


def _db(gain: float) -> float:
    return 20.0 * math.log10(gain)


def _clip(tl: Timeline, clip_id: str):
    found = [c for _, c in tl.iter_clips() if c.clip_id == clip_id]
    assert len(found) == 1, f"{clip_id}: {len(found)} matches"
    return found[0]


def _production(name: str) -> Timeline:
    path = PRODUCTION / "xmeml" / name
    if not path.is_file():
        pytest.skip(f"production corpus not found at {PRODUCTION}")
    (tl,) = read_file(path)
    return tl


# ---- issue 7.1: Premiere mixed rates ----------------------------------------------------------

MIXED = (
    '<xmeml version="4"><sequence id="s" MZ.EditLine="0"><name>mixed</name><rate><timebase>25</timebase></rate>'
    "<media><video><track>"
    '<clipitem id="c"><name>c</name><rate><timebase>50</timebase><ntsc>FALSE</ntsc></rate>'
    "<start>100</start><end>{end}</end><in>200</in><out>{out}</out>{ticks}"
    "<filter><effect><effectid>basic</effectid><parameter><parameterid>scale</parameterid>"
    "<keyframe><when>200</when><value>50</value></keyframe><keyframe><when>225</when><value>80</value></keyframe>"
    "</parameter></effect></filter></clipitem></track></video></media></sequence></xmeml>"
)


def _mixed(end: str, out: str, ticks: str = ""):
    (tl,) = read_bytes(MIXED.format(end=end, out=out, ticks=ticks).encode(), "mixed.xml")
    return _clip(tl, "c")


def test_mixed_rate_with_equal_lengths_counts_in_sequence_frames():
    # end - start = 50 = out - in: in/out/when are sequence frames (25 fps), not the clip's 50.
    clip = _mixed("150", "250")
    assert (clip.start, clip.end) == (4, 6)
    assert clip.source_in == Fraction(200, 25) and clip.source_out == Fraction(250, 25)
    assert [k.time for k in clip.curves["scale"].keys] == [4, 4 + Fraction(25, 25)]


def test_mixed_rate_with_unequal_lengths_keeps_the_clip_rate():
    # premiere_example's case: 50 timeline frames (2 s) hold 100 frames at 50 fps.
    clip = _mixed("150", "300")
    assert clip.source_in == Fraction(200, 50)
    assert [k.time for k in clip.curves["scale"].keys] == [4, 4 + Fraction(25, 50)]


def test_mixed_rate_with_an_open_edge_asks_the_ticks():
    # end -1 with no transition: the length comes from in/out. Premiere's ticks say 200..250 are
    # 8 s..10 s, i.e. sequence frames: the clip lasts 50 sequence frames (to 6 s), not 25.
    ticks = f"<pproTicksIn>{8 * 254016000000}</pproTicksIn><pproTicksOut>{10 * 254016000000}</pproTicksOut>"
    clip = _mixed("-1", "250", ticks)
    assert clip.end == 6 and clip.curves["scale"].keys[1].time == 5
    # without ticks the clip's own rate stands
    assert _mixed("-1", "250").end == 5


VEGAS = (
    '<xmeml version="5"><sequence id="s"><name>vegas</name><rate><timebase>30</timebase></rate>'
    "<media><video><track>"
    "<transitionitem><rate><timebase>60</timebase></rate><start>0</start><end>30</end><alignment>start</alignment>"
    "<effect><name>Cross Dissolve</name></effect></transitionitem>"
    '<clipitem id="c"><name>c</name><rate><timebase>60</timebase></rate>'
    "<start>-1</start><end>-1</end><in>600</in><out>{out}</out>"
    "<filter><effect><effectid>basic</effectid><parameter><parameterid>scale</parameterid>"
    "<keyframe><when>600</when><value>100</value></keyframe><keyframe><when>900</when><value>200</value></keyframe>"
    "</parameter></effect></filter></clipitem>"
    "<transitionitem><rate><timebase>60</timebase></rate><start>270</start><end>300</end><alignment>end-black"
    "</alignment><effect><name>Cross Dissolve</name></effect></transitionitem>"
    "</track></video></media></sequence></xmeml>"
)


def test_open_edges_without_ticks_compare_lengths_through_the_transitions():
    # VEGAS (no ticks) counts every clip in sequence frames and labels it with the media's rate 60: the edges
    # resolve to frames 0 (the first transition's start) and 300 (the end-black's end), out - in = 300 too.
    data = VEGAS.format(out=900).encode()
    (tl,) = read_bytes(data, "vegas.xml")
    clip = _clip(tl, "c")
    assert (clip.start, clip.end, clip.source_in) == (0, 10, 20)
    assert [k.time for k in clip.curves["scale"].keys] == [0, 10]
    # the writer counts the keys it writes in the same unit: a curve written back reads back unchanged
    opacity = Curve([Key(Fraction(1), 50.0), Key(Fraction(9), 80.0)])
    out, _ = write_back(data, "vegas.xml", [tl], [{(0, 0): {"opacity": opacity}}])
    (back,) = read_bytes(out, "vegas.xml")
    assert [(k.time, k.value) for k in _clip(back, "c").curves["opacity"].keys] == [(1, 50.0), (9, 80.0)]
    # lengths that differ (600 frames at 60 fps in 300 sequence frames): the clip's rate stands
    clip = _clip(read_bytes(VEGAS.format(out=1200).encode(), "vegas.xml")[0], "c")
    assert clip.source_in == 10 and [k.time for k in clip.curves["scale"].keys] == [0, 5]


def test_a_still_with_timebase_0_takes_the_sequence_rate():
    # VEGAS writes a still's rate as timebase 0 (OpenVegas project_sample_for_project_pictures.xml): no rate
    data = MIXED.format(end="400", out="500", ticks="").replace("<timebase>50</timebase>", "<timebase>0</timebase>")
    clip = _clip(read_bytes(data.encode(), "still.xml")[0], "c")
    assert (clip.start, clip.end, clip.source_in) == (4, 16, 8)


def test_premiere_example_counter_case_stays_in_clip_rate(realworld_dir):
    # clipitem-1: rate 15 in a 30 fps sequence, start/end 536-636 (100 frames), in/out 0-50.
    (tl,) = read_file(realworld_dir / "xmeml" / "otio-fcp-adapter__premiere_example.xml")
    clip = _clip(tl, "clipitem-1")
    assert (clip.start, clip.end, clip.source_in) == (Fraction(536, 30), Fraction(636, 30), 0)
    assert clip.source_out - clip.source_in == Fraction(50, 15)


# ---- issue 7.2: Premiere's Audio Gain ---------------------------------------------------------


def test_gain_adds_to_the_level_keys():
    # Fri_vilje clipitem-787: start 40731, in 4889 (25 fps); Gain(dB) 4.91063;
    # Audio Levels keys when 5005 -> 1.99053, when 5067 -> 1.45335.
    clip = _clip(_production("xmeml__Fri_vilje_master_11.xml"), "clipitem-787")
    assert clip.gain_db == pytest.approx(4.91063)
    keys = clip.curves["level_db"].keys
    assert [k.time for k in keys] == [Fraction(40731 + 5005 - 4889, 25), Fraction(40731 + 5067 - 4889, 25)]
    assert [k.value for k in keys] == pytest.approx([_db(1.99053) + 4.91063, _db(1.45335) + 4.91063])
    assert "level_db" not in clip.static  # two keys: animated
    assert clip.effects == ["Gain", "Audio Levels"]
    path = PRODUCTION / "xmeml" / "xmeml__Fri_vilje_master_11.xml"
    tree = etree.ElementTree(safe_parse(path.read_bytes(), str(path)))
    (gain_param,) = tree.xpath(clip.param_refs["gain_db"].path)
    assert gain_param.findtext("parameterid") == "Gain(dB)" and gain_param.findtext("value") == "4.91063"


def test_gain_leaves_silence_silent():
    # clipitem-879: Gain -3 dB, keys when 1858 -> 0 (silence), 1860 -> 1.08566.
    clip = _clip(_production("xmeml__Fri_vilje_master_11.xml"), "clipitem-879")
    values = [k.value for k in clip.curves["level_db"].keys]
    assert values == pytest.approx([-60.0, _db(1.08566) - 3.0])


def test_gain_alone_is_the_static_level():
    # gain-12dB: Gain(dB) -12 and no Audio Levels on both channels; clipmixerjustert: the same
    # edit with the clip mixer at -12 dB instead (Audio Levels 0.250594, no Gain).
    gain = _production("xmeml__gain-12dB.xml")
    mixer = _production("xmeml__clipmixerjustert_-12dB.xml")
    for _, clip in gain.iter_clips():
        assert clip.gain_db == -12.0 and clip.static == {"level_db": -12.0}
        assert [(k.time, k.value) for k in clip.curves["level_db"].keys] == [(clip.start, -12.0)]
    for _, clip in mixer.iter_clips():
        assert clip.gain_db is None
        assert clip.static["level_db"] == pytest.approx(-12.02, abs=0.01)


def test_gain_named_without_effectid():
    # msub20001812aa: <effect><name>Gain</name> with no <effectid>, Gain(dB) 3.
    tl = _production("xmeml__msub20001812aa.xml")
    gains = {c.gain_db for _, c in tl.iter_clips() if "Gain" in c.effects}
    assert gains == {3.0}


def test_one_level_key_plus_gain_is_static():
    # 3klippJustert clipitem-16: one Audio Levels key (0.562766) and no Gain.
    (tl,) = read_file(PRODUCTION.parent / "realworld" / "xmeml" / "xmeml__3klippJustert.xml")
    clip = _clip(tl, "clipitem-16")
    assert clip.gain_db is None
    assert clip.static["level_db"] == pytest.approx(_db(0.562766))
    assert len(clip.curves["level_db"]) == 1  # kept as a curve as before, and as a static value


# ---- issue 6.1: source and role -----------------------------------------------------------------


def test_premiere_source_links_channels_and_tracks(realworld_dir):
    # 3klippJustert: clipitem-15 (V1) and -16/-17 (A1, A2) play file-7 (dk-været-ma-020117r.mxf,
    # 1920x1080 square, 25 fps, two <audio> of channelcount 2); links 15/16/17; sourcetrack 1 and 2.
    (tl,) = read_file(realworld_dir / "xmeml" / "xmeml__3klippJustert.xml")
    assert (tl.app, tl.dialect_version, tl.size_known, tl.pixel_aspect) == ("Premiere Pro", "4", True, 1.0)
    video, left, right = (_clip(tl, f"clipitem-{i}") for i in (15, 16, 17))
    for clip in (video, left, right):
        assert (clip.source_width, clip.source_height, clip.source_pixel_aspect) == (1920, 1080, 1.0)
        assert (clip.source_rate, clip.audio_channels, clip.file_ext) == (25, 4, ".mxf")
        assert clip.source_id == "file-7" and clip.link_group == "clipitem-15"
        assert (clip.speed, clip.time_remap) == (1.0, False)
    assert (video.source_channel, left.source_channel, right.source_channel) == (None, 1, 2)
    names = [t.name for t in tl.audio_tracks]
    assert names[:2] == ["Audio 1", "Audio 1"] and "Voice" in names  # MZ.TrackName, per exploded track
    assert tl.video_tracks[0].name is None


def _streams_file(pairs: list[tuple[int, int]]) -> bytes:
    """Premiere xmeml: one file of two stereo streams, exploded onto A1 (L) and A2 (R), cut once per pair of
    ``sourcetrack/trackindex`` values (L, R)."""
    file_el = (
        '<file id="file-1"><name>cam.mxf</name><rate><timebase>25</timebase></rate><media>'
        + "<audio><channelcount>2</channelcount></audio>" * 2
        + "</media></file>"
    )

    def item(k: int, half: int, index: int) -> str:
        return (
            f'<clipitem id="a{half}-{k}" premiereChannelType="stereo"><name>cam</name><rate><timebase>25</timebase>'
            f"</rate><start>{k * 10}</start><end>{k * 10 + 10}</end><in>0</in><out>10</out>"
            + (file_el if k == 0 and half == 0 else '<file id="file-1"/>')
            + f"<sourcetrack><mediatype>audio</mediatype><trackindex>{index}</trackindex></sourcetrack></clipitem>"
        )

    tracks = "".join(
        f'<track currentExplodedTrackIndex="{half}" totalExplodedTrackCount="2" premiereTrackType="Stereo">'
        + "".join(item(k, half, pair[half]) for k, pair in enumerate(pairs))
        + "</track>"
        for half in (0, 1)
    )
    return (
        '<xmeml version="4"><sequence id="s" MZ.EditLine="0"><name>streams</name><rate><timebase>25</timebase>'
        f"</rate><media><audio>{tracks}</audio></media></sequence></xmeml>"
    ).encode()


@pytest.mark.parametrize(
    "pairs, channels",
    [
        # newer Premiere (SmartTrim's six-stream export: 1, 1, 2, 2, ...): the stream's number on both halves
        ([(1, 1), (2, 2)], [(1, 2), (3, 4)]),
        # older Premiere (melkekartong_master_v7: stream 2 as 3 / 4): flat channel numbers, kept
        ([(1, 2), (3, 4)], [(1, 2), (3, 4)]),
        # only stream 2 cut, newer numbering: its L alone would fit both, its R (2 on exploded index 1) decides
        ([(2, 2)], [(3, 4)]),
    ],
)
def test_trackindex_on_media_with_several_streams_is_the_flat_channel(pairs, channels):
    (tl,) = read_bytes(_streams_file(pairs), "streams.xml")
    left, right = tl.audio_tracks
    assert [(a.source_channel, b.source_channel) for a, b in zip(left.clips, right.clips)] == channels
    assert {c.audio_channels for t in tl.audio_tracks for c in t.clips} == {4}


def test_anamorphic_pal_source(realworld_dir):
    # Multicam_Moser_1 clipitem-220: file-51 720x576, <anamorphic>TRUE, PAL-601; scale <value>104 with FCP 7's
    # Distort aspect -45.8689 conforming its pixel aspect (ITU 1.458689): 749 x 411 pixels shown in the 1920x1080
    # sequence, read as the height's factor 104 / 1.458689 (the scale Premiere gives that picture)
    (tl,) = read_file(realworld_dir / "xmeml" / "xmeml__Multicam_Moser_1.xml")
    clip = _clip(tl, "clipitem-220")
    assert (clip.source_width, clip.source_height) == (720, 576)
    assert clip.source_pixel_aspect == pytest.approx(64 / 45)
    assert clip.static["scale"] == pytest.approx(104.0 / 1.458689) and clip.static["rotation"] == 0.0
    assert "rotation" not in clip.curves  # default value: static, but no curve


def test_speed_and_time_remap(realworld_dir):
    # BroShow clipitem-629: timeremap speed 125, reverse TRUE; clipitem-495: variablespeed 1, speed 678.652.
    (tl,) = read_file(realworld_dir / "xmeml" / "xmeml__BroShow_ep_Vold_uten_FLICKR.xml")
    reverse, remapped = _clip(tl, "clipitem-629"), _clip(tl, "clipitem-495")
    assert (reverse.speed, reverse.time_remap) == (-1.25, False)
    assert remapped.speed == pytest.approx(6.78652) and remapped.time_remap is True
    assert "Time Remap" not in reverse.effects and reverse.effects == ["Gain"]


@pytest.mark.parametrize(
    "name, app, version",
    [
        ("xmeml__Conecta_Test_XML.xml", "Final Cut Pro", "4"),  # <updatebehavior>
        ("lossless-cut__Final_Cut_Pro_XMEML_2.xml", "DaVinci Resolve", "5"),  # "(Resolve)" in the name
        ("xmeml__NGxx13_ELSKER_Opfehliany.xml", None, "1"),  # FCP7 old format: the file does not say
    ],
)
def test_exporting_application(realworld_dir, name, app, version):
    (tl,) = read_file(realworld_dir / "xmeml" / name)
    assert (tl.app, tl.dialect_version) == (app, version)


def test_unknown_stays_none():
    # No frame size, no file: nothing is made up.
    doc = (
        '<xmeml version="5"><sequence><name>n</name><rate><timebase>25</timebase></rate><media><video><track>'
        '<clipitem id="c"><start>0</start><end>25</end><in>0</in><out>25</out></clipitem>'
        "</track></video></media></sequence></xmeml>"
    )
    (tl,) = read_bytes(doc.encode(), "bare.xml")
    assert (tl.width, tl.height, tl.size_known, tl.pixel_aspect, tl.app) == (1920, 1080, False, None, None)
    clip = _clip(tl, "c")
    unknown = (clip.source_width, clip.source_height, clip.source_rate, clip.audio_channels, clip.file_ext)
    assert unknown == (None,) * 5 and clip.gain_db is None and clip.static == {} and clip.link_group is None


@pytest.mark.parametrize(
    "head, app, version",
    [
        (b'<?xml version="1.0" encoding="UTF-8"?>\n<!-- Lightworks version 14.5.0.0 -->\n', "Lightworks", "14.5.0.0"),
        (b"\xef\xbb\xbf<!--Lightworks version 2023.2-->", "Lightworks", "2023.2"),  # BOM, no declaration
        (b"<!-- FCP version 1.0.9.7 -->\n", None, None),  # Norden-Aktuelt's writer does not say which it is
        (b"", None, None),
    ],
)
def test_application_signed_in_the_prolog(head, app, version):
    # Lightworks signs its xmeml only in a comment before the root (s-leroux/fcpXmlToArdour's sample.fcp5.xml);
    # the secure parser drops comments, so the reader is handed the bytes before the root.
    doc = (
        b'<xmeml version="5"><sequence><name>Sequence #1</name><rate><timebase>25</timebase></rate><media><video>'
        b"<track><clipitem><start>0</start><end>25</end><in>0</in><out>25</out></clipitem></track>"
        b"</video></media></sequence></xmeml>"
    )
    (tl,) = read_bytes(head + doc, "signed.xml")
    assert (tl.app, tl.app_version) == (app, version)


def test_a_fade_from_or_to_black_is_not_the_abutting_neighbours_transition():
    # VEGAS' and FCP 7's -black transitions (OpenVegas project_transitions_3d-blinds.xml; the corpora's tomat_master_v4)
    # fade one clip; the neighbour on the black side abuts it with an explicit edge and takes no part.
    def item(name: str, start: int, end: int) -> str:
        edges = f"<start>{start}</start><end>{end}</end><in>0</in><out>100</out>"
        return f'<clipitem id="{name}"><name>{name}</name>{edges}</clipitem>'

    def fade(start: int, end: int, alignment: str) -> str:
        edges = f"<start>{start}</start><end>{end}</end>"
        return f"<transitionitem>{edges}<alignment>{alignment}</alignment></transitionitem>"

    track = (
        item("A", 0, 100) + fade(100, 130, "start-black") + item("B", -1, 200)
        + item("C", 300, -1) + fade(370, 400, "end-black") + item("D", 400, 500)
    )  # fmt: skip
    doc = f'<xmeml version="5"><sequence><name>s</name><rate><timebase>30</timebase></rate><media><video><track>{track}'
    (tl,) = read_bytes((doc + "</track></video></media></sequence></xmeml>").encode(), "black.xml")
    lengths = {c.name: (c.transition_in, c.transition_out) for c in tl.tracks[0].clips}
    assert lengths == {"A": (0, 0), "B": (1, 0), "C": (0, 1), "D": (0, 0)}
