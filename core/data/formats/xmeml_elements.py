"""Element builders of the xmeml writer: number and time text, ``<rate>`` and ``<timecode>``, and
Premiere's Motion, Opacity, Audio Levels and Audio Pan filters with their keyframes (the encoding
rules are in ``xmeml_writer.py``'s docstring). ``xmeml_edit`` and ``_edit`` use them too, so a
written and an edited file say things the same way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from fractions import Fraction

from lxml import etree

from core.data.timeline import LEVEL_FLOOR_DB, PARAMS, Clip, Curve, db_to_gain

TICKS_PER_SECOND = 254_016_000_000  # Premiere's pproTicks clock


# --- small helpers -------------------------------------------------------------------------------


def number_text(v: float) -> str:
    """Shortest exact text for a float: integers without a dot (as Premiere), else ``repr``."""
    v = float(v)
    if not math.isfinite(v):
        raise ValueError(f"cannot write non-finite value {v!r}")
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def frame_at(t: Fraction, rate: Fraction) -> int:
    """Seconds -> nearest integer frame at ``rate`` (exact when ``t`` is on the frame grid)."""
    return round(Fraction(t) * rate)


def ticks_at(frames: int, rate: Fraction) -> int:
    return round(Fraction(frames) / rate * TICKS_PER_SECOND)


def sub(parent: etree._Element, tag: str, text: object = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, tag, {k.replace("__", "."): v for k, v in attrs.items()})
    if text is not None:
        el.text = str(text)
    return el


def bool_text(b: bool) -> str:
    return "TRUE" if b else "FALSE"


def rate_element(parent: etree._Element, rate: Fraction) -> None:
    timebase, ntsc = timebase_of(rate)
    r = sub(parent, "rate")
    sub(r, "timebase", timebase)
    sub(r, "ntsc", bool_text(ntsc))


def timebase_of(rate: Fraction) -> tuple[int, bool]:
    """xmeml (timebase, ntsc) for an exact rate; 30000/1001 -> (30, True)."""
    rate = Fraction(rate)
    if rate.denominator == 1:
        return rate.numerator, False
    tb = rate * Fraction(1001, 1000)
    if tb.denominator != 1:
        raise ValueError(f"rate {rate} is neither integral nor NTSC (n*1000/1001)")
    return tb.numerator, True


def timecode_element(parent: etree._Element, rate: Fraction) -> None:
    tc = sub(parent, "timecode")
    rate_element(tc, rate)
    _, ntsc = timebase_of(rate)
    sub(tc, "string", "00;00;00;00" if ntsc else "00:00:00:00")
    sub(tc, "frame", 0)
    sub(tc, "displayformat", "DF" if ntsc else "NDF")


# --- curves -> filters ---------------------------------------------------------------------------


def _interp_tag(param: etree._Element, curves: Iterable[Curve]) -> None:
    if any(k.interp == "smooth" for c in curves for k in c.keys):
        sub(sub(param, "interpolation"), "name", "FCPCurve")


def bezier_handles(keyframes: list[etree._Element], frames: list[int], interps: list[str]) -> None:
    """Give each smooth key FCP 7's Bezier handle, what makes its segment a curve (``FCPCurve`` alone does not): an
    outgoing handle, flat and a third of the segment long (``<horiz>`` the length in frames, ``<vert>`` the angle),
    as FCP 7 writes a group's first key's. A key without one stays a straight line: the reader reads a key smooth
    where it has a handle or the next key an incoming one, and no incoming handle is written, so each key reads
    back as written."""
    for i, kf in enumerate(keyframes):
        if interps[i] != "smooth" or kf.find("outbez") is not None:
            continue
        span = frames[i + 1] - frames[i] if i + 1 < len(frames) else frames[i] - frames[i - 1] if i else 3
        handle = sub(kf, "outbez")
        sub(handle, "horiz", number_text(max(span, 1) / 3))
        sub(handle, "vert", "0")


def _is_static(curve: Curve | None, cf: ClipFrames, default: float) -> bool:
    """One key on the clip's first frame with a non-default value: a reader gives it back from <value>."""
    if curve is None or len(curve.keys) != 1:
        return False
    k = curve.keys[0]
    return k.interp == "linear" and cf.when(k.time) == cf.source_in and abs(k.value - default) > 1e-9


class ClipFrames:
    """Frame arithmetic of one clipitem: where timeline time t lands in source frames (``when``)."""

    def __init__(self, clip: Clip, rate: Fraction) -> None:
        self.rate = rate
        self.start = frame_at(clip.start, rate)
        self.source_in = frame_at(clip.source_in, rate)

    def when(self, t: Fraction) -> int:
        # Premiere measures keyframes in source frames: when = in + (t - start) * rate, with
        # in/start of the *resolved* (cut point) edge; the -1 edges shift both by the same amount.
        return self.source_in + frame_at(t, self.rate) - self.start


