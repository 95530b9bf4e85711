"""In-place writers (core.data.formats._edit and the xmeml/fcpxml/MLT editors) on small documents
written for the test and on real files, with hand-made predicted curves: where each key lands in
the file, how interpolation (hold included) is written, and what is kept (given curves, ids,
comments, the prolog, BOM and line ends)."""

from __future__ import annotations

from fractions import Fraction as F

import pytest
from lxml import etree

from core.data.formats import read_bytes, read_file
from core.data.formats._edit import Locator, parse_for_edit, serialize
from core.data.formats._xml import safe_parse
from core.data.formats.write_back import write_back
from core.data.timeline import Curve, Key, TimelineError
from tests.conftest import corpus_params
from tests.core.data._corpus import TIMELINE_FILES

BOM = b"\xef\xbb\xbf"


def _keys(curve: Curve) -> list[tuple]:
    return [(k.time, round(k.value, 9), k.interp) for k in curve.keys]


def _clips(tls):
    return [(t.kind, t.index, c.name, c.start, c.end, c.source_in) for tl in tls for t, c in tl.iter_clips()]


def _write(data: bytes, predicted_by_clip: dict, name: str = "t.xml"):
    """Write ``predicted_by_clip`` ({(track, clip): {param: Curve}} for the first timeline)."""
    tls = read_bytes(data, name)
    preds = [predicted_by_clip] + [{} for _ in tls[1:]]
    out, changes = write_back(data, name, tls, preds)
    return tls, out, changes, read_bytes(out, name)


# ---- xmeml ------------------------------------------------------------------------------------

