"""The xmeml reader's filters: canonical curves and static values from a clipitem's ``<filter>``s,
Premiere's Audio Gain and the ``timeremap`` retiming (the rules are in ``xmeml.py``'s docstring).
"""

from __future__ import annotations

from fractions import Fraction

from lxml import etree

from core.data.formats._numbers import frames_to_seconds
from core.data.formats._xml import child_map, child_map_gather, child_path, first_text, kid_text, xml_bool
from core.data.formats.xmeml_base import XmemlBase
from core.data.timeline import PARAMS, Curve, Key, ParamRef, add_db, gain_to_db

GAIN_EFFECT = "{61756678,4761696e,4b657947}"  # Premiere's Audio Gain ("aufx", "Gain", "KeyG"), spaces dropped

# Older FCP7 files name some effects without an id; map the names we rely on.
EFFECT_NAME_IDS = {
    "basic motion": "basic",
    "opacity": "opacity",
    "audio levels": "audiolevels",
    "audio pan": "audiopan",
    "gain": GAIN_EFFECT,  # msub20001812aa: Premiere's Gain without an effectid
}


def _identity(v: float) -> float:
    return v


# (effectid, parameterid) -> [(canonical parameter, value component or None, unit conversion)]
PARAM_MAP: dict[tuple[str, str], list[tuple[str, str | None, object]]] = {
    ("basic", "scale"): [("scale", None, _identity)],
    ("basic", "rotation"): [("rotation", None, _identity)],
    ("basic", "center"): [("center_x", "horiz", _identity), ("center_y", "vert", _identity)],
    ("opacity", "opacity"): [("opacity", None, _identity)],
    ("audiolevels", "level"): [("level_db", None, gain_to_db)],
    ("audiopan", "pan"): [("pan", None, _identity)],
}


_COMPONENT_WHAT = {"horiz": "value/horiz", "vert": "value/vert"}  # what an error names, built once
MAPPED_EFFECTS = frozenset(effect for effect, _ in PARAM_MAP)  # never "timeremap": retiming is not an effect


class _Filters:
    """What one clipitem's filters say (see ``FilterReading.read_filters``); a plain class, one per clip."""

    __slots__ = ("curves", "static", "refs", "effects", "gain_db", "speed", "time_remap", "aspect")

    def __init__(self) -> None:
        self.curves: dict[str, Curve] = {}
        self.static: dict[str, float] = {}
        self.refs: dict[str, ParamRef] = {}
        self.effects: list[str] = []
        self.gain_db: float | None = None
        self.speed = 1.0  # no timeremap filter: normal speed
        self.time_remap = False
        self.aspect: float | None = None  # FCP 7's Distort aspect (percent), where not 0


