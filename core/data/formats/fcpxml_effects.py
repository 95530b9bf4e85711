"""The FCPXML reader's effects: canonical curves, static values and parameter locations from the
``adjust-*`` and ``filter-*`` elements of a clip and its owners, fades included (the rules are in
``fcpxml.py``'s docstring).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from lxml import etree

from core.data.formats._compose import compose_into
from core.data.formats._source import display_aspect
from core.data.formats.fcpxml_base import STORY, FcpxmlBase
from core.data.timeline import LEVEL_FLOOR_DB, PARAMS, Clip, Curve, Key, ParamRef

EDGES = ("left", "top", "right", "bottom")  # a crop rectangle's insets
MOVED = ("scale", "center_x", "center_y")  # what a crop moves, in the order ``crop_stage`` computes them
AUDIO_ADJUSTMENTS = frozenset(
    ("adjust-volume", "adjust-panner", "adjust-loudness", "adjust-noiseReduction", "adjust-humReduction", "adjust-EQ",
     "adjust-matchEQ", "adjust-voiceIsolation")
)  # fmt: skip


class EffectReading(FcpxmlBase):
    """Reads the adjustments that apply to a clip (mixed into the FCPXML reader)."""

    def owners(self, el: etree._Element, shift: Fraction, where: str) -> list[tuple[etree._Element, Fraction]]:
        """Elements whose adjust-* children apply to ``el``, with their time shift: ``el`` first,
        then its channel sources, then its lane-less content (document order)."""
        out = [(el, shift)]
        for child in el.iterchildren("audio-channel-source", "audio-role-source"):
            out.append((child, shift))
        stack = [(c, shift) for c in reversed(el) if c.tag in STORY and c.get("lane") is None]
        while stack:
            child, parent_shift = stack.pop()
            child_shift = self.inner_shift(child, parent_shift, where)
            out.append((child, child_shift))
            for c in child.iterchildren("audio-channel-source", "audio-role-source"):
                out.append((c, child_shift))
            stack.extend((c, child_shift) for c in reversed(child) if c.tag in STORY and c.get("lane") is None)
        return out

    def effects(self, owners, params: tuple[str, ...], clip: Clip, where: str) -> None:
        """Fill ``clip``'s curves, static values, parameter locations and effect names from the
        owners' enabled ``adjust-*`` and ``filter-*`` elements; for each parameter the first owner
        that has it wins, but for the level: volumes at several stages (a clip's, its audio components' or
        roles', a multicam's and its angle's roles') add in dB."""
        curves, static, refs = clip.curves, clip.static, clip.param_refs
        audio = "level_db" in params
        for owner, shift in owners:
            found: dict[str, list[Key]] = {}
            stat: dict[str, float] = {}
            orefs: dict[str, ParamRef] = {}
            for adj in owner:
                tag = adj.tag
                if not isinstance(tag, str) or not (tag.startswith("adjust-") or tag.startswith("filter-")):
                    continue
                if adj.get("enabled", "1").strip() in ("0", "false"):
                    continue
                if (tag in AUDIO_ADJUSTMENTS or tag == "filter-audio") != audio:
                    continue
                clip.effects.append(self.effect_name(adj))
                ctx = _Param(shift, clip, found, stat, orefs, where)
                if tag == "adjust-transform":
                    self.transform(adj, ctx)
                elif tag == "adjust-blend":
                    self.param(adj, "amount", _scalar("opacity", lambda v: v * 100.0), ctx, fade=0.0)
                elif tag == "adjust-volume":
                    self.param(adj, "amount", _scalar("level_db", _db), ctx, fade=LEVEL_FLOOR_DB)
                elif tag == "adjust-panner":
                    self.panner(adj, ctx)
            staged = found.get("level_db") or "level_db" in stat
            if audio and staged and ("level_db" in curves or "level_db" in static):
                # volume at a second stage (the clip's and its audio components' or roles'): the levels add in dB
                stage = Clip(clip.name, clip.start, clip.end, clip.source_in)
                if found.get("level_db"):
                    stage.curves["level_db"] = Curve(found.pop("level_db"))
                if "level_db" in stat:
                    stage.static["level_db"] = stat.pop("level_db")
                compose_into(clip, stage)
            for canon, ref in orefs.items():
                if canon not in refs or (found.get(canon) and canon not in curves):
                    refs[canon] = ref  # the first owner that has it, or the one whose curve wins
            for canon, keys in found.items():
                if keys and canon not in curves:
                    curves[canon] = Curve(keys)
                    if canon in stat:
                        static[canon] = stat[canon]
                    else:
                        static.pop(canon, None)
            for canon, value in stat.items():
                if canon not in curves:
                    static.setdefault(canon, value)
        if audio:
            muted = self.mute_stage(owners, clip, where)
            if muted is not None:
                compose_into(clip, muted)

    def mute_stage(self, owners, clip: Clip, where: str) -> Clip | None:
        """The silence of the ``<mute>`` ranges of a clip's audio components or roles, as a level stage (0 dB
        outside, the floor inside, a component's ``fadeIn``/``fadeOut`` ramping the gain at the range's
        edges; hard edges step), or None without one. Times are the owner's local time."""
        ranges = []
        for owner, shift in owners:
            if owner.tag not in ("audio-channel-source", "audio-role-source"):
                continue
            for mute in owner.iterchildren("mute"):
                mwhere = f"{where}, {owner.tag}/mute"
                a = self.time(mute.get("start"), mwhere, "start", Fraction(0)) + shift
                b = a + self.time(mute.get("duration"), mwhere, "duration", Fraction(0))
                a, b = max(a, clip.start), min(b, clip.end)
                if b > a:
                    fades = {f.tag: self.time(f.get("duration"), mwhere, "fade duration", Fraction(0)) for f in mute}
                    fi = min(max(fades.get("fadeIn", Fraction(0)), Fraction(0)), b - a)
                    fo = min(max(fades.get("fadeOut", Fraction(0)), Fraction(0)), b - a - fi)
                    ranges.append((a, b, fi, fo))
        if not ranges:
            return None
        floor = LEVEL_FLOOR_DB
        keys = [Key(clip.start, 0.0, "hold")]
        for a, b, fi, fo in sorted(ranges):
            if a < keys[-1].time:  # overlapping ranges: the silence goes on
                a = keys[-1].time
                if a >= b:
                    continue
            keys = [k for k in keys if k.time < a]
            if fi:
                keys += [Key(a, 0.0, "linear", True), Key(a + fi, floor, "hold")]
            else:
                keys.append(Key(a, floor, "hold"))
            if fo:
                keys += [Key(b - fo, floor, "linear", True), Key(b, 0.0, "hold")]
            else:
                keys.append(Key(b, 0.0, "hold"))
        stage = Clip(clip.name, clip.start, clip.end, clip.source_in)
        stage.curves["level_db"] = Curve(keys)
        return stage

    def crop_stage(self, owners, clip: Clip, conform: Fraction, where: str) -> None:
        """FCP's Crop (``adjust-crop mode="crop"``: a rectangle of the frame's shape cut out and scaled to fill the
        frame) and Ken Burns (``mode="pan"``: from the first ``pan-rect`` at the clip's start to the second at its
        end, eased) as the scale and centre they show, under the clip's Transform (as a compound clip's
        adjustments over its content, ``_compose``). A rectangle's edges are insets in percent of the conformed
        picture's height (fit, unless ``adjust-conform`` says fill or none). Trim mode moves nothing."""
        crop = conform_type = None
        for owner, _ in owners:
            for adj in owner.iterchildren("adjust-crop", "adjust-conform"):
                if adj.get("enabled", "1").strip() in ("0", "false"):
                    continue
                if adj.tag == "adjust-conform":
                    conform_type = conform_type or (adj.get("type") or "fit").strip().lower()
                elif crop is None and (adj.get("mode") or "").strip().lower() in ("crop", "pan"):
                    crop = adj
        if crop is None:
            return
        cwhere = f"{where}, adjust-crop"
        width, height = self.frame_size
        # the picture's shape, the frame's where the source's is not known
        aspect = display_aspect(clip.source_width, clip.source_height, clip.source_pixel_aspect) or width / height
        shown = {"fill": max(height, width / aspect), "none": clip.source_height or height}.get(
            conform_type or "fit", min(height, width / aspect)
        )  # the conformed picture's height in frame pixels: 100 units of the edges

        def place(rect: etree._Element) -> list[float] | None:
            left, top, right, bottom = (self.numbers(rect.get(e, "0"), cwhere, e)[:1] or [0.0] for e in EDGES)
            w, h = 100.0 * aspect - left[0] - right[0], 100.0 - top[0] - bottom[0]
            if w <= 0 or h <= 0:
                return None
            k = max(width / (w * shown / 100.0), height / (h * shown / 100.0))
            cx, cy = (left[0] - right[0]) / 2.0, (top[0] - bottom[0]) / 2.0  # the rectangle's centre, units
            return [k * 100.0, 0.0 - k * cx * shown / 100.0 / width, 0.0 - k * cy * shown / 100.0 / height]

        pan = (crop.get("mode") or "").strip().lower() == "pan"
        rects = [place(r) for r in crop.iterchildren("pan-rect" if pan else "crop-rect")]
        if not rects or None in rects:
            return
        stage = Clip(clip.name, clip.start, clip.end, clip.source_in)
        if len(rects) == 1 or rects[0] == rects[-1]:
            stage.static = dict(zip(MOVED, rects[0]))
            for canon, value in stage.static.items():  # a value set: one key at the start, none at the default
                if abs(value - PARAMS[canon][0]) > 1e-9:
                    stage.curves[canon] = Curve([Key(clip.start, value, "smooth")])
        else:  # keys in the clip's local time, as the others before ``conformed`` moves them
            end = clip.start + (clip.end - clip.start) * conform
            for canon, a, b in zip(MOVED, rects[0], rects[-1]):
                stage.curves[canon] = Curve([Key(clip.start, a, "smooth"), Key(end, b, "smooth")])
        outer = Clip(clip.name, clip.start, clip.end, clip.source_in, param_refs=clip.param_refs)
        for canon in (*MOVED, "rotation"):
            if canon in clip.curves:
                outer.curves[canon] = clip.curves.pop(canon)
            if canon in clip.static:
                outer.static[canon] = clip.static.pop(canon)
        compose_into(stage, outer)
        clip.curves |= stage.curves
        clip.static |= stage.static

    def effect_name(self, adj: etree._Element) -> str:
        if adj.tag.startswith("filter-"):
            effect = self.ids.get(adj.get("ref") or "")
            return adj.get("name") or (effect.get("name") if effect is not None else None) or adj.tag
        if adj.tag == "adjust-conform" and adj.get("type"):
            return f"adjust-conform ({adj.get('type')})"  # fit / fill / none: it decides the scale seen
        return adj.tag

    def transform(self, adj, ctx: _Param) -> None:
        width, height = self.frame_size

        def scale(vals):
            return [("scale", vals[0] * 100.0)] if vals else []

        def position(vals):
            if len(vals) < 2:
                return []
            return [("center_x", vals[0] * height / (100.0 * width)), ("center_y", 0.0 - vals[1] / 100.0)]

        def rotation(vals):  # FCP X turns counter-clockwise for a positive angle (y up): canonical is clockwise
            return [("rotation", 0.0 - vals[0])] if vals else []

        self.param(adj, "scale", (scale, {"scale": None}), ctx)
        self.param(adj, "position", (position, {"center_x": "0", "center_y": "1"}), ctx)
        self.param(adj, "rotation", (rotation, {"rotation": None}), ctx)

    def panner(self, adj, ctx: _Param) -> None:
        """Stereo Left/Right mode (or no mode): ``amount`` -100 (left) .. 100 (right) is the pan.
        Surround modes pan with ``left_right_mix``; the other presets (Dialogue, Create Space, ...)
        spread sound rather than place it and give no pan."""
        mode = (adj.get("mode") or "").strip().lower()
        if not mode or mode.startswith("1") or "stereo left/right" in mode:
            pname = "amount"
        elif adj.get("left_right_mix") is not None or any(
            p.get("name") == "left_right_mix" for p in adj.iterchildren("param")
        ):
            pname = "left_right_mix"
        else:
            return
        self.param(adj, pname, _scalar("pan", lambda v: max(-1.0, min(1.0, v / 100.0))), ctx)

    def param(self, adj, pname: str, conversion, ctx: _Param, fade: float | None = None) -> None:
        """Keys of one parameter: ``<param>`` keyframes, 1.2 key lists, fades, or the static value.

        ``conversion`` is (values -> [(canonical, value)], {canonical: component}). Where the
        parameter lives goes to ``ctx.refs``, its one value (a plain value or a single key) to
        ``ctx.static``, its keys to ``ctx.found``. ``fade`` is the floor a fadeIn/fadeOut starts
        from or ends at (None: the parameter has no fades).
        """
        convert, canons = conversion
        where = f"{ctx.where}, {adj.tag}/{pname}"
        param = next((p for p in adj.iterchildren("param") if p.get("name") == pname), None)
        if param is not None:
            animated = param.find("keyframeAnimation") is not None or param.get("keyTimes") is not None
            path, attr = self.path(param), None if animated or param.get("value") is None else "value"
        elif adj.get(pname) is not None:
            path, attr = self.path(adj), pname
        else:
            path = None
        if path is not None:
            for canon, component in canons.items():
                ctx.refs.setdefault(canon, ParamRef(path, attr, component, self.path(adj)))
        rows: list[tuple[Fraction, list[tuple[str, float]], str]] = []
        if param is not None:
            anim = param.find("keyframeAnimation")
            if anim is not None:
                for kf in anim.iterchildren("keyframe"):
                    t = self.time(kf.get("time"), where, "keyframe time")
                    if t is None:
                        raise self.error(where, "keyframe without time")
                    rows.append((t + ctx.shift, convert(self.numbers(kf.get("value"), where, "value")), _interp(kf)))
            elif param.get("keyTimes") is not None:
                times = [x for x in param.get("keyTimes").split(";") if x.strip()]
                values = [x for x in (param.get("keyValues") or "").split(";") if x.strip()]
                if len(times) != len(values):
                    raise self.error(where, f"{len(times)} keyTimes but {len(values)} keyValues")
                for t, v in zip(times, values):
                    rows.append(
                        (
                            self.time(t, where, "keyTimes") + ctx.shift,
                            convert(self.numbers(v, where, "value")),
                            "smooth",
                        )
                    )
        keys: dict[str, list[Key]] = {}
        for t, values, interp in rows:
            for canon, value in values:
                keys.setdefault(canon, []).append(Key(t, value, interp))
        static: list[tuple[str, float]] = []
        if not rows:
            text = param.get("value") if param is not None and param.get("value") is not None else adj.get(pname)
            static = convert(self.numbers(text, where, "value"))
        fades = []
        if param is not None and fade is not None:
            for f in param.iterchildren("fadeIn", "fadeOut"):
                length = self.time(f.get("duration"), where, "fade duration", Fraction(0))
                interp = "linear" if (f.get("type") or "").lower() == "linear" else "smooth"
                fades.append((f.tag, length, interp))
        if fades:
            (canon,) = canons
            base = static[0][1] if static else PARAMS[canon][0]
            ctx.found[canon] = _faded(keys.get(canon, []), base, fades, canon, fade, ctx.clip.start, ctx.clip.end)
            return
        for canon, value in static:
            ctx.stat.setdefault(canon, value)
            if abs(value - PARAMS[canon][0]) > 1e-9:  # untouched parameters give no curve
                ctx.found.setdefault(canon, [Key(ctx.clip.start, value, "smooth")])
        for canon, canon_keys in keys.items():
            ctx.found.setdefault(canon, canon_keys)
            if len(canon_keys) == 1:
                ctx.stat.setdefault(canon, canon_keys[0].value)


