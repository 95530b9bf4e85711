"""Shotcut filters the MLT reader missed (issue 7, session 26), each from Shotcut's and MLT's source:

* Size, Position & Rotate (``affine``) keeps its angle in ``transition.fix_rotate_x`` (Shotcut's
  ``meta_affine.qml``; MLT ``transition_affine.c`` turns the picture by it in the screen's plane, clockwise
  like qtblend's ``rotation``). The corpus' ``Shotcut-Autoexporter__media.mlt`` turns three clips 23.4685
  degrees, read as unturned. Without ``transition.keyed``, MLT turns by ``fix_rotate_x + rotate_x * position``
  (``rotate_x`` a speed in degrees a frame); with it, ``rotate_x`` is the angle (Kdenlive's Rotate (keyframable)).
  Affine's ``rotate_z`` is a speed of a tilt out of the screen's plane, which the reader took for the angle.
* Balance (``panner``) writes its value, keyed or not, to ``split``; MLT's panner takes ``split`` over
  ``start`` (``filter_panner.c``), and Shotcut leaves ``start`` at 0.5. A balance set hard right read as
  centred. Shotcut's Pan (``channel`` 0 or 1) moves one input channel across the field: it is no balance,
  and its default (``start`` 0) read as hard left.

Expected values are worked out by hand below.
"""

from __future__ import annotations

import pytest

from core.data.formats import read_bytes

PROFILE = '<profile frame_rate_num="25" frame_rate_den="1" width="1920" height="1080"/>'


def _read(filters: str, kind: str):
    media = (
        '<property name="meta.media.width">1920</property><property name="meta.media.height">1080</property>'
        if kind == "video"
        else '<property name="video_index">-1</property>'
    )
    track = (
        '<property name="shotcut:video">1</property>'
        if kind == "video"
        else '<property name="shotcut:audio">1</property>'
    )
    doc = (
        f'<mlt version="7.24.0" title="Shotcut version 24.04.28">{PROFILE}'
        f'<chain id="c" out="249"><property name="resource">clip.mp4</property>{media}{filters}</chain>'
        f'<playlist id="p">{track}<entry producer="c" in="0" out="49"/></playlist>'
        '<tractor id="t"><track producer="p"/></tractor></mlt>'
    )
    (tl,) = read_bytes(doc.encode(), "shotcut.mlt")
    (clip,) = tl.tracks[0].clips
    return clip


def _filter(service: str, shotcut: str, **props: str) -> str:
    body = "".join(f'<property name="{k.replace("__", ".")}">{v}</property>' for k, v in props.items())
    return (
        f'<filter id="f" out="49"><property name="mlt_service">{service}</property>'
        f'<property name="shotcut:filter">{shotcut}</property>{body}</filter>'
    )


def test_size_position_and_rotate_reads_its_rotation():
    clip = _read(
        _filter("affine", "affineSizePosition", transition__rect="480 270 960 540 1", transition__fix_rotate_x="30"),
        "video",
    )
    assert clip.static["rotation"] == pytest.approx(30.0)
    assert clip.static["scale"] == pytest.approx(50.0)  # the rotation turns about the rect's centre
    assert (clip.static["center_x"], clip.static["center_y"]) == (pytest.approx(0.0), pytest.approx(0.0))


def test_a_keyed_rotation_is_a_curve():
    clip = _read(
        _filter(
            "affine",
            "affineSizePosition",
            transition__rect="0 0 1920 1080 1",
            transition__fix_rotate_x="00:00:00.000=0;00:00:01.000=90",
        ),
        "video",
    )
    keys = clip.curves["rotation"].keys
    assert [(float(k.time), k.value) for k in keys] == [(0.0, 0.0), (1.0, 90.0)]


def test_a_rotation_speed_turns_the_picture_frame_by_frame():
    # Kdenlive's Rotate (corpus kdenlive-test-suite__mlt-plus-video-effects): fix -23.4, 2 degrees a frame; the
    # tilts (y, z) are not read. Over the 50-frame filter: -23.4 at 0 s, -23.4 + 2 * 50 = 76.6 at 2 s.
    clip = _read(
        _filter(
            "affine",
            "",
            transition__fix_rotate_x="-23.4",
            transition__rotate_x="2",
            transition__rotate_z="9.6",
            transition__fix_rotate_y="44.4",
            transition__rect="0 0 1920 1080",
        ),
        "video",
    )
    keys = clip.curves["rotation"].keys
    assert [(float(k.time), k.value) for k in keys] == [(0.0, pytest.approx(-23.4)), (2.0, pytest.approx(76.6))]
    assert clip.curves["rotation"].value_at(1) == pytest.approx(-23.4 + 2 * 25)


def test_a_keyed_affine_rotation_is_the_angle_itself():
    clip = _read(
        _filter(
            "affine",
            "",
            transition__keyed="1",
            transition__rotate_x="00:00:00.000=10;00:00:01.000=-20",
            transition__fix_rotate_x="0",
            transition__rect="0 0 1920 1080",
        ),
        "video",
    )
    assert [(float(k.time), k.value) for k in clip.curves["rotation"].keys] == [(0.0, 10.0), (1.0, -20.0)]


def test_balance_reads_split_over_start():
    clip = _read(_filter("panner", "audioBalance", channel="-1", start="0.5", split="1"), "audio")
    assert clip.static["pan"] == pytest.approx(1.0)
    keyed = _read(
        _filter("panner", "audioBalance", channel="-1", start="0.5", split="00:00:00.000=0;00:00:01.000=0.75"), "audio"
    )
    assert [(float(k.time), k.value) for k in keyed.curves["pan"].keys] == [(0.0, -1.0), (1.0, pytest.approx(0.5))]


def test_a_panner_without_split_reads_start_as_before():
    clip = _read(_filter("panner", "audioBalance", channel="-1", start="0.25"), "audio")
    assert clip.static["pan"] == pytest.approx(-0.5)


@pytest.mark.parametrize("channel", ["0", "1"])
def test_a_one_channel_pan_is_not_a_balance(channel):
    clip = _read(_filter("panner", "audioPan", channel=channel, start="0", split="0"), "audio")
    assert "pan" not in clip.static and "pan" not in clip.curves


def test_the_corpus_shotcut_project_turns_its_picture_in_picture_clips(realworld_dir):
    path = realworld_dir / "mlt" / "Shotcut-Autoexporter__media.mlt"
    (tl,) = read_bytes(path.read_bytes(), str(path))
    turned = [c for t in tl.tracks for c in t.clips if "rotation" in c.static]
    # track V2's filter: transition.rect 941 175 812 457 1, transition.fix_rotate_x 23.4685, on all three clips
    assert len(turned) == 3
    assert [c.static["rotation"] for c in turned] == pytest.approx([23.4685] * 3)
    # Fill mode: the picture is as high as the 812 x 457 rect: 457 / 1080
    assert [c.static["scale"] for c in turned] == pytest.approx([457 / 1080 * 100] * 3)
