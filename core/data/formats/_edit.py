"""What the write-back editors share (``write_back.write_back`` is the entry point): predicted curves
go back into the document they were read from, in its own dialect.

The document is edited in place: each clip's element is found again by its locator
(``Clip.xml_path``, ``Clip.param_refs``, see ``core.data.timeline``) and only the parameters a
prediction adds are written, so everything else (ids, links, rates, file references, effects,
transitions, comments, the prolog, the BOM and the line ends) stays as it was, and a given curve
is never touched. Clip placement is never written, so no edit can move a clip or fail on a
transition's handles.

Rules shared by the three dialects (the per-dialect modules ``xmeml_edit``, ``fcpxml_edit`` and
``mlt_edit`` say where each parameter goes):

* Key times go to the nearest frame of the domain the dialect counts in; two keys on one frame
  keep the first.
* A parameter that shares its storage with a given one (xmeml centre ``horiz``/``vert``, fcpxml
  ``position "x y"``) takes the given one's keys: its component is written at the given key
  times (or into the given static value), so the given curve reads back unchanged.
* Hold keys: MLT writes them natively (``|``). xmeml and fcpxml have no hold, so a hold key is
  written as a linear key plus a key one frame before the next key with the same value: the
  value holds and then steps in the last frame.
* Where a dialect has one interpolation per parameter (xmeml), the one most of the keys have wins.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from lxml import etree

from core.data.formats._xml import safe_parse
from core.data.formats.xmeml_elements import number_text  # one number format for every writer
from core.data.timeline import Curve, Timeline

BOM = b"\xef\xbb\xbf"
# Change.note of a component written into a given partner's static value: one value, the mean of
# the predicted keys (the partner's element holds one value, so the prediction becomes one too)
STATIC_NOTE = "one value (the mean): shares its element with given {}"

# (track position, clip position) -> parameter -> predicted curve, per timeline
Predicted = dict[tuple[int, int], dict[str, Curve]]


@dataclass(frozen=True)
class Change:
    """One parameter of one clip the writer changed (or could not): a row of ``--dry-run``."""

    timeline: str
    track: str  # "V1", "A2": kind and 1-based position among the tracks of that kind
    clip: str
    start: Fraction  # the clip's start on the timeline (s)
    param: str
    before: int  # keys the parameter had (0: no curve)
    after: int  # keys written (0: nothing written, ``note`` says why)
    note: str = ""
    curve: Curve | None = None  # the predicted curve (what was written, unless ``note`` says otherwise)


@dataclass(frozen=True)
class FrameKey:
    """A key in a dialect's integer frame domain; ``value`` is a float, or a tuple for a
    parameter with several components (a point)."""

    frame: int
    value: object
    interp: str


def joint_rows(curves: list[Curve | None], fixed: list[float]) -> list[tuple[Fraction, tuple, str]]:
    """Keys of a parameter with several components: one key at every key time of any curve, each
    component the value of its curve there (``fixed[i]`` where ``curves[i]`` is None)."""
    times: dict[Fraction, str] = {}
    for c in curves:
        for k in c.keys if c is not None else ():
            times.setdefault(k.time, k.interp)
    return [
        (t, tuple(c.value_at(t) if c is not None else f for c, f in zip(curves, fixed)), interp)
        for t, interp in sorted(times.items())
    ]


def frame_keys(rows, to_frame: Callable[[Fraction], Fraction], holds: bool = True) -> list[FrameKey]:
    """Keys ``(time, value, interp)`` (or a Curve's keys) on the nearest frames of a domain (``to_frame``: timeline
    seconds -> frames, exact). Two keys on one frame keep the first. With ``holds`` False (a
    dialect without hold keys) each hold key becomes a linear key plus a key with its value one
    frame before the next key."""
    if isinstance(rows, Curve):
        rows = [(k.time, k.value, k.interp) for k in rows.keys]
    out: list[FrameKey] = []
    for t, value, interp in rows:
        frame = round(to_frame(t))
        if out and frame <= out[-1].frame:
            continue
        out.append(FrameKey(frame, value, interp))
    if holds:
        return out
    held: list[FrameKey] = []
    for i, k in enumerate(out):
        if k.interp != "hold":
            held.append(k)
            continue
        held.append(FrameKey(k.frame, k.value, "linear"))
        if i + 1 < len(out) and out[i + 1].frame - 1 > k.frame:
            held.append(FrameKey(out[i + 1].frame - 1, k.value, "linear"))
    return held


def majority_interp(keys: list[FrameKey]) -> str:
    """The interpolation most keys have (the last key's does not count: no segment follows it)."""
    counted = [k.interp for k in keys[:-1]] or [k.interp for k in keys]
    return max(("linear", "smooth", "hold"), key=counted.count)


def track_label(tl: Timeline, k: int) -> str:
    track = tl.tracks[k]
    return f"{'V' if track.kind == 'video' else 'A'}{track.index + 1}"


_STEP = re.compile(r"([A-Za-z_][\w.\-]*)(?:\[([1-9]\d{0,8})\])?$")  # ``tag`` or ``tag[n]``, as getpath writes them


class Locator:
    """Finds elements of a document being edited by locator path (``Clip.xml_path``, ``ParamRef.path``:
    what lxml's ``getpath`` gives, ``/xmeml/sequence/media/video/track[2]/clipitem[7]``).

    XPath counts an element's same-tag siblings on every lookup, so a lookup per clip of a long track,
    spine or playlist is quadratic in its length (and lxml's ``len`` counts the children too). Here each
    parent's children are indexed by tag the first time a path passes through it, and not again, so a
    path keeps naming the element it named then: the writers' edits below an indexed parent (a filter,
    a param or an adjustment added, keyframes replaced) do not move it, where XPath would count an
    element inserted before it. Locators are the reader's paths into the document as read, so that is
    what they mean; on every corpus file each resolves to the element XPath finds before any edit
    (tested), and the written documents are byte for byte those of XPath lookups. A path of any other
    shape (namespaces, ``*``, predicates) goes to XPath.
    """

    def __init__(self, tree: etree._ElementTree) -> None:
        self.tree = tree
        self.root = tree.getroot()
        self.children: dict[etree._Element, dict[str, list[etree._Element]]] = {}  # parent -> tag -> children

    def find(self, path: str | None) -> etree._Element | None:
        """The element at ``path``, None when there is none (or not exactly one)."""
        if not path:
            return None
        steps = path.split("/")
        if steps[0] or len(steps) < 2:
            return self.xpath(path)
        el = None
        for step in steps[1:]:
            m = _STEP.match(step)
            if m is None:
                return self.xpath(path)
            tag, number = m.group(1), m.group(2)
            if el is None:  # the root element
                if tag != self.root.tag or number not in (None, "1"):
                    return None
                el = self.root
                continue
            same = self.by_tag(el).get(tag)
            if not same:
                return None
            if number is None:
                if len(same) != 1:  # several: XPath would go on from each of them
                    return self.xpath(path)
                el = same[0]
            else:
                n = int(number)
                if n > len(same):
                    return None
                el = same[n - 1]
        return el

    def by_tag(self, parent: etree._Element) -> dict[str, list[etree._Element]]:
        tags = self.children.get(parent)
        if tags is None:
            tags = self.children[parent] = {}
            for child in parent:
                if isinstance(child.tag, str):
                    tags.setdefault(child.tag, []).append(child)
        return tags

    def xpath(self, path: str) -> etree._Element | None:
        found = self.tree.xpath(path)
        return found[0] if len(found) == 1 and isinstance(found[0], etree._Element) else None


def insert_before(parent: etree._Element, child: etree._Element, before_tags: set[str] | frozenset[str]) -> None:
    """Insert ``child`` before ``parent``'s first child whose tag is in ``before_tags`` (append
    when there is none), indented like its siblings."""
    index = next((i for i, c in enumerate(parent) if isinstance(c.tag, str) and c.tag in before_tags), len(parent))
    place(parent, child, index)


def place(parent: etree._Element, child: etree._Element, index: int) -> None:
    """Insert ``child`` at ``index`` among ``parent``'s children with the whitespace the document
    uses around its siblings (and inside ``child``, when it has children of its own)."""
    pretty = "\n" in (parent.text or "") + (parent.tail or "") + "".join(c.tail or "" for c in parent)
    if not pretty:  # a document written on one line stays on one line
        parent.insert(index, child)
        return
    own = _line_indent(parent)
    unit = _indent_unit(parent, own)
    inner = own + unit
    if len(parent) and parent.text and "\n" in parent.text:
        inner = parent.text.split("\n")[-1]
    elif len(parent) == 0 and not (parent.text or "").strip():
        parent.text = "\n" + inner
    parent.insert(index, child)
    prev = child.getprevious()
    if prev is None:
        child.tail = parent.text if child.getnext() is not None else "\n" + own
        parent.text = "\n" + inner
    else:
        child.tail = prev.tail if prev.tail and "\n" in prev.tail else "\n" + own
        prev.tail = "\n" + inner
    if len(child):
        tail = child.tail
        etree.indent(child, space=unit)
        for el in child.iter():  # etree.indent starts at column 0: move everything to the child's column
            if el is not child and el.tail:
                el.tail = el.tail.replace("\n", "\n" + inner)
            if len(el) and el.text:
                el.text = el.text.replace("\n", "\n" + inner)
        child.tail = tail


def _line_indent(el: etree._Element) -> str:
    """The whitespace that starts the line ``el`` sits on ("" when it cannot be told)."""
    prev = el.getprevious()
    ws = prev.tail if prev is not None else (el.getparent().text if el.getparent() is not None else None)
    return ws.split("\n")[-1] if ws and "\n" in ws and not ws.strip() else ""


def _indent_unit(el: etree._Element, own: str) -> str:
    """The document's indent step (a tab or spaces), from ``el``'s line against its parent's."""
    parent = el.getparent()
    if parent is not None:
        outer = _line_indent(parent)
        if own.startswith(outer) and len(own) > len(outer):
            return own[len(outer) :]
    return "\t" if "\t" in own else " "


def sub(parent: etree._Element, tag: str, text: object = None, attrib: dict[str, str] | None = None) -> etree._Element:
    el = etree.SubElement(parent, tag, attrib or {})
    if text is not None:
        el.text = str(text)
    return el


def parse_for_edit(data: bytes, name: str) -> etree._ElementTree:
    """The document as an editable tree: the project's secure parser, comments kept."""
    return safe_parse(data, name, keep_comments=True).getroottree()


def serialize(tree: etree._ElementTree, data: bytes) -> bytes:
    """The edited tree as bytes shaped like the input ``data``: its BOM, prolog (XML declaration,
    DOCTYPE and comments before the root, byte for byte) and line ends. Inside the root, lxml
    writes what it parsed: equal XML, though ``>`` in text becomes ``&gt;`` and an empty element
    ``<a></a>`` becomes ``<a/>``."""
    raw = bytes(data)
    encoding = tree.docinfo.encoding or "UTF-8"
    root = tree.getroot()
    body = raw[3:] if raw.startswith(BOM) else raw
    start = re.search(rb"<" + re.escape(root.tag.encode()) + rb"[\s>/]", body) if _ascii_based(encoding) else None
    if start is None:  # UTF-16 and the like: lxml writes the whole document
        return etree.tostring(tree, encoding=encoding, xml_declaration=body.lstrip().startswith(b"<?xml"))
    out = [raw[: len(raw) - len(body)], body[: start.start()], etree.tostring(root, encoding=encoding)]
    for sibling in root.itersiblings():  # comments and processing instructions after the root
        out.append(etree.tostring(sibling, encoding=encoding))
    text = b"".join(out)
    if b"\r\n" in body[:65536]:
        text = text[: len(out[0]) + len(out[1])] + text[len(out[0]) + len(out[1]) :].replace(b"\n", b"\r\n")
    trailing = body[len(body.rstrip()) :]
    return text.rstrip() + trailing if trailing else text


def _ascii_based(encoding: str) -> bool:
    return encoding.upper().replace("-", "").replace("_", "") in (
        "UTF8", "ASCII", "USASCII", "ISO88591", "LATIN1", "WINDOWS1252", "CP1252",
    )  # fmt: skip


__all__ = ["Change", "FrameKey", "Predicted", "frame_keys", "joint_rows", "number_text"]
