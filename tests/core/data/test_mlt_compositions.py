"""MLT reader, issue 7: Kdenlive compositions that move a picture transform their upper track's clips
in their zone, on top of each clip's own transform (the zoom of ``qtblend-zoom.kdenlive`` and of public
test projects was lost). Expected values are worked out by hand from the document below (25 fps,
1920x1080)."""

from __future__ import annotations

from fractions import Fraction as F
from itertools import accumulate

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.data.formats import read_bytes
from core.data.formats.mlt_filters import ClipsByTime
from core.data.timeline import Clip

DOC = (
    '<mlt version="7.0.0"><profile frame_rate_num="25" frame_rate_den="1" width="1920" height="1080"/>'
    '<producer id="black" in="0" out="199"><property name="mlt_service">color</property></producer>'
    '<producer id="p" in="0" out="199"><property name="resource">a.mp4</property></producer>'
    '<playlist id="low"><entry producer="p" in="0" out="99"/></playlist>'
    # the upper clip is at half size already by its own transform (a Kdenlive clip effect)
    '<playlist id="up"><blank length="20"/><entry producer="p" in="0" out="49"><filter>'
    '<property name="mlt_service">qtblend</property><property name="rect">480 270 960 540 1</property></filter>'
    '</entry><blank length="30"/>'
    '<entry producer="p" in="0" out="19"/></playlist>'
    '<tractor id="t"><track producer="black"/><track producer="low"/><track producer="up"/>'
    # a zoom on the upper track, frames 20-69: full frame at its in, half size and centred 25 frames later
    '<transition id="zoom" in="20" out="69"><property name="mlt_service">qtblend</property>'
    '<property name="kdenlive_id">qtblend</property><property name="a_track">1</property>'
    '<property name="b_track">2</property><property name="rect">0=0 0 1920 1080 1;25=480 270 960 540 1</property>'
    "</transition>"
    # Kdenlive's automatic compositing: never a transform, whatever it carries
    '<transition id="auto"><property name="mlt_service">qtblend</property><property name="a_track">0</property>'
    '<property name="b_track">2</property><property name="internal_added">237</property>'
    '<property name="rect">0 0 960 540</property></transition>'
    # the lower track fades to half opacity: -1 counts back from the composition's end (frame 99 = 3.96 s)
    '<transition id="fade" in="0" out="99"><property name="mlt_service">affine</property>'
    '<property name="a_track">0</property><property name="b_track">1</property>'
    '<property name="transition.rect">0=0 0 1920 1080 1;-1=0 0 1920 1080 0.5</property></transition>'
    # a wipe moves nothing
    '<transition id="wipe" in="0" out="199"><property name="mlt_service">luma</property>'
    '<property name="a_track">1</property><property name="b_track">2</property></transition>'
    "</tractor></mlt>"
)


def _tracks():
    (tl,) = read_bytes(DOC.encode(), "compositions.kdenlive")
    low, up = (t for t in tl.tracks if t.kind == "video")
    return low, up


def test_a_composition_moves_the_clips_of_its_upper_track_in_its_zone():
    # On top of the clip's own half size: 50 % at the composition's in, 50 % of 50 % 25 frames later.
    _, up = _tracks()
    zoomed, later = up.clips
    assert (zoomed.start, zoomed.end, later.start) == (F(20, 25), F(70, 25), F(100, 25))
    assert [(k.time, k.value) for k in zoomed.curves["scale"].keys] == [(F(20, 25), 50.0), (F(45, 25), 25.0)]
    assert "scale" not in zoomed.static  # animated now
    assert "center_x" not in zoomed.curves and "center_y" not in zoomed.curves  # stays centred: no curve
    assert zoomed.effects == ["qtblend", "qtblend"]  # its own transform, then the composition
    assert later.curves == {} and later.effects == []  # after the zone; the wipe moves nothing


def test_negative_key_times_count_back_from_the_composition_end():
    low, _ = _tracks()
    (clip,) = low.clips
    assert [(k.time, k.value) for k in clip.curves["opacity"].keys] == [(0, 100.0), (F(99, 25), 50.0)]
    assert "scale" not in clip.curves  # the automatic compositing on track 2's way is not read either


