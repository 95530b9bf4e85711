"""Write predicted curves into an xmeml document in place (see ``core.data.formats._edit``).

Where a parameter goes: into the ``<parameter>`` the reader found for it (``Clip.param_refs``: a
parameter at its default, so without a curve), else into an enabled filter of the clip with that
effect, else into a new filter (Premiere's Basic Motion, Opacity, Audio Levels or Audio Pan, as
``xmeml_writer`` writes them) after the clip's last filter. Keys are ``<keyframe><when>`` in
source frames of the clip's key rate (the reader's rule, ``_Reader.source_unit``, including
Premiere's mixed rates): ``when = rate * (source_in + t - start)``, rounded to a frame. Audio
Levels holds the volume without the clip's Premiere gain (``level_db - gain_db``, as linear
gain). A smooth key gets an outgoing Bezier handle (``xmeml_elements.bezier_handles``), each other
key none (linear), and ``FCPCurve`` marks the parameter where most keys are smooth; hold keys are
emulated (see ``_edit``). Centre is one point parameter: its two
components are written together; a component whose partner is given goes into the partner's
static value.
"""

from __future__ import annotations

from fractions import Fraction

from lxml import etree

from core.data.formats._edit import (
    STATIC_NOTE,
    FrameKey,
    Locator,
    frame_keys,
    insert_before,
    joint_rows,
    majority_interp,
    number_text,
    place,
)
from core.data.formats._xml import child_map, first_text, kid_text, xml_bool
from core.data.formats.xmeml import ITEM_TAGS, _Item, _Reader
from core.data.formats.xmeml_elements import bezier_handles, effect_element
from core.data.formats.xmeml_filters import EFFECT_NAME_IDS, distort_aspect
from core.data.timeline import LEVEL_FLOOR_DB, PARAMS, Clip, Curve, Timeline, db_to_gain

# canonical parameter -> (effectid, parameterid, parameter name, valuemin, valuemax)
PARAMETERS = {
    "scale": ("basic", "scale", "Scale", 0, 1000),
    "rotation": ("basic", "rotation", "Rotation", -8640, 8640),
    "center_x": ("basic", "center", "Center", None, None),
    "center_y": ("basic", "center", "Center", None, None),
    "opacity": ("opacity", "opacity", "opacity", 0, 100),
    "level_db": ("audiolevels", "level", "Level", 0, 3.98109),
    "pan": ("audiopan", "pan", "Pan", -1, 1),
}
# effectid -> (name, category, media type), as xmeml_writer writes Premiere's filters
EFFECTS = {
    "basic": ("Basic Motion", "motion", "video"),
    "opacity": ("Opacity", "motion", "video"),
    "audiolevels": ("Audio Levels", "audiolevels", "audio"),
    "audiopan": ("Audio Pan", "audiopan", "audio"),
}
CENTER = ("center_x", "center_y")
COMPONENTS = {"center_x": "horiz", "center_y": "vert"}
# Children of a clipitem that follow its filters in every export of the corpora (FCP7 and Premiere
# order the rest, labels, logginginfo, sourcetrack..., either side of the filters)
AFTER_FILTERS = frozenset(("link", "itemhistory", "marker"))
PARAMETER_HEAD = ("parameterid", "name", "valuemin", "valuemax", "valuelist", "value")


class ClipWriter:
    """Writes clips' predicted curves into one document (``_edit.write_back`` drives it)."""

    def __init__(self, tree: etree._ElementTree, name: str) -> None:
        self.doc = Locator(tree)
        self.reader = _Reader(tree.getroot(), name)  # the reader's own rate and frame parsing

    def write(self, tl: Timeline, clip: Clip, curves: dict[str, Curve]) -> list[tuple[str, int, str]]:
        """Write one clip's curves; (parameter, keys written, note) per parameter."""
        return _clip(self.doc, self.reader, tl, clip, curves)


def _clip(doc, reader: _Reader, tl: Timeline, clip: Clip, curves: dict[str, Curve]) -> list[tuple[str, int, str]]:
    el = doc.find(clip.xml_path)
    if el is None or el.tag not in ("clipitem", "generatoritem"):
        return [(p, 0, "clip element not found") for p in curves]
    unit = _unit(reader, el, Fraction(tl.rate), tl.name)

    def to_when(t: Fraction) -> Fraction:
        # the reader's mapping t = anchor + (when - in) / unit, with source_in = in / unit + (start - anchor)
        return unit * (Fraction(clip.source_in) + Fraction(t) - clip.start)

    out = []
    for param in [p for p in PARAMETERS if p in curves and p not in CENTER]:
        curve = curves[param]
        if param == "scale":  # the reader reads FCP 7's height factor under a Distort aspect: write it back
            factor = _squeeze(reader, el, tl.name)
            curve = curve.map_values(lambda v, f=factor: v * f)
        out.append((param, _scalar(doc, el, clip, param, curve, to_when), ""))
    if any(p in curves for p in CENTER):
        out += _center(doc, el, clip, curves, to_when, reader)
    return out


