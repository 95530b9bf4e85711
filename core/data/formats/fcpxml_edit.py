"""Write predicted curves into an FCPXML document in place (see ``core.data.formats._edit``).

Where a parameter goes: ``adjust-transform`` (``scale "s s"`` = scale / 100, ``position "x y"``
in percent of the frame height with y up, ``rotation`` degrees counter-clockwise), ``adjust-blend amount``
(opacity / 100), ``adjust-volume amount`` ("NdB"; the -60 dB floor is written -96dB, FCP X's
silence) and ``adjust-panner amount`` (pan * 100, Stereo Left/Right). The adjustment is the clip
element's own: the one the reader found for the parameter (a static default) when it sits on the
clip element, else the clip element's enabled one of that kind, else a new one placed in the
DTD's order (intrinsic video parameters, then audio ones, before connected clips, markers and
filters). Keys are ``<param name><keyframeAnimation><keyframe time value curve>`` in the clip
element's local time (``timeline - (start - source_in)``), on frames of the sequence rate;
``curve`` says linear or smooth; hold keys are emulated (see ``_edit``). A document written
with FCPXML 1.2's ``keyTimes``/``keyValues`` lists (and no ``keyframeAnimation``) gets lists.
A position component whose partner is given goes into the partner's static value.

Compound and multicam clips: a content's own element is the shared media every use of the
container plays, so its curves go on the container (``ref-clip``; for a multicam, the ``mc-clip``
for sound and, for picture, the ``mc-source`` that picks its video angle, where the DTD puts them
since 1.10 at the latest, or the mc-clip itself in a document that keeps them there, as FCPXML 1.2
does), in the container's time, where the reader composes them with the content's; only when
the content is the container's one clip of its kind and sits in the container's top storyline.
Where compound clips play media nothing else plays (an edit nested whole in a compound), each
content's curves go into its own element in the media instead, but for the parameters a compound
sets itself (the reader composes those on top). A scale on a container scales its content's offset
from the centre with it, so where the content sits off the centre by its own position a predicted scale
goes into the content's own element where the compound is used once, and is not written otherwise.
Not written: other contents of compound or
multicam clips, picture parameters of a multicam with no mc-source for its video angle, and pan
on an ``<audio>`` element (the DTD has no place for them).
"""

from __future__ import annotations

import re
from collections import Counter
from fractions import Fraction

from lxml import etree

from core.data.formats._edit import (
    STATIC_NOTE,
    Locator,
    frame_keys,
    joint_rows,
    number_text,
    place,
)
from core.data.formats.fcpxml import _Reader
from core.data.formats.fcpxml_source import angle_sources
from core.data.timeline import AUDIO_PARAMS, LEVEL_FLOOR_DB, PARAMS, VIDEO_PARAMS, Clip, Curve, Timeline

VIDEO_ORDER = (
    "object-tracker",
    "adjust-crop",
    "adjust-corners",
    "adjust-conform",
    "adjust-transform",
    "adjust-blend",
    "adjust-stabilization",
    "adjust-rollingShutter",
    "adjust-360-transform",
    "adjust-reorient",
    "adjust-orientation",
    "adjust-cinematic",
    "adjust-colorConform",
    "adjust-stereo-3D",
)
AUDIO_ORDER = (
    "adjust-loudness",
    "adjust-noiseReduction",
    "adjust-humReduction",
    "adjust-EQ",
    "adjust-matchEQ",
    "adjust-voiceIsolation",
    "adjust-volume",
    "adjust-panner",
)
INTRINSIC = VIDEO_ORDER + AUDIO_ORDER
LEADING = frozenset(("note", "conform-rate", "timeMap", "param", "text", "text-style-def"))  # before intrinsics
CENTER = ("center_x", "center_y")
ON_TOP = "the compound clip sets {} itself, on top of its contents: not written"
MOVES_CONTENT = "a scale on the compound or multicam clip would move its content off its place: not written"
# canonical parameter -> (adjustment, param name)
PLACES = {
    "scale": ("adjust-transform", "scale"),
    "rotation": ("adjust-transform", "rotation"),
    "center_x": ("adjust-transform", "position"),
    "center_y": ("adjust-transform", "position"),
    "opacity": ("adjust-blend", "amount"),
    "level_db": ("adjust-volume", "amount"),
    "pan": ("adjust-panner", "amount"),
}
ALLOWED = {  # adjustments each story element may hold (FCPXML DTD)
    "mc-clip": frozenset(AUDIO_ORDER),
    "mc-source": frozenset(VIDEO_ORDER),
    "audio": frozenset(("adjust-volume",)),
    "video": frozenset(VIDEO_ORDER),
    "title": frozenset(VIDEO_ORDER),
}