XMEML = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE xmeml>
<xmeml version="4">
\t<!-- written for the test -->
\t<sequence id="sequence-1">
\t\t<name>S</name>
\t\t<duration>250</duration>
\t\t<rate><timebase>25</timebase><ntsc>FALSE</ntsc></rate>
\t\t<media>
\t\t\t<video>
\t\t\t\t<track>
\t\t\t\t\t<clipitem id="clipitem-1">
\t\t\t\t\t\t<name>a.mov</name>
\t\t\t\t\t\t<rate><timebase>25</timebase><ntsc>FALSE</ntsc></rate>
\t\t\t\t\t\t<start>0</start>
\t\t\t\t\t\t<end>50</end>
\t\t\t\t\t\t<in>10</in>
\t\t\t\t\t\t<out>60</out>
\t\t\t\t\t\t<file id="file-1"><name>a.mov</name><pathurl>file://localhost/a.mov</pathurl></file>
\t\t\t\t\t\t<filter>
\t\t\t\t\t\t\t<effect>
\t\t\t\t\t\t\t\t<name>Basic Motion</name>
\t\t\t\t\t\t\t\t<effectid>basic</effectid>
\t\t\t\t\t\t\t\t<parameter><parameterid>scale</parameterid><name>Scale</name><value>100</value></parameter>
\t\t\t\t\t\t\t\t<parameter><parameterid>center</parameterid><name>Center</name>
\t\t\t\t\t\t\t\t\t<value><horiz>0.1</horiz><vert>0</vert></value></parameter>
\t\t\t\t\t\t\t</effect>
\t\t\t\t\t\t</filter>
\t\t\t\t\t\t<link><linkclipref>clipitem-2</linkclipref></link>
\t\t\t\t\t</clipitem>
\t\t\t\t\t<transitionitem>
\t\t\t\t\t\t<start>40</start>
\t\t\t\t\t\t<end>60</end>
\t\t\t\t\t\t<alignment>center</alignment>
\t\t\t\t\t\t<effect><name>Cross Dissolve</name></effect>
\t\t\t\t\t</transitionitem>
\t\t\t\t\t<clipitem id="clipitem-3">
\t\t\t\t\t\t<name>b.mov</name>
\t\t\t\t\t\t<start>-1</start>
\t\t\t\t\t\t<end>100</end>
\t\t\t\t\t\t<in>0</in>
\t\t\t\t\t\t<out>60</out>
\t\t\t\t\t\t<file id="file-2"><name>b.mov</name></file>
\t\t\t\t\t</clipitem>
\t\t\t\t</track>
\t\t\t</video>
\t\t\t<audio>
\t\t\t\t<track>
\t\t\t\t\t<clipitem id="clipitem-2">
\t\t\t\t\t\t<name>a.mov</name>
\t\t\t\t\t\t<start>0</start>
\t\t\t\t\t\t<end>50</end>
\t\t\t\t\t\t<in>10</in>
\t\t\t\t\t\t<out>60</out>
\t\t\t\t\t\t<file id="file-1"/>
\t\t\t\t\t\t<filter>
\t\t\t\t\t\t\t<effect>
\t\t\t\t\t\t\t\t<name>Audio Levels</name>
\t\t\t\t\t\t\t\t<effectid>audiolevels</effectid>
\t\t\t\t\t\t\t\t<parameter><parameterid>level</parameterid><name>Level</name><value>1</value>
\t\t\t\t\t\t\t\t\t<keyframe><when>10</when><value>1</value></keyframe>
\t\t\t\t\t\t\t\t\t<keyframe><when>30</when><value>0.5</value></keyframe>
\t\t\t\t\t\t\t\t</parameter>
\t\t\t\t\t\t\t</effect>
\t\t\t\t\t\t</filter>
\t\t\t\t\t\t<link><linkclipref>clipitem-1</linkclipref></link>
\t\t\t\t\t</clipitem>
\t\t\t\t</track>
\t\t\t</audio>
\t\t</media>
\t</sequence>
</xmeml>
"""


def _xmeml(crlf: bool = False, bom: bool = True) -> bytes:
    text = XMEML.replace("\n", "\r\n") if crlf else XMEML
    return (BOM if bom else b"") + text.encode()


def test_xmeml_keys_land_on_source_frames_with_hold_emulated():
    scale = Curve([Key(F(0), 120.0, "linear"), Key(F(2, 5), 150.0, "hold"), Key(F(6, 5), 130.0, "smooth")])
    tls, out, changes, back = _write(_xmeml(), {(0, 0): {"scale": scale}})
    root = safe_parse(out, "out")
    (param,) = [p for p in root.iter("parameter") if p.findtext("parameterid") == "scale"]
    # when = in + (t - start) * rate: 10, 20; the hold adds a key one frame before the next (39); then 40
    assert [(kf.findtext("when"), kf.findtext("value")) for kf in param.iter("keyframe")] == [
        ("10", "120"),
        ("20", "150"),
        ("39", "150"),
        ("40", "130"),
    ]
    assert param.find("interpolation") is None  # most segments are linear: no FCPCurve
    got = back[0].tracks[0].clips[0].curves["scale"]
    assert [(k.time, k.value) for k in got.keys] == [(F(0), 120), (F(2, 5), 150), (F(39 - 10, 25), 150), (F(6, 5), 130)]
    assert got.value_at(F(1, 1)) == 150.0  # held until the last frame before the next key
    # each key keeps its own interpolation: the smooth one gets a Bezier handle, the others none
    assert [k.interp for k in got.keys] == ["linear", "linear", "linear", "smooth"]
    assert [kf.find("outbez") is not None for kf in param.iter("keyframe")] == [False, False, False, True]
    assert [(c.param, c.before, c.after, c.note) for c in changes] == [("scale", 0, 4, "")]


def test_xmeml_keeps_given_curves_placements_prolog_comments_and_line_ends():
    data = _xmeml(crlf=True)
    pan = Curve([Key(F(0), -0.5), Key(F(1), 0.5)])
    opacity = Curve([Key(F(2), 50.0, "smooth"), Key(F(3), 80.0, "smooth")])
    tls, out, changes, back = _write(data, {(1, 0): {"pan": pan}, (0, 1): {"opacity": opacity}})
    assert out.startswith(BOM + b'<?xml version="1.0" encoding="UTF-8"?>\r\n<!DOCTYPE xmeml>\r\n<xmeml')
    assert b"\n" not in out.replace(b"\r\n", b"")  # every line end stays CRLF
    assert b"<!-- written for the test -->" in out
    assert _clips(back) == _clips(tls)
    assert _keys(back[0].tracks[1].clips[0].curves["level_db"]) == _keys(tls[0].tracks[1].clips[0].curves["level_db"])
    assert _keys(back[0].tracks[0].clips[0].curves["center_x"]) == _keys(tls[0].tracks[0].clips[0].curves["center_x"])
    assert [k.value for k in back[0].tracks[1].clips[0].curves["pan"].keys] == [-0.5, 0.5]
    # the clip after the transition has <in>0 and a -1 head: its keys are in its source frames
    root = safe_parse(out, "out")
    b = root.find(".//clipitem[@id='clipitem-3']")
    (param,) = [p for p in b.iter("parameter") if p.findtext("parameterid") == "opacity"]
    assert param.findtext("interpolation/name") == "FCPCurve"
    # b's head is at the cut (frame 50, 2 s), source frame <in> 0 at the transition's start (40)
    assert [kf.findtext("when") for kf in param.iter("keyframe")] == ["10", "35"]
    assert back[0].tracks[0].clips[1].curves["opacity"].keys[0].interp == "smooth"
    # the new filter goes with the clip's filters, before <link>; ids and links untouched
    a = root.find(".//clipitem[@id='clipitem-1']")
    assert [c.tag for c in a if isinstance(c.tag, str)][-2:] == ["filter", "link"]
    assert [el.get("id") for el in root.iter("clipitem")] == ["clipitem-1", "clipitem-3", "clipitem-2"]


def test_xmeml_centre_component_goes_into_the_given_partners_static_point():
    center_y = Curve([Key(F(0), 0.2), Key(F(1), 0.3)])
    tls, out, changes, back = _write(_xmeml(), {(0, 0): {"center_y": center_y}})
    clip = back[0].tracks[0].clips[0]
    assert _keys(clip.curves["center_x"]) == _keys(tls[0].tracks[0].clips[0].curves["center_x"])
    assert [(k.time, k.value) for k in clip.curves["center_y"].keys] == [(F(0), 0.25)]  # the mean, one value
    assert changes[0].after == 1 and "given center_x" in changes[0].note


def test_xmeml_nothing_predicted_writes_the_same_document():
    data = _xmeml()
    tls = read_bytes(data, "t.xml")
    out, changes = write_back(data, "t.xml", tls, [{}])
    assert changes == []
    canon = etree.tostring(etree.ElementTree(safe_parse(data, "a", keep_comments=True)), method="c14n")
    assert etree.tostring(etree.ElementTree(safe_parse(out, "b", keep_comments=True)), method="c14n") == canon


def test_xmeml_premiere_mixed_rate_keys_count_in_sequence_frames():
    # clip rate 50 in a 25 fps sequence with end - start == out - in: Premiere counts in sequence frames
    doc = (
        b"<xmeml version='4'><sequence><rate><timebase>25</timebase></rate><media><video><track>"
        b"<clipitem id='c'><rate><timebase>50</timebase></rate><start>0</start><end>50</end><in>100</in>"
        b"<out>150</out></clipitem></track></video></media></sequence></xmeml>"
    )
    scale = Curve([Key(F(0), 50.0), Key(F(1), 60.0)])
    tls, out, changes, back = _write(doc, {(0, 0): {"scale": scale}})
    whens = [kf.findtext("when") for kf in safe_parse(out, "o").iter("keyframe")]
    assert whens == ["100", "125"]
    assert [(k.time, k.value) for k in back[0].tracks[0].clips[0].curves["scale"].keys] == [(0, 50), (1, 60)]


def test_xmeml_level_is_written_without_the_clips_premiere_gain(realworld_dir):
    # Superstition.wav carries Premiere's Audio Gain (+1 dB) and no Audio Levels: its level is the gain.
    # Taken as unknown, a predicted level of -6 dB must read back as -6 dB: volume -7 dB plus the gain.
    path = realworld_dir / "xmeml" / "xmeml__3klippJustert.xml"
    data = path.read_bytes()
    (tl,) = read_bytes(data, str(path))
    k, j = next((k, j) for k, t in enumerate(tl.tracks) for j, c in enumerate(t.clips) if c.gain_db)
    clip = tl.tracks[k].clips[j]
    assert clip.gain_db == 1.0 and "level_db" not in clip.param_refs
    del clip.curves["level_db"]
    level = Curve([Key(clip.start, -6.0), Key(clip.start + 2, -60.0)])
    out, changes = write_back(data, str(path), [tl], [{(k, j): {"level_db": level}}])
    values = [kf.findtext("value") for kf in safe_parse(out, "o").xpath(clip.xml_path)[0].iter("keyframe")]
    assert float(values[0]) == pytest.approx(10 ** (-7 / 20)) and values[1] == "0"  # silence stays silent
    got = read_bytes(out, str(path))[0].tracks[k].clips[j].curves["level_db"]
    assert [k.value for k in got.keys] == pytest.approx([-6.0, -60.0])


# ---- FCPXML ---------------------------------------------------------------------------------

FCPXML = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE fcpxml>
<fcpxml version="1.9">
    <resources>
        <format id="r1" frameDuration="1/25s" width="1920" height="1080"/>
        <asset id="r2" name="a" hasVideo="1" hasAudio="1" format="r1" duration="100s" src="file:///a.mov"/>
    </resources>
    <library>
        <event name="e">
            <project name="p">
                <sequence format="r1" duration="10s" tcStart="3600s">
                    <spine>
                        <asset-clip ref="r2" offset="3600s" start="20s" duration="10s" name="a">
                            <adjust-transform scale="0.5 0.5"/>
                            <adjust-volume>
                                <param name="amount">
                                    <keyframeAnimation>
                                        <keyframe time="20s" value="0dB"/>
                                        <keyframe time="22s" value="-6dB" curve="linear"/>
                                    </keyframeAnimation>
                                </param>
                            </adjust-volume>
                            <marker start="21s" duration="1/25s" value="m"/>
                        </asset-clip>
                    </spine>
                </sequence>
            </project>
        </event>
    </library>
</fcpxml>
"""


