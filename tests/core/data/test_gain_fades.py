"""Volume fades that ramp a gain, not a dB value (issue 7, session 26; ``Key.amplitude``).

Final Cut Pro X's volume fades raise the volume "from silence (-inf dB) to the level you've already specified"
(its user guide), and MLT's volume filter ramps ``gain`` linearly in amplitude (``filter_volume.c``: ``gain +=
(end - gain) * progress``; Kdenlive writes every audio fade that way, up to 24.07 at least). Read as a straight
line in dB from the floor, half-way through a fade was -30 dB where the editor plays -6 dB. Expected values:
20 log10(u) dB for a linear gain ramp from silence to 0 dB at progress u (-12.04, -6.02, -2.50 dB at a quarter,
half and three quarters).
"""

from __future__ import annotations

import numpy as np
import pytest

from core.data.formats import read_bytes
from core.data.frames import curve_values
from core.data.timeline import Curve, Key

RAMP = [20 * np.log10(u) for u in (0.25, 0.5, 0.75)]  # -12.04, -6.02, -2.50


def test_an_amplitude_segment_interpolates_the_gain_and_both_samplers_agree():
    curve = Curve([Key(0, -60.0, "linear", True), Key(2, 0.0), Key(4, -6.0, "linear", True), Key(6, -60.0)])
    assert [curve.value_at(t) for t in (0.5, 1.0, 1.5)] == pytest.approx(RAMP)
    # -6 dB -> silence: gain 0.501 * (1 - u)
    assert curve.value_at(5) == pytest.approx(20 * np.log10(0.5 * 10 ** (-6 / 20)))
    t = np.linspace(-1, 7, 161)
    assert curve_values(curve, t) == pytest.approx([curve.value_at(x) for x in t])
    plain = Curve([Key(0, -60.0), Key(2, 0.0)])  # a key without the flag stays linear in dB
    assert plain.value_at(1.0) == pytest.approx(-30.0)


FCPXML = (
    '<fcpxml version="1.11"><resources><format id="f" frameDuration="1/25s" width="1920" height="1080"/>'
    '<asset id="a" hasAudio="1" audioChannels="2" duration="60s" src="file:///x/music.wav"/></resources>'
    '<library><event><project name="p"><sequence format="f" duration="10s"><spine>'
    '<asset-clip name="music" ref="a" offset="0s" duration="10s"><adjust-volume amount="{amount}"><param name="amount">'
    '{keys}<fadeIn type="linear" duration="2s"/><fadeOut type="linear" duration="2s"/></param></adjust-volume>'
    "</asset-clip></spine></sequence></project></event></library></fcpxml>"
)


def test_an_fcpxml_volume_fade_ramps_the_gain_from_silence():
    (tl,) = read_bytes(FCPXML.format(amount="-6dB", keys="").encode(), "fade.fcpxml")
    curve = tl.tracks[0].clips[0].curves["level_db"]
    assert [(float(k.time), k.value) for k in curve.keys] == [(0, -60), (2, -6), (8, -6), (10, -60)]
    # a linear gain ramp to -6 dB: -6 + 20 log10(u)
    assert [curve.value_at(t) for t in (0.5, 1.0, 1.5)] == pytest.approx([-6 + r for r in RAMP])
    assert [curve.value_at(t) for t in (8.5, 9.0, 9.5)] == pytest.approx([-6 + r for r in RAMP[::-1]])
    assert curve.value_at(5) == pytest.approx(-6.0)


def test_keys_inside_an_fcpxml_volume_fade_keep_their_scaled_values():
    keys = '<keyframeAnimation><keyframe time="1s" value="0dB"/><keyframe time="5s" value="-12dB"/></keyframeAnimation>'
    (tl,) = read_bytes(FCPXML.format(amount="0dB", keys=keys).encode(), "fade.fcpxml")
    curve = tl.tracks[0].clips[0].curves["level_db"]
    # the 1 s key inside the 2 s fade-in, at progress 1/2: 0 + 20 log10(0.5)
    assert curve.value_at(1) == pytest.approx(20 * np.log10(0.5))
    assert curve.value_at(5) == pytest.approx(-12.0)  # outside the fades: the key itself, interpolated in dB


MLT = (
    '<mlt version="6.6.0"><profile frame_rate_num="25" frame_rate_den="1" width="1920" height="1080"/>'
    '<producer id="p" in="0" out="249"><property name="resource">music.mp3</property>'
    '<property name="video_index">-1</property></producer>'
    '<playlist id="a"><entry producer="p" in="0" out="99">'
    '<filter id="f" in="0" out="49"><property name="mlt_service">volume</property>'
    '<property name="kdenlive_id">fadein</property><property name="gain">0</property><property name="end">1</property>'
    "</filter></entry></playlist>"
    '<tractor id="t"><track producer="a" hide="video"/></tractor></mlt>'
)


def test_an_mlt_volume_gain_ramp_is_linear_in_amplitude():
    (tl,) = read_bytes(MLT.encode(), "fade.kdenlive")
    curve = tl.tracks[0].clips[0].curves["level_db"]
    assert [(float(k.time), k.value) for k in curve.keys] == [(0, -60), (2, 0)]
    assert [curve.value_at(t) for t in (0.5, 1.0, 1.5)] == pytest.approx(RAMP)