class FilterReading(XmemlBase):
    """Reads what a clipitem's enabled filters say (mixed into the xmeml reader)."""

    def read_filters(
        self,
        filter_els: list[etree._Element],
        path: str,
        unit: Fraction,
        anchor: tuple,
        src_in: int | Fraction,
        start_s: Fraction,
        where: str,
    ) -> _Filters:
        """What the clip's enabled filters (``filter_els``, its <filter> children) say: canonical curves
        (keys in timeline seconds), static values, where each parameter lives, effect names, Premiere's
        gain and the retiming."""
        out = _Filters()
        curves, static, refs = out.curves, out.static, out.refs
        level_filter = None  # the filter whose Audio Levels give the level; later ones add as a gain
        for number, filter_el in enumerate(filter_els, 1):
            enabled = effect = None
            effects = 0
            for child in filter_el:  # <enabled> and <effect>, without a dict of every child
                tag = child.tag
                if tag == "effect":
                    effect = child if effect is None else effect
                    effects += 1
                elif tag == "enabled":
                    enabled = child.text
            if effect is None or not xml_bool(enabled, True):
                continue  # FCP7 writes disabled Motion-tab filters; they do nothing
            # <name> and <effectid> come before the parameters: stop there instead of visiting them all
            effect_name = effect_id = first_param = None
            effect_children = iter(effect)  # left at the first parameter, for the parameters below
            for child in effect_children:
                tag = child.tag
                if tag == "name":
                    effect_name = child.text
                elif tag == "effectid":
                    effect_id = child.text
                elif tag == "parameter":
                    first_param = child
                    break
            known = self.effect_names.get((effect_name, effect_id))
            if known is None:  # a handful of distinct effects per document: normalise each once
                known = self.effect_names[(effect_name, effect_id)] = _effect(effect_name, effect_id)
            effect_name, effect_id, is_gain = known
            if effect_id == "timeremap":  # retiming, not an effect
                self.read_timeremap(effect, out, where)
                continue
            out.effects.append(effect_name or effect_id)
            if is_gain:
                filter_path = child_path(path, "filter", number, len(filter_els))
                self.read_gain(effect, out, where, filter_path if effects == 1 else None)
                continue
            if effect_id == "deformation":  # FCP 7 writes Distort on every clip, mostly at its defaults
                if out.aspect is None:  # the first with an aspect (two never seen)
                    out.aspect = distort_aspect(effect, self.number, where)
                continue
            # Unmapped effects (colour correctors with dozens of parameters) are skipped before
            # their parameters are visited.
            if effect_id not in MAPPED_EFFECTS:
                continue
            filter_path = child_path(path, "filter", number, len(filter_els))
            if first_param is None:
                continue
            # The parameters from the first one on, without visiting <name>, <effectid>... again.
            params = [first_param]
            for child in effect_children:
                if child.tag == "parameter":
                    params.append(child)
            for param_number, param in enumerate(params, 1):
                # One pass over the parameter: its id, the first child of each tag and every <keyframe>
                # (the id comes first or second; an unmapped parameter's extra visits cost less than a
                # second pass over every mapped one).
                param_kids, keyframes = child_map_gather(param, "keyframe")
                param_id = (kid_text(param_kids, "parameterid") or "").strip()
                targets = self.param_targets.get((effect_id, param_id))
                if targets is None:
                    targets = self.param_targets[(effect_id, param_id)] = PARAM_MAP.get((effect_id, param_id.lower()))
                if not targets or (curves and all(t[0] in curves and t[0] != "level_db" for t in targets)):
                    continue
                if effects == 1:
                    param_path = child_path(f"{filter_path}/effect", "parameter", param_number, len(params))
                else:  # never seen: let lxml index the effects
                    param_path = self.getpath(param)
                for canon, component, _ in targets:
                    if canon not in refs:
                        refs[canon] = ParamRef(param_path, None, component, filter_path)
                pwhere = f"{where}, {effect_id}/{param_id}"
                if keyframes:
                    rows = self.read_parameter(keyframes, param_kids, targets, unit, anchor, src_in, start_s, pwhere)
                else:
                    rows = self.static_parameter(param_kids, targets, start_s, pwhere)
                for canon, keys, value in rows:
                    if canon == "level_db" and (keys or value is not None):
                        if level_filter is not None and level_filter != number:
                            self.stack_level(out, keys, value, param_path, filter_path)
                            continue
                        level_filter = number
                    if canon in curves:
                        continue  # the first filter with keys wins
                    if keys:
                        curves[canon] = Curve(keys)
                        if refs[canon].path != param_path:  # the curve's element
                            refs[canon] = ParamRef(param_path, None, refs[canon].component, filter_path)
                        if value is None:
                            static.pop(canon, None)
                        else:
                            static[canon] = value
                    elif value is not None:
                        static.setdefault(canon, value)
        if out.gain_db is not None:
            self.apply_gain(out, start_s)
        if out.aspect is not None and out.aspect < 0:
            self.apply_aspect(out, start_s)
        return out

    @staticmethod
    def apply_aspect(out: _Filters, start_s: Fraction) -> None:
        """FCP 7's Distort aspect ``a`` < 0 squeezes the picture's height by 1 - a/100 (its manual: "squeeze a clip
        horizontally or vertically ... never increases a clip's size"), and FCP 7 sets it so to conform a source's
        pixel aspect: 720x576 in 1920x1080 at scale 266.667 and aspect -42.2222 (1 - 64/45) shows 1920x1080,
        the picture Premiere writes as 187.5 %. The scale read is the height's, scale / (1 - a/100): the one
        factor of a picture conformed so, and of its pixel-aspect-corrected shape, as Premiere counts it. A
        positive aspect squeezes the width and leaves the height at the scale."""
        factor = 1.0 / (1.0 - out.aspect / 100.0)
        curve = out.curves.get("scale")
        value = out.static.get("scale", PARAMS["scale"][0] if curve is None else None)
        if value is not None:
            out.static["scale"] = value * factor
        if curve is not None:
            out.curves["scale"] = curve.map_values(lambda v: v * factor)
        elif abs(out.static["scale"] - PARAMS["scale"][0]) > 1e-9:
            out.curves["scale"] = Curve([Key(start_s, out.static["scale"], "linear")])

    def read_gain(self, effect: etree._Element, out: _Filters, where: str, filter_path: str | None) -> None:
        """Premiere's Audio Gain: a static dB value (several gain effects add up). ``filter_path``: the
        path of its <filter> when that holds one <effect> (the parameter's path follows), else None."""
        params = list(effect.iterchildren("parameter"))
        for param_number, param in enumerate(params, 1):
            kids = child_map(param)
            if (kid_text(kids, "parameterid") or "").strip().lower() != "gain(db)":
                continue
            # Never keyframed in real files; if it were, its first key stands for the clip.
            value_el = child_map(kids["keyframe"]).get("value") if "keyframe" in kids else kids.get("value")
            value = self.number(value_el.text if value_el is not None else None, f"{where}, Gain", "Gain(dB)")
            if value is not None:
                out.gain_db = (out.gain_db or 0.0) + value
                if "gain_db" in out.refs:
                    continue
                if filter_path is None:  # never seen: let lxml index the effects
                    ref = ParamRef(self.getpath(param), None, None, self.getpath(effect.getparent()))
                else:  # getpath costs microseconds per call in large documents
                    param_path = child_path(f"{filter_path}/effect", "parameter", param_number, len(params))
                    ref = ParamRef(param_path, None, None, filter_path)
                out.refs["gain_db"] = ref

    @staticmethod
    def stack_level(out: _Filters, keys: list[Key], value: float | None, param_path: str, filter_path: str) -> None:
        """A second Audio Levels filter on a clip: Premiere exports a clip's gain so, and plays the two summed
        (dB add). One value adds to ``gain_db``; keys take the level's place when the first filter's level is
        one value (which becomes the gain); a second curve over a first is left out (never seen)."""
        if value is not None:
            if abs(value) > 1e-12:
                out.gain_db = (out.gain_db or 0.0) + value
            return
        if "level_db" in out.curves and len(out.curves["level_db"]) > 1:
            return
        first = out.static.pop("level_db", 0.0)
        if abs(first) > 1e-12:
            out.gain_db = (out.gain_db or 0.0) + first
        out.curves["level_db"] = Curve(keys)
        out.refs["level_db"] = ParamRef(param_path, None, out.refs["level_db"].component, filter_path)

    @staticmethod
    def apply_gain(out: _Filters, start_s: Fraction) -> None:
        """The level heard is the clip gain plus the Audio Levels volume (dB add); silence stays silent."""
        gain, curves, static = out.gain_db, out.curves, out.static
        curve = curves.get("level_db")
        if "level_db" in static or curve is None:
            static["level_db"] = add_db(static.get("level_db", 0.0), gain)
        if curve is not None:
            curves["level_db"] = curve.map_values(lambda v: add_db(v, gain))
        elif abs(static["level_db"]) > 1e-9:
            curves["level_db"] = Curve([Key(start_s, static["level_db"], "linear")])

    def read_timeremap(self, effect: etree._Element, out: _Filters, where: str) -> None:
        """``speed`` (percent) and ``reverse`` give Clip.speed; ``variablespeed`` 1 is a remap curve."""
        values = {}
        for param in effect.iterchildren("parameter"):
            kids = child_map(param)
            pid = (kid_text(kids, "parameterid") or "").strip().lower()
            if pid in ("speed", "reverse", "variablespeed"):
                values[pid] = (kid_text(kids, "value") or "").strip()
        speed = self.number(values.get("speed"), f"{where}, timeremap", "speed")
        if speed is not None:
            out.speed = speed / 100.0 * (-1.0 if xml_bool(values.get("reverse"), False) else 1.0)
        out.time_remap = values.get("variablespeed", "0").lower() in ("1", "true")

    def read_parameter(self, keyframes, param_kids, targets, unit, anchor, src_in, start_s, where):
        """(canonical name, keys, static value or None) for each target of a keyframed <parameter>
        (its <keyframe> children and its first child per tag); ``static_parameter`` reads the others.

        Keys are what the curve gets (a plain value only when it differs from the default); the
        static value is the parameter's one value (a plain value or a single key), else None.
        """
        anchor_frames, anchor_s, frames_only = anchor
        # <when> counts source frames in ``unit``: timeline = anchor + (when - in).
        # Keys outside the clip are kept; the curve holds its end values.
        rows = []
        handles = []  # per key: (incoming, outgoing) Bezier handle
        for kf in keyframes:
            when_text = value_el = None
            incoming = outgoing = False
            for child in kf:  # a few children each: no dict
                tag = child.tag
                if tag == "when":
                    when_text = child.text if when_text is None else when_text
                elif tag == "value":
                    value_el = child if value_el is None else value_el
                elif tag == "inbez" or tag == "inscale":
                    incoming = True
                elif tag == "outbez" or tag == "outscale":
                    outgoing = True
            when = self.frames(when_text, where, "when")
            if when is None or value_el is None:
                raise self.error(where, "keyframe without <when> or <value>")
            if frames_only and type(when) is int:
                t = frames_to_seconds(anchor_frames + when - src_in, unit)
            else:
                t = anchor_s + frames_to_seconds(when - src_in, unit)
            rows.append((t, value_el))
            handles.append((incoming, outgoing))
        # FCP 7 smooths a key by giving it Bezier handles (one-sided on a group's first and last keys): the segment
        # after key i is a curve where key i has an outgoing handle or key i + 1 an incoming one, else a straight
        # line, and the last key (no segment follows) is smooth where it was smoothed. ``FCPCurve``, which FCP 7
        # writes on every keyed parameter, smoothed or not, says nothing (its manual: audio levels cannot be smoothed)
        last = len(handles) - 1
        interps = [
            "smooth" if out or (i < last and handles[i + 1][0]) or (i == last and inc) else "linear"
            for i, (inc, out) in enumerate(handles)
        ]
        out = []
        for canon, component, convert in targets:
            keys = []
            for (t, value_el), interp in zip(rows, interps):
                value = self.component(value_el, component, where)
                if value is not None:
                    keys.append(Key(t, convert(value), interp))
            out.append((canon, keys, keys[0].value if len(keys) == 1 else None))
        return out

    def static_parameter(self, param_kids, targets, start_s, where):
        """``read_parameter`` for a <parameter> without keyframes: its plain ``<value>`` (the common case)."""
        value_el = param_kids.get("value")
        if value_el is None:
            return ()
        out = []
        for canon, component, convert in targets:
            value = self.component(value_el, component, where)
            if value is None:
                continue
            value = convert(value)
            # untouched parameters give no curve, but their value is still stated
            keys = [Key(start_s, value)] if abs(value - PARAMS[canon][0]) > 1e-9 else []
            out.append((canon, keys, value))
        return out

    def component(self, value_el: etree._Element, component: str | None, where: str) -> float | None:
        if component is None:
            return self.number(value_el.text, where, "value")
        return self.number(first_text(value_el, component), where, _COMPONENT_WHAT[component])


def _effect(name: str | None, ident: str | None) -> tuple[str, str, bool]:
    """(display name, normalised effect id, is Premiere's Audio Gain) from the texts of <name> and <effectid>."""
    name = (name or "").strip()
    ident = (ident or "").strip().lower()
    if not ident:
        ident = EFFECT_NAME_IDS.get(name.lower(), "")
    return name, ident, ident.replace(" ", "") == GAIN_EFFECT


def distort_aspect(effect: etree._Element, number, where: str) -> float | None:
    """The ``aspect`` of an FCP 7 Distort effect (``deformation``), percent: its plain value, or its first key's
    (never seen keyed); None where it is 0 or missing. ``number``: the reader's number parser."""
    for param in effect.iterchildren("parameter"):
        kids = child_map(param)
        if (kid_text(kids, "parameterid") or "").strip().lower() != "aspect":
            continue
        value_el = child_map(kids["keyframe"]).get("value") if "keyframe" in kids else kids.get("value")
        value = number(value_el.text if value_el is not None else None, f"{where}, Distort", "aspect")
        return value if value else None
    return None