def test_the_zoom_of_a_real_kdenlive_project(realworld_dir):
    # qtblend-zoom.kdenlive: <transition> qtblend a_track 4, b_track 5 (the second video track),
    # rect "00:00:00.000=0 0 1920 1080 1.000000;00:00:04.972=96 54 1728 972 1.000000" (a 90 % zoom over
    # frame 149 at 30000/1001 fps) over the title whose own qtblend rect "163 92 1593 896" holds it at
    # 896 / 1080 = 82.963 % (the picture fits in the rect: the smaller of 1593 / 1920 and 896 / 1080).
    from core.data.formats import read_file

    (tl,) = read_file(realworld_dir / "mlt" / "kdenlive-test-suite__qtblend-zoom.kdenlive")
    (title,) = [t for t in tl.tracks if t.kind == "video"][1].clips
    keys = [(k.time, round(k.value, 4)) for k in title.curves["scale"].keys]
    own = 896 / 1080 * 100
    assert keys == [(0, round(own, 4)), (F(149 * 1001, 30000), round(own * 0.9, 4))]


_T = st.fractions(min_value=0, max_value=30, max_denominator=4)


@given(st.lists(st.tuples(_T, _T), max_size=10), st.booleans(), _T, st.none() | _T)
def test_the_clips_a_zone_covers_are_found_by_time_as_by_comparing_each(spans, in_order, zone_in, zone_out):
    # filters and compositions find their clips by bisection where a track's clips follow one another (linear in
    # a long Kdenlive project instead of quadratic), and by comparing each clip otherwise
    if in_order:  # a playlist: each clip starts where the one before ends, or later
        spans = list(accumulate(spans, lambda prev, span: (prev[1] + span[0], prev[1] + span[0] + span[1])))
    clips = [Clip("", start, max(start, end)) for start, end in spans]
    expected = [c for c in clips if c.end > zone_in and (zone_out is None or c.start < zone_out)]
    assert ClipsByTime(clips).overlapping(zone_in, zone_out) == expected


def _zoned(own: str = "") -> list:
    """A 100-frame clip on the upper track (``own``: its own clip effect) under a composition that acts on frames
    40-59 only: half size, centred."""
    doc = (
        '<mlt><profile frame_rate_num="25" frame_rate_den="1" width="1920" height="1080"/>'
        '<producer id="black" in="0" out="199"><property name="mlt_service">color</property></producer>'
        '<producer id="p" in="0" out="199"><property name="resource">a.mp4</property></producer>'
        f'<playlist id="low"/><playlist id="up"><entry producer="p" in="0" out="99">{own}</entry></playlist>'
        '<tractor id="t"><track producer="black"/><track producer="low"/><track producer="up"/>'
        '<transition id="half" in="40" out="59"><property name="mlt_service">qtblend</property>'
        '<property name="a_track">1</property><property name="b_track">2</property>'
        '<property name="rect">480 270 960 540 1</property></transition></tractor></mlt>'
    )
    (tl,) = read_bytes(doc.encode(), "zoned.kdenlive")
    (clip,) = [t for t in tl.tracks if t.kind == "video"][1].clips
    return [(k.time, k.value, k.interp) for k in clip.curves["scale"].keys]


def test_a_composition_acts_only_in_its_zone():
    # MLT runs a composition only from its in through its out: the clip is at full size up to 1.6 s (frame 40),
    # at half size through frame 59 (2.36 s), and at full size again from 2.4 s
    assert _zoned() == [
        (0, 100.0, "hold"),
        (F(8, 5), 50.0, "linear"),
        (F(59, 25), 50.0, "hold"),
        (F(12, 5), 100.0, "linear"),
    ]
    # on top of the clip's own half size: a quarter in the zone, half outside it
    own = '<filter><property name="mlt_service">qtblend</property>'
    own += '<property name="rect">480 270 960 540</property></filter>'
    assert _zoned(own) == [
        (0, 50.0, "hold"),
        (F(8, 5), 25.0, "linear"),
        (F(59, 25), 25.0, "hold"),
        (F(12, 5), 50.0, "linear"),
    ]