def test_fcpxml_keys_in_local_time_dtd_order_and_curves():
    data = FCPXML.encode()
    opacity = Curve([Key(F(0), 100.0, "smooth"), Key(F(1), 50.0, "hold"), Key(F(3), 20.0, "linear")])
    center = Curve([Key(F(0), 0.1), Key(F(2), -0.1)])
    pan = Curve([Key(F(1, 2), 0.5)])
    tls, out, changes, back = _write(
        data, {(0, 0): {"opacity": opacity, "center_x": center}, (1, 0): {"pan": pan}}, "t.fcpxml"
    )
    clip_el = safe_parse(out, "o").find(".//asset-clip")
    assert [c.tag for c in clip_el] == [
        "adjust-transform",
        "adjust-blend",
        "adjust-volume",
        "adjust-panner",
        "marker",
    ]
    blend = clip_el.find("adjust-blend/param[@name='amount']/keyframeAnimation")
    # local time = timeline + start - offset (20 s - 0); the hold adds a linear key a frame before 3 s
    assert [(kf.get("time"), kf.get("value"), kf.get("curve")) for kf in blend] == [
        ("20s", "1", "smooth"),
        ("21s", "0.5", "linear"),
        ("574/25s", "0.5", "linear"),
        ("23s", "0.2", "linear"),
    ]
    position = clip_el.find("adjust-transform/param[@name='position']/keyframeAnimation")
    assert [kf.get("value") for kf in position] == [f"{0.1 * 100 * 1920 / 1080!r} 0", f"{-0.1 * 100 * 1920 / 1080!r} 0"]
    assert clip_el.find("adjust-transform").get("scale") == "0.5 0.5"
    video, audio = back[0].tracks[0].clips[0], back[0].tracks[1].clips[0]
    assert _keys(video.curves["scale"]) == _keys(tls[0].tracks[0].clips[0].curves["scale"])
    assert _keys(audio.curves["level_db"]) == _keys(tls[0].tracks[1].clips[0].curves["level_db"])
    assert [round(k.value, 9) for k in video.curves["opacity"].keys] == [100, 50, 50, 20]
    assert [k.value for k in video.curves["center_x"].keys] == pytest.approx([0.1, -0.1])
    assert [k.value for k in audio.curves["pan"].keys] == pytest.approx([0.5])
    assert _clips(back) == _clips(tls)


