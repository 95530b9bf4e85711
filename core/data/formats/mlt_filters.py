"""The MLT reader's filters: canonical curves and static values from ``<filter>`` properties
(animation strings, rects, volume, panner, brightness fades), whether attached to an entry, a
producer, a track or the timeline (the rules are in ``mlt.py``'s docstring).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from fractions import Fraction
from typing import NamedTuple

from lxml import etree

from core.data.formats._numbers import NumberError, bounded_float, leading_numbers
from core.data.formats.mlt_base import MltBase
from core.data.timeline import LEVEL_FLOOR_DB, PARAMS, Clip, Curve, Key, ParamRef, add_db, gain_to_db

FADE_IDS = frozenset(("fadeinbrightness", "fadeoutbrightness", "fade_from_black", "fade_to_black"))
HOLD_MARKERS = frozenset("|!")
METERS = frozenset(("audiolevel",))
_NAMING = frozenset(("disable", "mlt_service", "kdenlive_id", "shotcut:filter"))  # what effect_name reads
RECT_PROPS = ("transition.rect", "rect", "geometry", "transition.geometry")
# a turn in the screen's plane, first found wins (``_rotation_prop``; affine's ``rotate_x`` only where ``keyed``)
ROTATION_PROPS = ("rotation", "transition.rotate_x", "transition.fix_rotate_x", "transition.rotation")
MOVES = RECT_PROPS + ROTATION_PROPS  # what makes a transition a composition that moves a picture
SCALE_TILT = ("Scale X", "Scale Y", "Tilt X", "Tilt Y")  # frei0r.scale0tilt's picture (``scale_tilt``)
_NUM = r"(-?[0-9.]+(?:[eE][-+]?[0-9]+)?%?)"
_OLD_GEOMETRY = re.compile(rf"^\s*{_NUM}[/,]{_NUM}:{_NUM}x{_NUM}(?::{_NUM})?\s*$")  # composite's "0/0:720x576:100"
_COMMA_FIELDS = re.compile(r"-?\d+,-?\d+:")  # a comma between geometry fields, not a decimal one
_KEY = re.compile(r"^\s*(-?[0-9:.;]+?)([^0-9:.;\s=-]|[-~$|!])?\s*=(.*)$", re.S)


class FilterReading(MltBase):
    """Reads filters into curves (mixed into the MLT reader)."""

    def apply_filters(self, filters, clips: list[Clip], kind: str, length: int, where: str) -> None:
        """Apply track or timeline filters (keys in track time) to the clips they cover.

        A filter with ``in``/``out`` (a Kdenlive effect zone) acts only there: it reaches only the
        clips that overlap its zone, and a clip that reaches beyond the zone has the filter's values
        inside it and its parameters' defaults outside (``within_zone``). A clip's own curve for a
        parameter wins, but for opacity and level, which combine as MLT chains the filters (``_merge``), and a
        level at one value over the clip (Kdenlive's track and master faders, a ``volume`` on the track's or the
        timeline's tractor), which adds its dB to the clip's own level keeping its keys.
        """
        by_time = ClipsByTime(clips)
        for f in filters:
            refs: dict[str, ParamRef] = {}
            found: dict[str, float] = {}
            found_curves = self.curves([f], 0, length, self.secs, kind, where, refs, found)
            name = effect_name(f)
            zone_in, zone_end = self.zone(f, where)
            for clip in by_time.overlapping(zone_in, zone_end):
                curves, static = within_zone(found_curves, found, clip, zone_in, zone_end, self.secs(1))
                if name is not None:
                    clip.effects.append(name)
                for param, curve in curves.items():
                    if param not in clip.curves:
                        clip.param_refs[param] = refs[param]
                        if param in static:
                            clip.static[param] = static[param]  # the clip's own is at most a default
                    _merge(clip.curves, param, list(curve.keys))
                    merged = clip.curves[param]
                    if len(merged) > 1:
                        clip.static.pop(param, None)  # animated now (the track's keys, or both joined)
                    elif param in clip.static:
                        clip.static[param] = merged.keys[0].value  # a fader's dB on a static level
                for param, value in static.items():
                    if param not in curves and param not in clip.curves:
                        clip.static.setdefault(param, value)
                        clip.param_refs.setdefault(param, refs[param])

    def zone(self, f: etree._Element, where: str) -> tuple[Fraction, Fraction | None]:
        """Where a track or timeline filter or a composition acts, [start, end) in seconds: its ``in``/``out`` in
        track frames (``out`` inclusive); without them, everywhere (end None)."""
        zone_in = self.secs(self.frames(f.get("in"), where, 0))
        out = self.frames(f.get("out"), where)
        return zone_in, self.secs(out + 1) if out is not None else None

    def curves(
        self,
        filters,
        origin: int,
        default_len: int,
        to_time,
        kind: str,
        where: str,
        refs: dict,
        static: dict,
        aspect: float | None = None,
    ) -> dict[str, Curve]:
        """Canonical curves of ``filters``; ``to_time`` maps a frame of the attachment domain to
        timeline seconds. The first filter that gives a parameter wins. ``refs`` gets where each
        mapped parameter lives (the curve's property, else the first filter that has it), ``static``
        the parameters with one value (a plain value or one key, defaults included). ``aspect`` is
        the picture's width / height in profile pixels where known (a rect fits the picture in)."""
        curves: dict[str, Curve] = {}
        for f in filters:
            prop_els = {p.get("name"): p for p in f.iterchildren("property")}
            props = {name: self.decimals(p.text or "") for name, p in prop_els.items()}
            if props.get("disable", "0").strip() == "1":
                continue
            fwhere = f"{where}, filter {f.get('id') or props.get('mlt_service')}"
            f_in = self.frames(f.get("in"), fwhere, 0)
            f_out = self.frames(f.get("out"), fwhere)
            length = f_out - f_in + 1 if f_out is not None else default_len
            keyed = self.filter_keys(props, f_in + origin, length, to_time, kind, fwhere, aspect)
            for canon, keys, prop, value in keyed:
                ref = ParamRef(self.path(prop_els[prop]), None, "rect" if prop in RECT_PROPS else None, self.path(f))
                if keys and canon not in curves:
                    refs[canon] = ref
                    if value is None:
                        static.pop(canon, None)
                    else:
                        static[canon] = value
                else:
                    refs.setdefault(canon, ref)
                    if canon not in curves and value is not None:
                        static.setdefault(canon, value)
                    elif keys and canon in curves:
                        static.pop(canon, None)  # a second filter's keys join the curve (fades)
                if not keys:
                    continue
                _merge(curves, canon, keys)
        return curves

    def filter_keys(self, props: dict, f_in: int, length: int, to_time, kind: str, where: str, aspect=None):
        """Yield (canonical parameter, keys) for one filter's mapped properties."""
        service = (props.get("mlt_service") or "").lower()
        ident = (props.get("kdenlive_id") or props.get("shotcut:filter") or "").lower()
        mapped: list[tuple[str, str, object]] = []  # (property, canonical or "rect", converter)
        if kind == "audio" or service in ("volume", "panner"):
            if service == "volume":
                if "level" in props:
                    mapped.append(("level", "level_db", lambda v: max(LEVEL_FLOOR_DB, v[0])))
                elif "gain" in props:
                    mapped.append(("gain", "level_db", None))
            elif service == "panner" and (props.get("channel") or "-1").strip() not in ("0", "1"):
                # MLT's panner takes ``split`` (Shotcut's Balance writes it, keyed) over ``start``. A ``channel``
                # of 0 or 1 (Shotcut's Pan) moves that one input channel across the field: not a balance.
                prop = "split" if "split" in props else "start"
                mapped.append((prop, "pan", lambda v: 2.0 * v[0] - 1.0))
        if kind == "video" and service == "frei0r.scale0tilt" and all(n in props for n in SCALE_TILT):
            yield from self.scale_tilt(props, f_in, length, to_time, where)
            return
        if kind == "video":
            if service in ("affine", "qtblend", "composite", "frei0r.affine"):
                for prop in RECT_PROPS:
                    if prop in props:
                        mapped.append((prop, "rect", None))
                        break
                rotation = _rotation_prop(props)
                if rotation:
                    mapped.append((rotation, "rotation", lambda v: v[0]))
            elif service == "brightness":
                if "alpha" in props and (_animated(props["alpha"]) or _lowers_opacity(props["alpha"])):
                    mapped.append(("alpha", "opacity", lambda v: v[0] * 100.0))
                elif ident in FADE_IDS and "level" in props:
                    mapped.append(("level", "opacity", lambda v: v[0] * 100.0))
                elif ident in FADE_IDS and "start" in props:  # older Kdenlive: start, ramping to end
                    mapped.append(("start", "opacity", lambda v: v[0] * 100.0))
        for prop, canon, convert in mapped:
            rows = self.animation(props[prop], f_in, length, to_time, where)
            if "end" in props and "=" not in props[prop] and prop in ("gain", "level", "start"):
                # Old Kdenlive fades: a static start value ramps to ``end`` over the filter.
                rows = rows + [(to_time(f_in + length), props["end"], "linear")]
            elif prop == "transition.fix_rotate_x" and "=" not in props[prop]:
                # MLT's affine turns by fix_rotate_x + rotate_x * position: rotate_x is a speed (degrees a frame)
                speed = _numbers(props.get("transition.rotate_x") or "0", where, self)
                nums = _numbers(props[prop], where, self)
                if speed and speed[0] and nums:
                    rows = rows + [(to_time(f_in + length), repr(nums[0] + speed[0] * length), "linear")]
            if canon == "rect":
                out: dict[str, list[Key]] = {}
                fit = _Fit.of(props, service, aspect if aspect else self.width / self.height)
                if not aspect and fit.fill and not fit.distort and "shotcut:filter" in props and rows:
                    # Shotcut's Fill mode keeps the rect at the picture's shape: where the source's is unknown
                    first = self.rect_values(rows[0][1], where)
                    if len(first) >= 4 and first[2] > 0 and first[3] > 0:
                        fit = fit._replace(aspect=first[2] / first[3])
                for t, text, interp in rows:
                    for c, value in self.rect(text, where, fit):
                        out.setdefault(c, []).append(Key(t, value, interp))
                if service == "qtblend" and "rotation" in props and (props.get("rotate_center") or "0").strip() != "1":
                    self.turn_about_corner(
                        rows, self.animation(props["rotation"], f_in, length, to_time, where), out, where
                    )
                for c, keys in _drop_defaults(out):
                    yield c, keys, prop, _one_value(out[c])
                continue
            keys = []
            for t, text, interp in rows:
                if prop == "gain":
                    value = _gain(text, where, self)
                else:
                    nums = _numbers(text, where, self)
                    if not nums:
                        continue
                    value = convert(nums)
                keys.append(Key(t, value, interp, prop == "gain"))  # MLT ramps a gain's amplitude
            for c, kept in _drop_defaults({canon: keys}):
                yield c, kept, prop, _one_value(keys)

    def scale_tilt(self, props: dict, f_in: int, length: int, to_time, where: str):
        """frei0r's Crop, Scale and Tilt (Kdenlive's picture-in-picture before its transform; frei0r's
        scale0tilt.c): the frame drawn at 2 * "Scale X" ("Scale Y") of its size with its corner at
        (2 * "Tilt X" - 1) of the frame: scale 200 * "Scale X" %, centre 2 * "Tilt X" + "Scale X" - 1.5
        (y the same). The crops are not read."""
        series = []
        for name in SCALE_TILT:
            rows = self.animation(props[name], f_in, length, to_time, where)
            series.append([(t, nums[0], i) for t, text, i in rows if (nums := _numbers(text, where, self))])
        if not all(series):
            return
        out: dict[str, list[Key]] = {}
        for canon, a, b, prop in (
            ("scale", 0, 0, "Scale X"),
            ("center_x", 0, 2, "Tilt X"),
            ("center_y", 1, 3, "Tilt Y"),
        ):
            interp = {t: i for points in (series[a], series[b]) for t, _, i in points}  # their own key times
            for t in sorted(interp):
                size, tilt = (_lerp([(k, v) for k, v, _ in series[j]], t) for j in (a, b))
                value = 200.0 * size if canon == "scale" else 2 * tilt + size - 1.5
                out.setdefault(canon, []).append(Key(t, value, interp[t]))
            for c, keys in _drop_defaults({canon: out[canon]}):
                yield c, keys, prop, _one_value(out[canon])

    def decimals(self, text: str) -> str:
        """A property's text with decimal points where the document's locale writes decimal commas (not MLT 6's
        "x,y:wxh" geometry, whose comma parts fields)."""
        return text.replace(",", ".") if self.decimal_comma and not _COMMA_FIELDS.search(text) else text

    def animation(self, text: str, f_in: int, length: int, to_time, where: str):
        """(timeline seconds, value text, interpolation) per key of an animation string."""
        if "=" not in text:
            return [(to_time(f_in), text, "linear")]  # a plain static value
        rows = []
        for part in text.split(";") if not re.search(r"\d\d:\d\d:\d\d;\d", text) else _split_smpte(text):
            if not part.strip():
                continue
            m = _KEY.match(part)
            if m is None:
                raise self.error(where, f"not an animation key: {part.strip()[:40]!r}")
            frame = self.frames(m.group(1), where)
            if frame < 0:
                frame += length  # counts back from the end
            marker = m.group(2) or ""
            interp = "linear" if not marker else "hold" if marker in HOLD_MARKERS else "smooth"
            rows.append((to_time(f_in + frame), m.group(3), interp))
        return rows

    def rect(self, text: str, where: str, fit: _Fit | None = None) -> list[tuple[str, float]]:
        """Scale, centre and opacity of a rect ``x y w h [opacity]`` (pixels or percent of the profile).
        The picture fills the rect where ``fit`` distorts it, else it fits in, aligned as ``fit`` says."""
        vals = self.rect_values(text, where)
        if not vals:
            return []
        x, y, w, h = vals[:4]
        if fit is not None and not fit.distort and w > 0 and h > 0:
            a = fit.aspect  # the picture's shown height is min(h, w / a), in the rect and in the frame
            # MLT affine's fill: as high as the rect, or as wide where the picture is wider than the frame
            shown_h = (h if a <= self.width / self.height else w / a) if fit.fill else min(h, w / a)
            shown_w = shown_h * a
            x += (w - shown_w) * fit.halign / 2.0
            y += (h - shown_h) * fit.valign / 2.0
            w, h = shown_w, shown_h
            scale = shown_h / min(self.height, self.width / a) * 100.0
        else:
            scale = w / self.width * 100.0
        out = [
            ("scale", scale),
            ("center_x", (x + w / 2.0) / self.width - 0.5),
            ("center_y", (y + h / 2.0) / self.height - 0.5),
        ]
        if len(vals) > 4:
            out.append(("opacity", vals[4]))
        return out

    def rect_values(self, text: str, where: str) -> list[float]:
        """``x y w h`` in profile pixels and the opacity in percent where given; [] for fewer than four values."""
        parts = text.split()
        old = len(parts) < 4 and _OLD_GEOMETRY.match(text)
        if old:  # MLT 6's geometry "x/y:wxh[:mix]": the mix is a percent already
            parts = [g + "%" if i == 4 and not g.endswith("%") else g for i, g in enumerate(old.groups()) if g]
        if len(parts) < 4:
            return []
        vals = []
        for i, part in enumerate(parts[:5]):
            pct = part.endswith("%")
            try:
                v = bounded_float(part.rstrip("%"))
            except NumberError:
                raise self.error(where, f"rect value {text.strip()[:40]} is out of range") from None
            except ValueError:
                raise self.error(where, f"rect value is not a number: {text.strip()[:40]!r}") from None
            if pct and i < 4:
                v = v / 100.0 * (self.width if i % 2 == 0 else self.height)
            elif i == 4:
                v = v if pct else v * 100.0  # opacity percent
            vals.append(v)
        return vals

    def turn_about_corner(self, rect_rows, turn_rows, out: dict[str, list[Key]], where: str) -> None:
        """qtblend without ``rotate_center`` 1 (MLT's default, and Kdenlive's files before it wrote 1) turns the
        picture about the rect's top-left corner, not its centre: the centre moves on an arc, so ``out``'s centre
        keys are recomputed at both sides' key times and in steps of at most 15 degrees between them."""
        rects = [(t, vals[:4]) for t, text, _ in rect_rows if (vals := self.rect_values(text, where))]
        turns = [(t, nums[0]) for t, text, _ in turn_rows if (nums := _numbers(text, where, self))]
        if not rects or not turns or not any(abs(a) > 1e-9 for _, a in turns):
            return
        times = sorted({t for t, _ in rects} | {t for t, _ in turns})
        fine = [times[0]]
        for a, b in zip(times, times[1:]):
            steps = max(1, math.ceil(abs(_lerp(turns, b) - _lerp(turns, a)) / 15.0))
            fine += [a + (b - a) * Fraction(i, steps) for i in range(1, steps + 1)]
        out["center_x"], out["center_y"] = [], []
        for t in fine:
            x, y, w, h = (_lerp([(k, r[i]) for k, r in rects], t) for i in range(4))
            turn = math.radians(_lerp(turns, t))
            px = x + math.cos(turn) * w / 2.0 - math.sin(turn) * h / 2.0
            py = y + math.sin(turn) * w / 2.0 + math.cos(turn) * h / 2.0
            out["center_x"].append(Key(t, px / self.width - 0.5, "linear"))
            out["center_y"].append(Key(t, py / self.height - 0.5, "linear"))


def _lerp(points: list[tuple[Fraction, float]], t: Fraction) -> float:
    """The value at ``t`` of keys joined linearly (held before the first and after the last)."""
    if t <= points[0][0]:
        return points[0][1]
    for (t0, v0), (t1, v1) in zip(points, points[1:]):
        if t <= t1:
            return v0 + (v1 - v0) * float((t - t0) / (t1 - t0)) if t1 > t0 else v1
    return points[-1][1]


_ALIGN = {"left": 0, "top": 0, "center": 1, "centre": 1, "middle": 1, "right": 2, "bottom": 2}


class _Fit(NamedTuple):
    """How a rect places the picture: ``distort`` stretches it over the rect; otherwise it fits in the rect
    keeping its aspect (``aspect``: its width / height in profile pixels), aligned 0 left/top, 1 centre,
    2 right/bottom (qtblend and affine centre it; composite aligns it top-left unless told). With ``fill``
    (MLT affine's, 1 unless set to 0) it is as high as the rect, or as wide for a picture wider than the frame,
    whatever the rect's own shape (Shotcut's Fill mode): the same as fitting for a rect of the picture's shape."""

    distort: bool
    aspect: float
    halign: int
    valign: int
    fill: bool = False

    @staticmethod
    def of(props: dict, service: str, aspect: float) -> _Fit:
        def get(name: str) -> str:
            return (props.get(name) or props.get("transition." + name) or "").strip().lower()

        default = 0 if service == "composite" else 1

        def align(name: str) -> int:
            text = get(name)
            if text[:1].isdigit():
                return min(2, int(text[0]))
            return _ALIGN.get(text, default)

        fill = service == "affine" and get("fill") != "0"  # affine's default is 1 (Shotcut's Fit mode writes 0)
        return _Fit(get("distort") not in ("", "0"), aspect, align("halign"), align("valign"), fill)


def _lowers_opacity(text: str) -> bool:
    """A one-value brightness ``alpha`` that makes the picture see-through (Shotcut's Opacity at 64 %: "0.64"); 1
    changes nothing and Kdenlive's fades write -1 ("follow the level")."""
    try:
        return 0.0 <= bounded_float(text.strip()) < 1.0
    except ValueError:  # NumberError too: not a plain number, so not a one-value opacity
        return False


def _one_value(keys: list[Key]) -> float | None:
    """The value of a parameter set to one value (one key), else None."""
    return keys[0].value if len(keys) == 1 else None


def effect_name(f: etree._Element) -> str | None:
    """Kdenlive's effect id, Shotcut's filter name or the MLT service of an enabled filter (None
    for a disabled one and for Kdenlive's level meter, which changes nothing)."""
    props = {}  # properties(f) for the four names it needs (a filter has dozens of others)
    for p in f.iterchildren("property"):
        name = p.get("name")
        if name in _NAMING:
            props[name] = (p.text or "").strip()
    if props.get("disable") == "1" or props.get("mlt_service") in METERS:
        return None
    return props.get("kdenlive_id") or props.get("shotcut:filter") or props.get("mlt_service") or None


def within_zone(
    curves: dict[str, Curve],
    static: dict[str, float],
    clip: Clip,
    zone_in: Fraction,
    zone_end: Fraction | None,
    frame: Fraction,
) -> tuple[dict[str, Curve], dict[str, float]]:
    """What a filter or composition that acts only in its zone, [zone_in, zone_end), does to ``clip``.

    Where the zone holds the whole clip, its ``curves`` and ``static`` values as they are. Where the clip
    reaches beyond it, MLT does not run it there: each curve becomes the parameter's default (no change)
    up to the zone, held, then its own values, the last one held through the zone's last frame, then the
    default again (no key where the value at an edge is the default already); a parameter set to one value
    is no longer one value on this clip (``static`` keeps only the ones at their default)."""
    opens = zone_in > clip.start
    closes = zone_end is not None and zone_end < clip.end
    if not opens and not closes:
        return curves, static
    out: dict[str, Curve] = {}
    for canon, curve in curves.items():
        default = PARAMS[canon][0]
        keys = list(curve.keys)
        if opens:
            at = curve.value_at(zone_in)
            before = [Key(clip.start, default, "hold")] if abs(at - default) > 1e-9 else []
            keys = [*before, Key(zone_in, at, _interp_at(curve, zone_in)), *(k for k in keys if k.time > zone_in)]
        if closes:
            last = zone_end - frame
            at = curve.value_at(last)
            keys = [k for k in keys if k.time < last]
            if abs(at - default) > 1e-9:
                keys += [Key(last, at, "hold"), Key(zone_end, default, "linear")]
            else:
                keys.append(Key(last, at, _interp_at(curve, last)))
        out[canon] = Curve(keys)
    return out, {p: v for p, v in static.items() if p not in curves}


def _interp_at(curve: Curve, t: Fraction) -> str:
    """The interpolation of the curve's segment that holds ``t`` (linear before its first key)."""
    key = curve.key_at(t)
    return key.interp if key is not None else "linear"


def _merge(curves: dict[str, Curve], canon: str, keys: list[Key]) -> None:
    """Add keys for ``canon``. MLT runs a clip's filters one after another, so opacities multiply (a Transform's
    rect opacity under a fade) and levels add in dB (a volume under a fade), each curve holding its ends, which
    is the factor's default beyond a fade. For the other parameters the first curve wins, but keys wholly before
    or after it (a fade in and a fade out as two filters) join it."""
    old = curves.get(canon)
    if old is None:
        curves[canon] = Curve(keys)
    elif canon in _CHAINED:
        curves[canon] = _chained(old, Curve(keys), _CHAINED[canon])
    elif min(k.time for k in keys) > old.keys[-1].time or max(k.time for k in keys) < old.keys[0].time:
        curves[canon] = Curve(old.keys + keys)


_CHAINED = {
    "opacity": lambda a, b: a * b / 100.0,
    "level_db": add_db,  # a key at the floor (a -100 dB mute) stays silent under another filter's gain
}


def _chained(first: Curve, then: Curve, combine) -> Curve:
    """Two filters' curves of one parameter applied one after the other: ``combine`` of their values at every key
    time of either (of ``first`` alone where ``then`` holds one value: a Kdenlive fader on a track adds its dB to
    each clip's own keys, none before the clip); each segment takes the interpolation (and gain shape) of the
    curve that moves on it."""
    times = sorted({k.time for k in first.keys} | ({k.time for k in then.keys} if _moves(then) else set()))
    out = []
    for i, t in enumerate(times):
        nxt = times[i + 1] if i + 1 < len(times) else t
        moving = then if then.value_at(nxt) != then.value_at(t) else first
        governing = moving.key_at(t) or moving.keys[0]
        out.append(Key(t, combine(first.value_at(t), then.value_at(t)), governing.interp, governing.amplitude))
    return Curve(out)


def _split_smpte(text: str) -> list[str]:
    """Split keys on ``;`` when SMPTE times may use ``;`` as a separator too: a key ends before
    the next ``TIME=`` starts."""
    return re.split(r";(?=\s*-?[0-9:.;]+[^0-9:.;\s=]?=)", text)


def _moves(curve: Curve) -> bool:
    return len({k.value for k in curve.keys}) > 1


def _rotation_prop(props: dict) -> str | None:
    """The property holding a transform filter's turn in the screen's plane (degrees, clockwise), if any:
    qtblend's ``rotation``; MLT affine's ``transition.fix_rotate_x`` (Shotcut's Size, Position & Rotate, Kdenlive's
    Rotate), or its ``transition.rotate_x`` where ``transition.keyed`` makes that the angle itself (Kdenlive's
    Rotate (keyframable)). Affine's y and z turns tilt the picture out of the plane and are not read."""
    keyed = (props.get("transition.keyed") or "0").strip() == "1"
    return next((p for p in ROTATION_PROPS if p in props and (keyed or p != "transition.rotate_x")), None)


def _animated(text: str) -> bool:
    return ";" in text


def _numbers(text: str, where: str, reader: MltBase) -> list[float]:
    try:
        return leading_numbers(text)
    except NumberError as e:
        raise reader.error(where, f"value {e}") from None


def _gain(text: str, where: str, reader: MltBase) -> float:
    nums = _numbers(text, where, reader)
    if not nums:
        return 0.0
    return max(LEVEL_FLOOR_DB, nums[0]) if text.strip().lower().endswith("db") else gain_to_db(nums[0])


class ClipsByTime:
    """A track's clips, looked up by time: a playlist's clips follow one another (their starts and their ends
    never go back), so the clips that overlap a zone are one run found by bisection, not by comparing every
    clip with every filter and composition (quadratic: 2,000 clips under 1,000 compositions took 2 s). Clips in
    any other order are compared one by one."""

    def __init__(self, clips: list[Clip]) -> None:
        self.clips = clips
        self.starts = [c.start for c in clips]
        self.ends = [c.end for c in clips]
        self.in_order = all(a <= b for a, b in zip(self.starts, self.starts[1:])) and all(
            a <= b for a, b in zip(self.ends, self.ends[1:])
        )

    def overlapping(self, zone_in: Fraction, zone_out: Fraction | None) -> list[Clip]:
        """The clips that end after ``zone_in`` and start before ``zone_out`` (None: no end), in track order."""
        if not self.in_order:
            return [c for c in self.clips if c.end > zone_in and (zone_out is None or c.start < zone_out)]
        first = bisect_right(self.ends, zone_in)  # the first clip that ends after zone_in
        stop = len(self.clips) if zone_out is None else bisect_left(self.starts, zone_out)
        return self.clips[first:stop]


def _drop_defaults(found: dict[str, list[Key]]):
    """Keys all at the default value are no curve (untouched parameters, e.g. a full-frame rect):
    they come out with no keys, so the parameter's place is still known."""
    for canon, keys in found.items():
        if all(abs(k.value - PARAMS[canon][0]) < 1e-9 for k in keys):
            yield canon, []
            continue
        yield canon, keys