def _clip(**static) -> Clip:
    clip = Clip(name="c", start=F(0), end=F(4))
    clip.static.update(static)
    return clip


def test_a_containers_scale_scales_its_contents_offset():
    from core.data.formats._compose import compose_into
    from core.data.timeline import Curve, Key

    # A picture at half size a quarter frame right, in a container at half size moved 0.1 right: a quarter size,
    # 0.1 + 0.5 * 0.25 = 0.225 right (the container scales the frame the picture sits in, then moves it).
    clip, container = _clip(scale=50.0, center_x=0.25), _clip(scale=50.0, center_x=0.1)
    compose_into(clip, container, static_interp="linear")
    assert clip.static["scale"] == 25.0 and clip.static["center_x"] == pytest.approx(0.225)
    # A container zooming out 100 -> 50 % over 2 s draws an offset picture in towards the centre with it,
    # though neither side moves: 0.2 at 0 s, 0.1 at 2 s, keys where the scale has them.
    clip, container = _clip(center_x=0.2), Clip(name="zoom", start=F(0), end=F(4))
    container.curves["scale"] = Curve([Key(F(0), 100.0, "linear"), Key(F(2), 50.0, "linear")])
    compose_into(clip, container, static_interp="linear")
    assert [(k.time, k.value) for k in clip.curves["center_x"].keys] == [
        (0, pytest.approx(0.2)),
        (2, pytest.approx(0.1)),
    ]
    assert "center_x" not in clip.static and "center_y" not in clip.curves  # no offset: nothing to scale
    # A centred picture in a container that sits 0.1 right and zooms: the container's place holds still, one
    # value (no keys where the scale has them, which a written-back compound's zoom would otherwise add)
    clip, container = _clip(), _clip(center_x=0.1)
    container.curves["scale"] = Curve([Key(F(0), 100.0, "linear"), Key(F(2), 50.0, "linear")])
    compose_into(clip, container, static_interp="linear")
    assert clip.static["center_x"] == pytest.approx(0.1)
    assert [(k.time, k.value) for k in clip.curves["center_x"].keys] == [(0, pytest.approx(0.1))]


def test_a_composition_fits_each_clips_own_picture_in_its_rect():
    # GarlandKey/creative-content sample.kdenlive: a square logo under a qtblend composition with a square 300 px
    # rect is drawn 300 px high (MLT's transition_qtblend.cpp fits the clip's picture): 300 / 1080 of the frame.
    # A 16:9 picture in the same rect is letterboxed to 168.75 px: 15.625 %. A clip with a transform of its own
    # hands the composition a frame-shaped picture, fitted like the 16:9 one.
    def producer(ident: str, width: int, height: int) -> str:
        return (
            f'<producer id="{ident}" in="0" out="99"><property name="resource">{ident}.png</property>'
            f'<property name="meta.media.width">{width}</property>'
            f'<property name="meta.media.height">{height}</property></producer>'
        )

    own = '<filter><property name="mlt_service">qtblend</property><property name="rect">0 0 1920 1080 1</property>'
    doc = (
        '<mlt version="7.0.0"><profile frame_rate_num="25" frame_rate_den="1" width="1920" height="1080"/>'
        + producer("logo", 1000, 1000)
        + producer("wide", 1920, 1080)
        + '<playlist id="up"><entry producer="logo" in="0" out="49"/><entry producer="wide" in="0" out="49"/>'
        f'<entry producer="logo" in="0" out="49">{own}</filter></entry></playlist>'
        '<tractor id="t"><track producer="up"/>'
        '<transition id="box" in="0" out="149"><property name="mlt_service">qtblend</property>'
        '<property name="a_track">0</property><property name="b_track">0</property>'
        '<property name="rect">810 390 300 300 1</property></transition></tractor></mlt>'
    )
    (tl,) = read_bytes(doc.encode(), "box.kdenlive")
    assert [c.static["scale"] for c in tl.tracks[0].clips] == pytest.approx([300 / 1080 * 100, 15.625, 15.625])