def test_fcpxml_1_2_documents_get_key_lists(realworld_dir):
    path = realworld_dir / "fcpxml" / "xmeml__BRENNER_DAGDROMMER_mktf61000312u.fcpxml"
    data = path.read_bytes()
    tls = read_bytes(data, str(path))
    k, j = next(
        (k, j)
        for k, t in enumerate(tls[0].tracks)
        for j, c in enumerate(t.clips)
        if t.kind == "audio" and "level_db" not in c.curves and not c.xml_context
    )
    clip = tls[0].tracks[k].clips[j]
    level = Curve([Key(clip.start, -3.0), Key(clip.start + 1, -12.0)])
    out, changes = write_back(data, str(path), tls, [{(k, j): {"level_db": level}}])
    assert changes[0].after == 2
    assert b"keyframeAnimation" not in out and out.count(b"keyTimes") == data.count(b"keyTimes") + 1
    got = read_bytes(out, str(path))[0].tracks[k].clips[j].curves["level_db"]
    assert [(k.time, k.value) for k in got.keys] == [(clip.start, -3.0), (clip.start + 1, -12.0)]


# ---- MLT ------------------------------------------------------------------------------------


def test_mlt_markers_for_every_interpolation_and_given_curves_kept(realworld_dir):
    path = realworld_dir / "mlt" / "kdenlive-test-suite__qtblend-zoom.kdenlive"
    data = path.read_bytes()
    tls, out, changes, back = _write(
        data,
        {
            (0, 0): {
                "rotation": Curve([Key(F(0), 5.0, "hold"), Key(F(1), 10.0, "smooth"), Key(F(2), 0.0, "linear")]),
                "opacity": Curve([Key(F(0), 100.0), Key(F(2), 40.0)]),
            },
            (1, 0): {"center_y": Curve([Key(F(1), 0.25, "smooth")])},  # its scale is given
        },
        str(path),
    )
    rate = tls[0].rate
    frames = [round(t * rate) for t in (0, 1, 2)]
    new = [f for f in safe_parse(out, "o").iter("filter") if (f.get("id") or "").startswith("xmlai_")]
    assert len(new) == 2
    props = {p.get("name"): p.text for p in new[0].iter("property")}
    assert props["mlt_service"] == "qtblend" and props["rotate_center"] == "1"  # about the centre, not the corner
    assert props["rotation"] == f"{frames[0]}|=5;{frames[1]}~=10;{frames[2]}=0"
    first = back[0].tracks[0].clips[0]
    assert [k.interp for k in first.curves["rotation"].keys] == ["hold", "smooth", "linear"]
    assert [round(k.value, 9) for k in first.curves["opacity"].keys] == [100, 40]
    assert "scale" not in first.curves  # written at its default by the rect: still no curve
    second = back[0].tracks[1].clips[0]
    assert _keys(second.curves["scale"]) == _keys(tls[0].tracks[1].clips[0].curves["scale"])
    assert second.curves["center_y"].keys[0].value == pytest.approx(0.25)
    assert _clips(back) == _clips(tls)


