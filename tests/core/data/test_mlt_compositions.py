"""MLT reader, issue 7: Kdenlive compositions that move a picture transform their upper track's clips
in their zone (the zoom of ``qtblend-zoom.kdenlive`` and of public test projects was lost). Expected
values are worked out by hand from the document below (25 fps, 1920x1080)."""

from __future__ import annotations

from fractions import Fraction as F

from core.data.formats import read_bytes

DOC = (
    '<mlt version="7.0.0"><profile frame_rate_num="25" frame_rate_den="1" width="1920" height="1080"/>'
    '<producer id="black" in="0" out="199"><property name="mlt_service">color</property></producer>'
    '<producer id="p" in="0" out="199"><property name="resource">a.mp4</property></producer>'
    '<playlist id="low"><entry producer="p" in="0" out="99"/></playlist>'
    '<playlist id="up"><blank length="20"/><entry producer="p" in="0" out="49"/><blank length="30"/>'
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
    _, up = _tracks()
    zoomed, later = up.clips
    assert (zoomed.start, zoomed.end, later.start) == (F(20, 25), F(70, 25), F(100, 25))
    assert [(k.time, k.value) for k in zoomed.curves["scale"].keys] == [(F(20, 25), 100.0), (F(45, 25), 50.0)]
    assert "center_x" not in zoomed.curves and "center_y" not in zoomed.curves  # stays centred: no curve
    assert "qtblend" in zoomed.effects  # the composition is what moves it
    assert later.curves == {} and later.effects == []  # after the zone; the wipe moves nothing


def test_negative_key_times_count_back_from_the_composition_end():
    low, _ = _tracks()
    (clip,) = low.clips
    assert [(k.time, k.value) for k in clip.curves["opacity"].keys] == [(0, 100.0), (F(99, 25), 50.0)]
    assert "scale" not in clip.curves  # the automatic compositing on track 2's way is not read either