class ClipWriter:
    """Writes clips' predicted curves into one document (``_edit.write_back`` drives it)."""

    def __init__(self, tree: etree._ElementTree, name: str) -> None:
        self.doc = Locator(tree)
        root = tree.getroot()
        self.reader = _Reader(root, name)  # the reader's own time parsing
        # FCPXML 1.2 files key with attribute lists; later ones with keyframeAnimation
        self.lists = root.find(".//keyframeAnimation") is None and root.find(".//param[@keyTimes]") is not None
        # id(timeline) -> ((container path, kind) -> clips, id(clip) -> its track's kind)
        self.contents: dict[int, tuple[Counter, dict[int, str]]] = {}
        self.multicam_style: str | None = None  # where the document keeps a multicam's picture adjustments
        self.ref_uses: Counter | None = None  # media id -> the ref-clips that play it

    def write(self, tl: Timeline, clip: Clip, curves: dict[str, Curve]) -> list[tuple[str, int, str]]:
        """Write one clip's curves; (parameter, keys written, note) per parameter."""
        # what reading the sequence set: the frame positions count in, the rate a conform-rate conforms to
        self.reader.frame_size, self.reader.seq_rate = (tl.width, tl.height), tl.rate
        target = self.target(tl, clip)
        moves = not isinstance(target, str) and "scale" in curves and self.content_offset(tl, clip)
        if isinstance(target, str) or moves:
            target = self.inside_single_use(tl, clip) or target
        if isinstance(target, str):
            return [(p, 0, target) for p in curves]
        el, shift, allowed, *single_use = target
        on_top = single_use[0] if single_use else set()  # a single-use compound's own parameters
        out = [(p, 0, ON_TOP.format(p)) for p in curves if p in on_top]
        if moves and not single_use:  # a container's scale scales its content's offset (``_compose``)
            out.append(("scale", 0, MOVES_CONTENT))
            on_top = on_top | {"scale"}
        curves = {p: c for p, c in curves.items() if p not in on_top}
        # inside a single-use compound a clip is written in its own element, as a clip outside any
        into_container = bool(clip.xml_context) and not single_use
        conform = Fraction(1) if into_container else self.reader.conform(el)  # its local time is the media's
        writer = _Clip(self.doc, tl, clip, el, shift, allowed, self.lists, into_container, conform)
        return out + writer.write(curves)

    def inside_single_use(self, tl: Timeline, clip: Clip):
        """(its own element, time shift, adjustments allowed, parameters the compounds set) for a clip inside
        compound clips whose media only they use (an edit nested whole in a compound): its element in the
        media plays nowhere else, so its curves can go there. A parameter a compound sets itself is left
        out: the reader composes the compound's on top, so what is written would not read back as predicted."""
        if not all(c.rsplit("/", 1)[-1].startswith("ref-clip") for c in clip.xml_context):
            return None
        containers = [self.doc.find(c) for c in clip.xml_context]
        el = self.doc.find(clip.xml_path)
        if el is None or any(c is None or self.uses(c.get("ref")) != 1 for c in containers):
            return None
        on_top = set()
        for container in containers:  # what each compound's own adjustments set (the reader's own reading)
            found = Clip("", Fraction(0), Fraction(0))
            for params in (VIDEO_PARAMS, AUDIO_PARAMS):
                self.reader.effects([(container, Fraction(0))], params, found, "compound")
            on_top |= {p for p, v in found.static.items() if abs(v - PARAMS[p][0]) > 1e-9} | set(found.curves)
        return el, clip.start - clip.source_in, ALLOWED.get(el.tag, frozenset(INTRINSIC)), on_top

    def content_offset(self, tl: Timeline, clip: Clip) -> bool:
        """Whether a clip inside a container sits off the centre by its own element's position (a scale
        written on the container would move it there)."""
        if not clip.xml_context:
            return False
        inner = self.doc.find(clip.xml_path)
        if inner is None:
            return False
        own = Clip("", Fraction(0), Fraction(0))
        self.reader.effects([(inner, Fraction(0))], VIDEO_PARAMS, own, "content")
        return any(c in own.curves or abs(own.static.get(c, 0.0)) > 1e-12 for c in CENTER)

    def uses(self, media: str | None) -> int:
        """How many ``ref-clip``s of the document play the media ``media``."""
        if self.ref_uses is None:
            self.ref_uses = Counter(r.get("ref") for r in self.doc.root.iter("ref-clip"))
        return self.ref_uses[media] if media else 0

    def target(self, tl: Timeline, clip: Clip):
        """(element, its time shift, adjustments allowed) to write ``clip``'s curves into, or why none.

        A clip's own element, or for the one content of its kind of a compound or multicam clip,
        the container (its adjustments apply on top of the content's, as the reader composes them).
        """
        if not clip.xml_context:
            el = self.doc.find(clip.xml_path)
            if el is None:
                return "clip element not found"
            return el, clip.start - clip.source_in, ALLOWED.get(el.tag, frozenset(INTRINSIC))
        shared = "inside a compound or multicam clip with other content: not written"
        if len(clip.xml_context) != 1:
            return shared
        contents = self.contents.get(id(tl))
        if contents is None:
            counts = Counter((c.xml_context, t.kind) for t, c in tl.iter_clips())
            contents = self.contents[id(tl)] = (counts, {id(c): t.kind for t, c in tl.iter_clips()})
        counts, kinds = contents
        kind = kinds[id(clip)]
        container, inner = self.doc.find(clip.xml_context[0]), self.doc.find(clip.xml_path)
        if counts[(clip.xml_context, kind)] != 1 or container is None or inner is None:
            return shared
        parent = inner.getparent()
        top = parent is not None and (
            parent.tag == "mc-angle" or (parent.tag == "spine" and parent.getparent().tag == "sequence")
        )
        if not top or inner.get("offset") is None:
            return shared
        where = f"{inner.tag} {inner.get('name') or ''}"
        offset = self.reader.time(inner.get("offset"), where, "offset")
        start = self.reader.time(inner.get("start"), where, "start", Fraction(0))
        # the content's shift is offset + container shift - start (the reader plays it that way)
        shift = clip.start - clip.source_in - offset + start
        if container.tag == "mc-clip":  # the container's own time is multicam time: the angle's + its tcStart
            media = self.reader.ids.get(container.get("ref") or "")
            multicam = media.find("multicam") if media is not None else None
            if multicam is not None:
                shift -= self.reader.time(multicam.get("tcStart"), where, "tcStart", Fraction(0))
        if container.tag == "mc-clip" and kind == "video":
            if self.picture_on_mc_clip(container):
                return container, shift, frozenset(INTRINSIC)
            source = angle_sources(container).get("video")
            if source is None:
                return "<mc-clip> has no <mc-source> for its video angle: not written"
            return source, shift, ALLOWED["mc-source"]
        allowed = ALLOWED.get(container.tag, frozenset(INTRINSIC))
        return container, shift, allowed

    def picture_on_mc_clip(self, mc_clip: etree._Element) -> bool:
        """Whether this document keeps a multicam's picture adjustments on the ``mc-clip`` (FCPXML 1.2 does,
        BRENNER's export) rather than in the ``mc-source`` of its video angle (the DTD since 1.10 at the latest):
        as this mc-clip does, else as the document's other multicams do, else by the document's version."""
        if any(c.tag in VIDEO_ORDER for c in mc_clip):
            return True
        if self.multicam_style is None:
            root = self.doc.root
            if any(c.tag in VIDEO_ORDER for s in root.iter("mc-source") for c in s):
                self.multicam_style = "mc-source"
            elif any(c.tag in VIDEO_ORDER for m in root.iter("mc-clip") for c in m):
                self.multicam_style = "mc-clip"
            else:
                version = tuple(int(v) for v in re.findall(r"\d+", root.get("version") or "")[:2])
                self.multicam_style = "mc-source" if version >= (1, 10) else "mc-clip"
        return self.multicam_style == "mc-clip"