def test_mlt_keys_after_a_shotcut_transition_keep_their_times(realworld_dir):
    path = realworld_dir / "mlt" / "Shotcut-Autoexporter__media.mlt"
    data = path.read_bytes()
    tls = read_bytes(data, str(path))
    k, j = next((k, j) for k, t in enumerate(tls[0].tracks) for j, c in enumerate(t.clips) if c.transition_in)
    clip = tls[0].tracks[k].clips[j]
    param = "opacity" if tls[0].tracks[k].kind == "video" else "level_db"
    curve = Curve([Key(clip.start + 1, 50.0 if param == "opacity" else -10.0), Key(clip.end - 1, 60.0)])
    out, _ = write_back(data, str(path), tls, [{(k, j): {param: curve}}])
    got = read_bytes(out, str(path))[0].tracks[k].clips[j].curves[param]
    frame = 1 / tls[0].rate
    assert [abs(a.time - b.time) <= frame / 2 for a, b in zip(got.keys, curve.keys)] == [True, True]
    assert [a.value for a in got.keys] == pytest.approx([k.value for k in curve.keys])


# ---- shared -----------------------------------------------------------------------------------


def test_serialize_keeps_a_utf16_document_readable(tmp_path):
    text = XMEML.replace('encoding="UTF-8"', 'encoding="UTF-16"')
    data = text.encode("utf-16")
    (tl,) = read_bytes(data, "u16.xml")
    out, changes = write_back(data, "u16.xml", [tl], [{(0, 0): {"scale": Curve([Key(F(0), 110.0)])}}])
    assert out.startswith(b"\xff\xfe") or out.startswith(b"\xfe\xff")
    assert read_bytes(out, "u16.xml")[0].tracks[0].clips[0].curves["scale"].keys[0].value == 110.0