def _fader(level: str) -> str:
    return (
        f'<filter><property name="mlt_service">volume</property><property name="level">{level}</property>'
        '<property name="internal_added">237</property><property name="disable">0</property></filter>'
    )


KDENLIVE_MIXER = (
    '<mlt version="6.26.1"><profile frame_rate_num="25" frame_rate_den="1" width="1920" height="1080"/>'
    '<producer id="p" in="0" out="999"><property name="resource">music.mp3</property></producer>'
    '<producer id="black_track" in="0" out="999"><property name="mlt_service">color</property></producer>'
    '<playlist id="a"><property name="kdenlive:audio_track">1</property>'
    '<entry producer="p" in="0" out="99"><filter out="24"><property name="mlt_service">volume</property>'
    '<property name="kdenlive_id">fadein</property><property name="gain">0</property><property name="end">1</property>'
    '</filter></entry><blank length="50"/><entry producer="p" in="250" out="349"/></playlist>'
    '<tractor id="track"><property name="kdenlive:audio_track">1</property><track producer="a" hide="video"/>'
    '{track}</tractor><tractor id="main" global_feed="1"><track producer="black_track"/><track producer="track"/>'
    "{master}</tractor></mlt>"
)


def test_kdenlives_track_and_master_faders_add_to_every_clips_level():
    # svenius777/Sviraj-Chillaj (Kdenlive 21.04): a master fader at -11.05 dB over a clip with its own fades read 0 dB
    # between them. MLT chains the clip's volume, the track's and the master's: -3 + -6 = -9 dB on top of each.
    doc = KDENLIVE_MIXER.format(track=_fader("-3"), master=_fader("-6"))
    (tl,) = read_bytes(doc.encode(), "mixer.kdenlive")
    faded, plain = tl.tracks[0].clips
    keys = faded.curves["level_db"].keys
    assert [(float(k.time), k.value) for k in keys] == [(0, -60), (1, -9)]  # silence stays silence
    assert faded.curves["level_db"].value_at(0.5) == pytest.approx(-9 + 20 * np.log10(0.5))  # still a gain ramp
    assert plain.static["level_db"] == pytest.approx(-9.0)
    assert {k.value for k in plain.curves["level_db"].keys} == {-9.0}


def test_a_muted_master_silences_every_clip():
    (tl,) = read_bytes(KDENLIVE_MIXER.format(track="", master=_fader("-1000")).encode(), "mixer.kdenlive")
    for clip in tl.tracks[0].clips:
        assert {k.value for k in clip.curves["level_db"].keys} == {-60.0}


def _kdenlive_clip(filters: str):
    doc = (
        '<mlt version="7.21.0"><profile frame_rate_num="25" frame_rate_den="1" width="1920" height="1080"/>'
        '<producer id="p" in="0" out="999"><property name="resource">screen.png</property>'
        '<property name="meta.media.width">1920</property><property name="meta.media.height">1080</property>'
        f'</producer><playlist id="v"><entry producer="p" in="0" out="199">{filters}</entry></playlist>'
        '<tractor id="t"><track producer="v"/></tractor></mlt>'
    )
    (tl,) = read_bytes(doc.encode(), "chain.kdenlive")
    return tl.tracks[0].clips[0]


def _f(service: str, zone: str = "", **props: str) -> str:
    body = "".join(f'<property name="{k}">{v}</property>' for k, v in props.items())
    return f'<filter {zone}><property name="mlt_service">{service}</property>{body}</filter>'


def test_a_transform_opacity_and_fades_on_one_clip_multiply():
    # shawn-eary/Hope (Kdenlive 23.08): a Transform at 83 % opacity with a fade from and to black read 83 -> 100 -> 0
    # (the fade-in lost). MLT's qtblend paints at the rect's opacity and brightness multiplies the alpha: 0 -> 83,
    # held, -> 0.
    clip = _kdenlive_clip(
        _f("qtblend", rect="0 0 1920 1080 0.83")
        + _f("brightness", 'out="49"', kdenlive_id="fade_from_black", alpha="0=0;49=1")
        + _f("brightness", 'in="150" out="199"', kdenlive_id="fade_to_black", alpha="0=1;49=0")
    )
    keys = clip.curves["opacity"].keys
    assert [(float(k.time), pytest.approx(k.value)) for k in keys] == [(0, 0), (1.96, 83), (6, 83), (7.96, 0)]


def test_a_volume_and_a_fade_on_one_clip_add_in_db():
    clip = _kdenlive_clip(_f("volume", level="-6") + _f("volume", 'out="49"', kdenlive_id="fadein", gain="0", end="1"))
    curve = clip.curves["level_db"]
    assert [(float(k.time), k.value) for k in curve.keys] == [(0, -60), (2, -6)]
    assert curve.value_at(1) == pytest.approx(-6 + 20 * np.log10(0.5))  # the fade's gain ramp, 6 dB down