class _Clip:
    """One clip's curves written into an element (the clip's, or its container's)."""

    def __init__(
        self, doc, tl: Timeline, clip: Clip, el, shift: Fraction, allowed, lists: bool, container: bool, conform=1
    ) -> None:
        self.doc, self.tl, self.clip, self.lists = doc, tl, clip, lists
        self.el, self.shift, self.allowed = el, shift, allowed  # timeline = local + shift for the element
        self.conform = conform  # local seconds per timeline second (a rate-conformed clip's run at the media's)
        self.container = container  # el is the clip's container's, not its own
        self.rate = Fraction(tl.rate)
        self.width, self.height = tl.width, tl.height

    def write(self, curves: dict[str, Curve]) -> list[tuple[str, int, str]]:
        out = []
        for param in [p for p in PLACES if p in curves and p not in CENTER]:
            out.append(self.scalar(param, curves[param]))
        if any(p in curves for p in CENTER):
            out += self.position(curves)
        return out

    # ---- values ------------------------------------------------------------------------------

    def text(self, param: str, value) -> str:
        """Canonical value(s) -> the param's value text."""
        if param == "scale":
            s = number_text(value / 100.0)
            return f"{s} {s}"
        if param == "position":
            cx, cy = value
            return f"{number_text(cx * 100.0 * self.width / self.height)} {number_text(-cy * 100.0)}"
        if param == "opacity":
            return number_text(value / 100.0)
        if param == "level_db":
            return "-96dB" if value <= LEVEL_FLOOR_DB else f"{number_text(value)}dB"
        if param == "pan":
            return number_text(value * 100.0)
        if param == "rotation":
            return number_text(0.0 - value)  # FCP X's angle turns counter-clockwise
        return number_text(value)

    def local(self, frame: int) -> Fraction:
        """Timeline frame -> the clip element's local time (s)."""
        return (Fraction(frame) / self.rate - self.clip.start) * self.conform + self.clip.start - self.shift

    # ---- parameters --------------------------------------------------------------------------

    def scalar(self, param: str, curve: Curve) -> tuple[str, int, str]:
        tag, pname = PLACES[param]
        adj = self.adjustment(param, tag)
        if adj is None:
            return param, 0, f"<{self.el.tag}> has no place for {tag}"
        mode = (adj.get("mode") or "").strip().lower()
        if tag == "adjust-panner" and mode and not (mode.startswith("1") or "stereo left/right" in mode):
            pname = "left_right_mix"  # a surround panner pans left/right with this one
        keys = frame_keys(curve, lambda t: t * self.rate, holds=False)
        self.keys(adj, pname, [(k.frame, self.text(param, k.value), k.interp) for k in keys])
        return param, len(keys), ""

    def position(self, curves: dict[str, Curve]) -> list[tuple[str, int, str]]:
        wanted = [p for p in CENTER if p in curves]
        given = [p for p in CENTER if len(self.clip.curves.get(p, ()))]
        if "adjust-transform" not in self.allowed:
            return [(p, 0, f"<{self.el.tag}> has no place for adjust-transform") for p in wanted]
        if given and self.container:  # container keys would add keys to the given component
            return [(p, 0, f"shares the container's position with given {given[0]}") for p in wanted]
        if given:  # the partner is given: a static "x y" (a keyed position gives both components)
            return self.into_static(given[0], wanted, curves)
        adj = self.adjustment("center_x", "adjust-transform")
        if adj is None:
            return [(p, 0, f"<{self.el.tag}> has no place for adjust-transform") for p in wanted]
        fixed = [PARAMS[p][0] for p in CENTER]  # not predicted: the default (no curve means the default)
        rows = joint_rows([curves.get(p) for p in CENTER], fixed)
        keys = frame_keys(rows, lambda t: t * self.rate, holds=False)
        self.keys(adj, "position", [(k.frame, self.text("position", k.value), k.interp) for k in keys])
        return [(p, len(keys), "") for p in wanted]

    def into_static(self, partner: str, wanted: list[str], curves: dict[str, Curve]) -> list[tuple[str, int, str]]:
        ref = self.clip.param_refs.get(partner)
        el = self.doc.find(ref.path) if ref is not None else None
        if el is None or ref.attr is None:
            return [(p, 0, f"shares position with given {partner}") for p in wanted]
        parts = (el.get(ref.attr) or "").split()
        if len(parts) < 2:
            return [(p, 0, f"shares position with given {partner}") for p in wanted]
        out = []
        for p in wanted:
            value = sum(k.value for k in curves[p].keys) / len(curves[p])
            x = value * 100.0 * self.width / self.height if p == "center_x" else -value * 100.0
            parts[CENTER.index(p)] = number_text(x)
            written = 1 if abs(value - PARAMS[p][0]) > 1e-9 else 0
            out.append((p, written, STATIC_NOTE.format(partner) if written else "the prediction is the default"))
        el.set(ref.attr, " ".join(parts))
        return out

    def adjustment(self, param: str, tag: str) -> etree._Element | None:
        """The clip element's ``tag`` adjustment to write ``param`` into (created when missing)."""
        el = self.el
        if tag not in self.allowed:
            return None
        ref = self.clip.param_refs.get(param)
        adj = self.doc.find(ref.filter_path) if ref is not None else None
        if adj is not None and adj.tag == tag and adj.getparent() is el:
            return adj  # the parameter's own place (a static default), in the clip element's time
        for child in el.iterchildren(tag):
            if child.get("enabled", "1").strip() not in ("0", "false"):
                return child
        adj = etree.Element(tag)
        before = {*LEADING, *INTRINSIC[: INTRINSIC.index(tag)]}
        if el.tag == "mc-source":  # (audio-role-source*, intrinsic video params, video filters)
            before.add("audio-role-source")
        index = next(
            (i for i, c in enumerate(el) if isinstance(c.tag, str) and c.tag not in before),
            len(el),
        )
        place(el, adj, index)
        return adj

    def keys(self, adj: etree._Element, pname: str, keys: list[tuple[int, str, str]]) -> None:
        """Write keys (timeline frame, value text, interpolation) as ``adj``'s param ``pname``."""
        param = next((p for p in adj.iterchildren("param") if p.get("name") == pname), None)
        if param is None:
            param = etree.Element("param", name=pname)
            place(adj, param, len(adj))
        for old in list(param.iterchildren("keyframeAnimation")):
            param.remove(old)
        if self.lists:
            param.set("keyTimes", ";".join(_time(self.local(f)) for f, _, _ in keys))
            param.set("keyValues", ";".join(v for _, v, _ in keys))
            return
        anim = etree.Element("keyframeAnimation")
        for f, v, interp in keys:
            etree.SubElement(
                anim, "keyframe", time=_time(self.local(f)), value=v, curve="smooth" if interp == "smooth" else "linear"
            )
        place(param, anim, 0)


def _time(t: Fraction) -> str:
    """Exact rational seconds as FCPXML writes them: ``N/Ds`` or ``Ns``."""
    t = Fraction(t)
    return f"{t.numerator}s" if t.denominator == 1 else f"{t.numerator}/{t.denominator}s"