def test_a_clip_the_locator_cannot_find_is_reported_not_written(realworld_dir):
    path = realworld_dir / "xmeml" / "xmeml__Fade_inn_og_ut.xml"
    data = path.read_bytes()
    (tl,) = read_file(path)
    k = next(k for k, t in enumerate(tl.tracks) if t.clips)
    tl.tracks[k].clips[0].xml_path = "/xmeml/nothing"
    out, changes = write_back(data, str(path), [tl], [{(k, 0): {"pan": Curve([Key(F(0), 0.3)])}}])
    assert [(c.after, c.note) for c in changes] == [(0, "clip element not found")]
    assert serialize(safe_parse(data, "x", keep_comments=True).getroottree(), data) == out


# ---- locating elements --------------------------------------------------------------------------


@pytest.mark.parametrize("path", corpus_params(TIMELINE_FILES))
def test_the_locator_finds_what_xpath_finds_for_every_locator_of_a_real_file(path):
    """``Locator`` indexes each parent's children by tag instead of running XPath per path: the same
    element (or none) for every clip, container and parameter locator the reader made."""
    data = path.read_bytes()
    try:
        timelines = read_bytes(data, str(path))
    except TimelineError:
        pytest.skip("the reader refuses this file")
    tree = parse_for_edit(data, str(path))
    paths = set()
    for tl in timelines:
        for _, clip in tl.iter_clips():
            paths.update((clip.xml_path, *clip.xml_context))
            for ref in clip.param_refs.values():
                paths.update((ref.path, ref.filter_path))
    paths.discard(None)
    locate = Locator(tree)
    for p in sorted(paths):
        found = tree.xpath(p)
        expected = found[0] if len(found) == 1 else None
        assert locate.find(p) is expected, p