@dataclass
class _Param:
    """Where one owner's parameters go while they are read (see ``EffectReading.param``)."""

    shift: Fraction
    clip: Clip
    found: dict[str, list[Key]]
    stat: dict[str, float]
    refs: dict[str, ParamRef]
    where: str


def _scalar(canon: str, convert):
    return (lambda vals: [(canon, convert(vals[0]))] if vals else []), {canon: None}


def _faded(keys: list[Key], base: float, fades, canon: str, floor: float, start: Fraction, end: Fraction) -> list[Key]:
    """A parameter's keys with FCP X's fades applied on top (issue 7.3).

    Without keys the fade ramps between the floor and the static value ``base``. With keys the
    fade scales them: within a fade the value is the key curve times the fade's progress g
    (opacity) or plus 20*log10(g) dB (volume), with a key at each end of the fade. A volume fade's keys ramp
    the gain (``Key.amplitude``): half-way through a linear fade in from silence is -6 dB, not half the floor.
    """
    spans = {tag: (length, interp) for tag, length, interp in fades}
    shaped = canon == "level_db"  # a volume fade ramps the gain from silence (Key.amplitude)
    if not keys:
        out = []
        if "fadeIn" in spans:
            length, interp = spans["fadeIn"]
            out += [Key(start, floor, interp, shaped), Key(start + length, base, interp)]
        if "fadeOut" in spans:
            length, interp = spans["fadeOut"]
            out += [Key(end - length, base, interp, shaped), Key(end, floor, interp)]
        return out
    curve = Curve(keys)
    in_end = start + spans["fadeIn"][0] if "fadeIn" in spans else None
    out_start = end - spans["fadeOut"][0] if "fadeOut" in spans else None

    def scaled(value: float, g: float) -> float:
        if canon == "level_db":
            return floor if g <= 0 or value <= floor else max(floor, value + 20.0 * math.log10(g))
        return value * g

    def gain(t: Fraction) -> float:
        g = 1.0
        if in_end is not None and t < in_end:
            g *= max(0.0, float((t - start) / (in_end - start))) if in_end > start else 1.0
        if out_start is not None and t > out_start:
            g *= max(0.0, float((end - t) / (end - out_start))) if end > out_start else 1.0
        return g

    out = []
    if in_end is not None:
        out.append(Key(start, floor, spans["fadeIn"][1], shaped))
        out.append(Key(in_end, curve.value_at(in_end), _interp_at(curve, in_end)))
    for k in keys:
        if (in_end is not None and k.time <= in_end) or (out_start is not None and k.time >= out_start):
            if start < k.time < end and k.time not in (in_end, out_start):
                fading = in_end is not None and k.time < in_end
                out.append(Key(k.time, scaled(k.value, gain(k.time)), k.interp, shaped and fading))
            continue
        out.append(k)
    if out_start is not None:
        out = [Key(k.time, k.value, k.interp, shaped) if k.time >= out_start else k for k in out]
        out.append(Key(out_start, curve.value_at(out_start), spans["fadeOut"][1], shaped))
        out.append(Key(end, floor, spans["fadeOut"][1]))
    return sorted(out, key=lambda k: k.time)


def _interp_at(curve: Curve, t: Fraction) -> str:
    """The interpolation governing time ``t`` of ``curve`` (that of the last key at or before it, else the first)."""
    return (curve.key_at(t) or curve.keys[0]).interp


def _db(value: float) -> float:
    return max(LEVEL_FLOOR_DB, value)


def _interp(kf: etree._Element) -> str:
    curve = (kf.get("curve") or "").strip().lower()
    if curve in ("linear", "smooth"):
        return curve
    interp = (kf.get("interp") or "").strip().lower()
    if interp == "linear":
        return "linear"
    return "smooth"  # ease, easeIn, easeOut, or nothing: the DTD's default curve is smooth