def _unit(reader: _Reader, el: etree._Element, seq_rate: Fraction, where: str) -> Fraction:
    """The rate the clip's ``<when>`` counts in, by the reader's own rule."""
    kids = child_map(el)
    clip_rate = reader.rate(el, where, kids) or seq_rate
    start = reader.frames(kid_text(kids, "start"), where, "start")
    end = reader.frames(kid_text(kids, "end"), where, "end")
    src_in = reader.frames(kid_text(kids, "in"), where, "in")
    src_out = reader.frames(kid_text(kids, "out"), where, "out")
    item = _Item(el, kids, el.tag, start if start is not None else 0, end if end is not None else 0)
    return reader.source_unit(
        item, src_in, src_out, clip_rate, seq_rate, (_beside(reader, el, True), _beside(reader, el))
    )


def _beside(reader: _Reader, el: etree._Element, before: bool = False) -> _Item | None:
    """The transition next to the item ``el`` on its track (the one before it with ``before``), as the reader's
    items list has it: None where the neighbouring item is not a transition."""
    for sib in el.itersiblings(preceding=before):
        if sib.tag in ITEM_TAGS:
            if sib.tag != "transitionitem":
                return None
            kids = child_map(sib)
            start, end = (reader.frames(kid_text(kids, t), "transitionitem", t) for t in ("start", "end"))
            return None if start is None or end is None else _Item(sib, kids, sib.tag, start, end)
    return None


def _squeeze(reader: _Reader, el: etree._Element, where: str) -> float:
    """1 - a/100 for the clip's enabled FCP 7 Distort aspect ``a`` < 0 (the reader's scale is the file's divided by
    it, ``FilterReading.apply_aspect``), else 1."""
    for effect in _enabled_effects(el, "deformation"):
        aspect = distort_aspect(effect, reader.number, where)
        if aspect is not None:  # the first Distort with an aspect, as the reader takes it
            return 1.0 - aspect / 100.0 if aspect < 0 else 1.0
    return 1.0


def _to_file(param: str, clip: Clip, value: float) -> float:
    """Canonical value -> what the parameter holds in the file."""
    if param == "level_db":
        gain = clip.gain_db or 0.0
        return 0.0 if value <= LEVEL_FLOOR_DB else db_to_gain(max(LEVEL_FLOOR_DB, value - gain))
    return value


def _scalar(doc, el, clip: Clip, param: str, curve: Curve, to_when) -> int:
    keys = frame_keys([(k.time, _to_file(param, clip, k.value), k.interp) for k in curve.keys], to_when, holds=False)
    p_el = _parameter(doc, el, clip, param, keys[0].value)
    _write_keys(p_el, keys, lambda v_el, v: setattr(v_el, "text", number_text(v)))
    return len(keys)


def _center(doc, el, clip: Clip, curves: dict[str, Curve], to_when, reader) -> list[tuple[str, int, str]]:
    """Centre: one point parameter for both components."""
    given = [p for p in CENTER if len(clip.curves.get(p, ()))]
    wanted = [p for p in CENTER if p in curves]
    if given:  # the partner is given (a static point: a keyed point gives both components)
        ref = clip.param_refs.get(given[0])
        p_el = doc.find(ref.path) if ref is not None else None
        if p_el is None or p_el.find("keyframe") is not None:
            return [(p, 0, f"shares the centre point with given {given[0]}") for p in wanted]
        out = []
        for p in wanted:
            value = sum(k.value for k in curves[p].keys) / len(curves[p])
            _set_component(p_el, "value", COMPONENTS[p], value)
            written = 1 if abs(value - PARAMS[p][0]) > 1e-9 else 0  # the reader gives a default no curve
            out.append((p, written, STATIC_NOTE.format(given[0]) if written else "the prediction is the default"))
        return out
    existing = _existing_parameter(doc, el, clip, "center_x")
    fixed = []
    for p in CENTER:  # a component that is not predicted keeps what the file says (the default)
        text = existing.findtext(f"value/{COMPONENTS[p]}") if existing is not None else None
        try:
            fixed.append(float(text) if text is not None else PARAMS[p][0])
        except ValueError:
            fixed.append(PARAMS[p][0])
    rows = joint_rows([curves.get(p) for p in CENTER], fixed)
    keys = frame_keys(rows, to_when, holds=False)
    p_el = _parameter(doc, el, clip, "center_x", keys[0].value)

    def set_point(v_el: etree._Element, v: tuple) -> None:
        for p, x in zip(CENTER, v):
            _set_component(v_el, None, COMPONENTS[p], x)

    _write_keys(p_el, keys, set_point)
    return [(p, len(keys), "") for p in wanted]