def test_the_locator_on_paths_of_every_shape():
    doc = b'<a><b/><b><c/><c x="1"/></b><d><e/></d><n:f xmlns:n="urn:n"/><!-- c --></a>'
    tree = etree.ElementTree(etree.fromstring(doc))
    locate = Locator(tree)
    b2 = tree.getroot()[1]
    assert locate.find("/a/b[2]") is b2
    assert locate.find("/a/b[2]/c[2]") is b2[1]
    assert locate.find("/a/d/e") is tree.getroot()[2][0]
    assert locate.find("/a[1]/d") is tree.getroot()[2]
    assert locate.find("/a/b") is None  # two: not exactly one
    assert locate.find("/a/b[3]") is None
    assert locate.find("/a/b/c[2]") is b2[1]  # only the second <b> has a second <c>: XPath's answer
    assert locate.find("/x/b[1]") is None
    assert locate.find("/a/b[2]/c[@x='1']") is b2[1]  # a predicate: XPath
    assert locate.find("/*/*[4]") is tree.getroot()[3]  # getpath's form for a namespaced element
    assert locate.find("/a/b[2]/c[2]/@x") is None  # not an element
    assert locate.find("") is None and locate.find(None) is None


COMPOUND = """<?xml version="1.0" encoding="UTF-8"?>
<fcpxml version="1.13"><resources>
  <format id="r1" frameDuration="1/25s" width="1920" height="1080"/>
  <asset id="a" name="A" start="0s" duration="60s" hasVideo="1" format="r1"/>
  <media id="m" name="Edit"><sequence format="r1" duration="8s"><spine>
    <asset-clip ref="a" offset="0s" name="one" start="10s" duration="4s"/>
    <asset-clip ref="a" offset="4s" name="two" start="20s" duration="4s"/>
  </spine></sequence></media></resources>
  <library><event name="e"><project name="p"><sequence format="r1" duration="8s"><spine>
    <ref-clip ref="m" offset="0s" name="Edit" duration="8s"><adjust-transform scale="0.5 0.5"/></ref-clip>{more}
  </spine></sequence></project></event></library></fcpxml>"""


@pytest.mark.parametrize("used_twice", [False, True])
def test_an_edit_nested_whole_in_a_compound_gets_its_curves(used_twice):
    # The whole edit sits in a compound clip that nothing else plays: its clips' own elements in the media play
    # only there, so their curves go there (keys in each element's own time: 'two' plays 4-8 s from 20 s of A).
    # The compound's own half scale applies on top of whatever a content says, so a predicted scale is not
    # written. A compound used twice shares its contents: nothing is written.
    more = '<ref-clip ref="m" offset="8s" name="Again" duration="8s"/>' if used_twice else ""
    data = COMPOUND.format(more=more).encode()
    opacity = Curve([Key(F(5), 100.0), Key(F(7), 20.0)])
    predicted = {(0, 1): {"opacity": opacity, "scale": Curve([Key(F(4), 80.0)])}}
    tls, out, changes, back = _write(data, predicted, "c.fcpxml")
    notes = {c.param: (c.after, c.note) for c in changes}
    if used_twice:
        assert all(after == 0 and note.startswith("inside a compound") for after, note in notes.values())
        return
    on_top = "the compound clip sets scale itself, on top of its contents: not written"
    assert notes == {"opacity": (2, ""), "scale": (0, on_top)}
    two = etree.fromstring(out).find(".//media/sequence/spine/asset-clip[@name='two']")
    keys = two.find("adjust-blend/param[@name='amount']/keyframeAnimation")
    assert [(k.get("time"), k.get("value")) for k in keys] == [("21s", "1"), ("23s", "0.2")]
    assert _keys(back[0].tracks[0].clips[1].curves["opacity"]) == [(5, 100.0, "linear"), (7, 20.0, "linear")]


OFFSET_CONTENT = """<?xml version="1.0" encoding="UTF-8"?>
<fcpxml version="1.11"><resources>
  <format id="r1" frameDuration="100/2400s" width="1920" height="1080"/>
  <asset id="a1" name="shot" start="0s" duration="10s" hasVideo="1" format="r1"/>
  <media id="m1" name="Compound"><sequence format="r1" duration="4s"><spine>
    <asset-clip ref="a1" offset="0s" name="inner" duration="4s"><adjust-transform position="20 0"/></asset-clip>
  </spine></sequence></media></resources>
  <library><event name="e"><project name="p"><sequence format="r1" duration="{total}"><spine>
    <ref-clip ref="m1" offset="0s" name="Compound" duration="4s"/>{more}
  </spine></sequence></project></event></library></fcpxml>"""