def _scalar_param(
    effect: etree._Element,
    pid: str,
    name: str,
    vmin: float,
    vmax: float,
    default: float,
    curve: Curve | None,
    cf: ClipFrames,
    to_file=lambda v: v,
) -> None:
    p = sub(effect, "parameter", authoringApp="PremierePro")
    sub(p, "parameterid", pid)
    sub(p, "name", name)
    sub(p, "valuemin", number_text(vmin))
    sub(p, "valuemax", number_text(vmax))
    keys = curve.keys if curve is not None else []
    sub(p, "value", number_text(to_file(keys[0].value if keys else default)))
    if _is_static(curve, cf, default):
        keys = []  # Premiere writes a set-but-not-animated parameter as a bare <value>
    written = []
    for k in keys:
        kf = sub(p, "keyframe")
        sub(kf, "when", cf.when(k.time))
        sub(kf, "value", number_text(to_file(k.value)))
        written.append(kf)
    bezier_handles(written, [cf.when(k.time) for k in keys], [k.interp for k in keys])
    if curve is not None:
        _interp_tag(p, [curve])


def _center_param(effect: etree._Element, cx: Curve | None, cy: Curve | None, cf: ClipFrames) -> None:
    p = sub(effect, "parameter", authoringApp="PremierePro")
    sub(p, "parameterid", "center")
    sub(p, "name", "Center")
    curves = [c for c in (cx, cy) if c is not None and c.keys]
    times = sorted({k.time for c in curves for k in c.keys})
    static = len(curves) == 2 and all(_is_static(c, cf, 0.0) for c in curves)

    def point(parent: etree._Element, t: Fraction | None) -> None:
        v = sub(parent, "value")
        sub(v, "horiz", number_text(cx.value_at(t) if cx is not None and cx.keys and t is not None else 0.0))
        sub(v, "vert", number_text(cy.value_at(t) if cy is not None and cy.keys and t is not None else 0.0))

    point(p, times[0] if times else None)
    written = []
    for t in [] if static else times:
        kf = sub(p, "keyframe")
        sub(kf, "when", cf.when(t))
        point(kf, t)
        written.append(kf)
    smooth = {k.time for c in curves for k in c.keys if k.interp == "smooth"}  # either component's smooth key
    bezier_handles(written, [cf.when(t) for t in times], ["smooth" if t in smooth else "linear" for t in times])
    if curves:
        _interp_tag(p, curves)


def effect_element(
    filt_parent: etree._Element, name: str, effectid: str, category: str, mediatype: str
) -> etree._Element:
    effect = sub(sub(filt_parent, "filter"), "effect")
    sub(effect, "name", name)
    sub(effect, "effectid", effectid)
    sub(effect, "effectcategory", category)
    sub(effect, "effecttype", category if mediatype == "audio" else "motion")
    sub(effect, "mediatype", mediatype)
    return effect


def video_filters(item: etree._Element, clip: Clip, cf: ClipFrames) -> None:
    c = clip.curves
    if any(p in c for p in ("scale", "rotation", "center_x", "center_y")):
        e = effect_element(item, "Basic Motion", "basic", "motion", "video")
        _scalar_param(e, "scale", "Scale", 0, 1000, PARAMS["scale"][0], c.get("scale"), cf)
        _scalar_param(e, "rotation", "Rotation", -8640, 8640, PARAMS["rotation"][0], c.get("rotation"), cf)
        _center_param(e, c.get("center_x"), c.get("center_y"), cf)
        p = sub(e, "parameter", authoringApp="PremierePro")
        sub(p, "parameterid", "centerOffset")
        sub(p, "name", "Anchor Point")
        v = sub(p, "value")
        sub(v, "horiz", 0)
        sub(v, "vert", 0)
    if "opacity" in c:
        e = effect_element(item, "Opacity", "opacity", "motion", "video")
        _scalar_param(e, "opacity", "opacity", 0, 100, PARAMS["opacity"][0], c["opacity"], cf)


GAIN_EFFECT_ID = "{61756678, 4761696e, 4b657947}"  # Premiere's Audio Gain, as Premiere writes it


def audio_filters(item: etree._Element, clip: Clip, cf: ClipFrames) -> None:
    c = clip.curves
    gain = clip.gain_db or 0.0
    if clip.gain_db is not None:
        # Premiere's Audio Gain; a reader adds it to the volume, so Audio Levels get level - gain.
        effect = effect_element(item, "Gain", GAIN_EFFECT_ID, "filter", "audio")
        p = sub(effect, "parameter", authoringApp="PremierePro")
        for tag, text in (("parameterid", "Gain(dB)"), ("name", "Gain(dB)"), ("valuemin", -96), ("valuemax", 96)):
            sub(p, tag, text)
        sub(p, "value", number_text(gain))
    if "level_db" in c:
        e = effect_element(item, "Audio Levels", "audiolevels", "audiolevels", "audio")
        _scalar_param(
            e,
            "level",
            "Level",
            0,
            3.98109,
            PARAMS["level_db"][0],
            c["level_db"],
            cf,
            to_file=lambda v: db_to_gain(v if v <= LEVEL_FLOOR_DB else v - gain),
        )
    if "pan" in c:
        e = effect_element(item, "Audio Pan", "audiopan", "audiopan", "audio")
        _scalar_param(e, "pan", "Pan", -1, 1, PARAMS["pan"][0], c["pan"], cf)


def text_children(parent: etree._Element, **texts: object) -> None:
    """One child per keyword, in order, each holding its value as text (``sub`` for each)."""
    for tag, text in texts.items():
        sub(parent, tag, text)