def _set_component(parent: etree._Element, path: str | None, component: str, value: float) -> None:
    v_el = parent.find(path) if path else parent
    if v_el is None:
        v_el = etree.SubElement(parent, path)
    c_el = v_el.find(component)
    if c_el is None:
        c_el = etree.SubElement(v_el, component)
    c_el.text = number_text(value)


def _existing_parameter(doc, el: etree._Element, clip: Clip, param: str) -> etree._Element | None:
    """The ``<parameter>`` the reader found for ``param`` (one at its default), if any."""
    ref = clip.param_refs.get(param)
    p_el = doc.find(ref.path) if ref is not None else None
    if p_el is not None and p_el.tag == "parameter" and el in p_el.iterancestors():
        return p_el
    return None


def _parameter(doc, el: etree._Element, clip: Clip, param: str, first_value) -> etree._Element:
    """The ``<parameter>`` element to write ``param``'s keys into: the existing one, or a new one in
    an enabled filter of that effect, or in a new filter."""
    p_el = _existing_parameter(doc, el, clip, param)
    if p_el is not None:
        return p_el
    effect_id, pid, pname, vmin, vmax = PARAMETERS[param]
    effect = _enabled_effect(el, effect_id)
    if effect is None:
        holder = etree.Element("holder")  # xmeml_writer builds the filter; it is then placed here
        title, category, mediatype = EFFECTS[effect_id]
        effect = effect_element(holder, title, effect_id, category, mediatype)
        filter_el = holder[0]
        filters = list(el.iterchildren("filter"))
        if filters:
            place(el, filter_el, el.index(filters[-1]) + 1)
        elif el.tag == "generatoritem" and el.find("effect") is not None:
            place(el, filter_el, el.index(el.find("effect")) + 1)
        else:
            insert_before(el, filter_el, AFTER_FILTERS)
    p_el = etree.Element("parameter", authoringApp="PremierePro")
    etree.SubElement(p_el, "parameterid").text = pid
    etree.SubElement(p_el, "name").text = pname
    if vmin is not None:
        etree.SubElement(p_el, "valuemin").text = number_text(vmin)
        etree.SubElement(p_el, "valuemax").text = number_text(vmax)
    v_el = etree.SubElement(p_el, "value")
    if isinstance(first_value, tuple):
        for p, x in zip(CENTER, first_value):
            etree.SubElement(v_el, COMPONENTS[p]).text = number_text(x)
    else:
        v_el.text = number_text(first_value)
    params = list(effect.iterchildren("parameter"))
    place(effect, p_el, effect.index(params[-1]) + 1 if params else len(effect))
    return p_el


def _enabled_effect(el: etree._Element, effect_id: str) -> etree._Element | None:
    """The ``<effect>`` of the clip's first enabled filter with ``effect_id``, if any."""
    return next(_enabled_effects(el, effect_id), None)


def _enabled_effects(el: etree._Element, effect_id: str):
    """The ``<effect>``s of the clip's enabled filters with ``effect_id``, in order."""
    for filter_el in el.iterchildren("filter"):
        kids = child_map(filter_el)
        effect = kids.get("effect")
        if effect is None or not xml_bool(kid_text(kids, "enabled"), True):
            continue
        found = (first_text(effect, "effectid") or "").strip().lower()
        if not found:
            found = EFFECT_NAME_IDS.get((first_text(effect, "name") or "").strip().lower(), "")
        if found == effect_id:
            yield effect


def _write_keys(p_el: etree._Element, keys: list[FrameKey], set_value) -> None:
    """Replace the parameter's keyframes and interpolation with ``keys``."""
    for old in list(p_el.iterchildren("keyframe", "interpolation")):
        p_el.remove(old)
    head = [c for c in p_el if isinstance(c.tag, str) and c.tag in PARAMETER_HEAD]
    index = p_el.index(head[-1]) + 1 if head else len(p_el)
    written = []
    for k in keys:
        kf = etree.Element("keyframe")
        etree.SubElement(kf, "when").text = str(k.frame)
        set_value(etree.SubElement(kf, "value"), k.value)
        place(p_el, kf, index)
        index += 1
        written.append(kf)
    bezier_handles(written, [k.frame for k in keys], [k.interp for k in keys])
    if majority_interp(keys) == "smooth":
        interp = etree.Element("interpolation")
        etree.SubElement(interp, "name").text = "FCPCurve"
        place(p_el, interp, index)