@pytest.mark.parametrize("used_twice", [False, True])
def test_a_scale_is_not_written_where_it_would_move_a_compounds_offset_content(used_twice):
    # The compound's one clip sits 20 % of the height right of centre (centre_x 0.1125). A scale on the ref-clip
    # scales the whole compound frame about its centre, so FCP would show the picture further right (0.135 at
    # 120 %) and the written file would not say what was predicted. Used once, the clip's own element in the
    # media takes the scale; used twice (shared content), the scale is reported unwritten.
    more = '<ref-clip ref="m1" offset="4s" name="Again" duration="4s"/>' if used_twice else ""
    data = OFFSET_CONTENT.format(more=more, total="8s" if used_twice else "4s").encode()
    scale = Curve([Key(F(0), 100.0), Key(F(4), 120.0)])
    tls, out, changes, back = _write(data, {(0, 0): {"scale": scale}}, "c.fcpxml")
    assert _keys(tls[0].tracks[0].clips[0].curves["center_x"]) == [(0, 0.1125, "smooth")]
    notes = {c.param: (c.after, c.note) for c in changes if c.clip == "Compound"}
    clip = back[0].tracks[0].clips[0]
    assert _keys(clip.curves["center_x"]) == [(0, 0.1125, "smooth")]  # nothing moved
    if used_twice:
        assert notes["scale"][0] == 0 and "would move its content" in notes["scale"][1]
        assert "scale" not in clip.curves
        return
    assert notes["scale"][0] == 2
    inner = etree.fromstring(out).find(".//media/sequence/spine/asset-clip")
    assert inner.find("adjust-transform/param[@name='scale']") is not None
    assert [(k.time, k.value) for k in clip.curves["scale"].keys] == [(0, 100.0), (4, 120.0)]


def test_xmeml_scale_written_under_an_fcp7_distort_aspect_reads_back():
    """The reader reads FCP 7's scale under a Distort aspect a < 0 as the height's factor, scale / (1 - a/100); a
    predicted scale is written as that times 1 - a/100 into the clip's Basic Motion, and reads back as predicted."""
    doc = (
        b'<xmeml version="4"><sequence><name>s</name><duration>100</duration><rate><timebase>25</timebase></rate>'
        b"<media><video><track><clipitem><name>sd.mov</name><start>0</start><end>100</end><in>0</in><out>100</out>"
        b"<filter><effect><name>Basic Motion</name><effectid>basic</effectid><parameter><parameterid>scale"
        b"</parameterid><value>100</value></parameter></effect></filter><filter><effect><name>Distort</name>"
        b"<effectid>deformation</effectid><parameter><parameterid>aspect</parameterid><value>-42.2222</value>"
        b"</parameter></effect></filter></clipitem></track></video></media></sequence></xmeml>"
    )
    scale = Curve([Key(F(0), 187.5, "linear"), Key(F(2), 150.0, "linear")])
    tls, out, changes, back = _write(doc, {(0, 0): {"scale": scale}})
    assert tls[0].tracks[0].clips[0].static["scale"] == pytest.approx(100 / 1.422222)  # the file's 100 %
    root = safe_parse(out, "out")
    (param,) = [p for p in root.iter("parameter") if p.findtext("parameterid") == "scale"]
    assert [float(kf.findtext("value")) for kf in param.iter("keyframe")] == pytest.approx([266.667, 213.333], abs=1e-3)
    got = back[0].tracks[0].clips[0].curves["scale"]
    assert [(k.time, pytest.approx(k.value)) for k in got.keys] == [(F(0), 187.5), (F(2), 150.0)]
