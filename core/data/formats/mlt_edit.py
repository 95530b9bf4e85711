"""Write predicted curves into an MLT document (Kdenlive, Shotcut) in place (see ``core.data.formats._edit``).

Each clip's predicted parameters go into new filters on its playlist ``<entry>`` (a Kdenlive clip
effect; the clip's own filters and its producer's stay as they are, and the reader lets the first
filter that gives a parameter win, so a parameter that was at its default there now comes from
the new filter): a ``qtblend`` with ``rect`` "x y w h [opacity]" in pixels (scale, centre and
opacity, components not predicted at their default) and ``rotation`` about the centre (``rotate_center``
1); a ``volume`` with
``level`` (dB); a ``panner`` with ``start`` = (pan + 1) / 2. Key times are source frames, as
for every entry filter without ``in``: ``frame = in + (t * rate - position)``, the entry's
position in its playlist counted by the reader's own rules. Interpolation is MLT's own marker:
none (linear), ``~`` (smooth), ``|`` (hold).
"""

from __future__ import annotations

from fractions import Fraction

from lxml import etree

from core.data.formats._edit import Locator, frame_keys, joint_rows, number_text, place
from core.data.formats.mlt import _Reader
from core.data.timeline import LEVEL_FLOOR_DB, PARAMS, Clip, Curve, Timeline

MARKERS = {"linear": "", "smooth": "~", "hold": "|"}
RECT = ("scale", "center_x", "center_y", "opacity")


class ClipWriter:
    """Writes clips' predicted curves into one document (``_edit.write_back`` drives it)."""

    def __init__(self, tree: etree._ElementTree, name: str) -> None:
        self.doc = Locator(tree)
        self.reader = _Reader(tree.getroot(), name)  # the reader's own clock parsing and entry lengths
        self.ids = _FilterIds(el.get("id") for el in tree.getroot().iter() if isinstance(el.tag, str) and el.get("id"))
        # playlist -> its entries' first frames (the writer adds filters to entries, never entries to playlists)
        self.positions: dict[etree._Element, dict[etree._Element, int]] = {}

    def write(self, tl: Timeline, clip: Clip, curves: dict[str, Curve]) -> list[tuple[str, int, str]]:
        """Write one clip's curves; (parameter, keys written, note) per parameter."""
        return _clip(self.doc, self.reader, self.ids, self.position, clip, curves)

    def position(self, entry: etree._Element, where: str) -> int:
        """The entry's first frame in its playlist, counted by the reader's own rules."""
        playlist = entry.getparent()
        positions = self.positions.get(playlist)
        if positions is None:
            positions = self.positions[playlist] = {}
            position = 0
            for item in playlist:
                if item.tag == "blank":
                    position += self.reader.frames(item.get("length"), where, 0)
                elif item.tag == "entry":
                    positions[item] = position
                    position += self.reader.entry_length(item, where)
        return positions[entry]


class _FilterIds:
    """Ids for new filters, ``xmlai_filter<n>`` with the first numbers the document does not use."""

    def __init__(self, taken) -> None:
        self.taken = set(taken)
        self.n = 0

    def new(self) -> str:
        self.n += 1
        while f"xmlai_filter{self.n}" in self.taken:
            self.n += 1
        return f"xmlai_filter{self.n}"


def _clip(doc, reader: _Reader, ids: _FilterIds, position_of, clip: Clip, curves: dict[str, Curve]):
    entry = doc.find(clip.xml_path)
    if entry is None or entry.tag != "entry" or entry.getparent() is None:
        return [(p, 0, "clip element not found") for p in curves]
    where = f"entry {entry.get('producer')}"
    producer = reader.ids.get(entry.get("producer") or "")
    p_in = reader.frames(producer.get("in"), where, 0) if producer is not None else 0
    e_in = reader.frames(entry.get("in"), where, p_in)
    position = position_of(entry, where)
    rate = Fraction(reader.rate)

    def to_frame(t: Fraction) -> Fraction:
        return max(Fraction(0), e_in + Fraction(t) * rate - position)  # a negative time would count from the end

    out = []
    rect = [p for p in RECT if p in curves]
    video = {}
    if rect:
        fixed = [PARAMS[p][0] for p in RECT]
        keys = frame_keys(joint_rows([curves.get(p) for p in RECT], fixed), to_frame)
        video["rect"] = _animation(keys, lambda v: _rect(v, reader.width, reader.height, "opacity" in curves))
        out += [(p, len(keys), "") for p in rect]
    if "rotation" in curves:
        keys = frame_keys(curves["rotation"], to_frame)
        video["rotation"] = _animation(keys, number_text)
        out.append(("rotation", len(keys), ""))
    if video:
        # rotate_center 1: turn about the picture's centre (MLT's default, 0, turns it about the rect's corner)
        props = {"mlt_service": "qtblend", "kdenlive_id": "qtblend", **video, "rotate_center": "1"}
        _filter(entry, ids, {**props, "compositing": "0"})
    if "level_db" in curves:
        keys = frame_keys(curves["level_db"], to_frame)
        level = _animation(keys, lambda v: number_text(max(LEVEL_FLOOR_DB, v)))
        _filter(entry, ids, {"mlt_service": "volume", "kdenlive_id": "volume", "level": level})
        out.append(("level_db", len(keys), ""))
    if "pan" in curves:
        keys = frame_keys(curves["pan"], to_frame)
        start = _animation(keys, lambda v: number_text((max(-1.0, min(1.0, v)) + 1.0) / 2.0))
        _filter(entry, ids, {"mlt_service": "panner", "kdenlive_id": "panner", "channel": "-1", "start": start})
        out.append(("pan", len(keys), ""))
    return out


def _rect(v: tuple, width: int, height: int, with_opacity: bool) -> str:
    scale, cx, cy, opacity = v
    w, h = scale / 100.0 * width, scale / 100.0 * height
    x, y = (cx + 0.5) * width - w / 2.0, (cy + 0.5) * height - h / 2.0
    parts = [x, y, w, h] + ([opacity / 100.0] if with_opacity else [])
    return " ".join(number_text(p) for p in parts)


def _animation(keys, text) -> str:
    """MLT animation string ``frame[marker]=value;...``."""
    return ";".join(f"{k.frame}{MARKERS[k.interp]}={text(k.value)}" for k in keys)


def _filter(entry: etree._Element, ids: _FilterIds, props: dict[str, str]) -> None:
    f = etree.Element("filter", id=ids.new())
    for key, value in props.items():
        etree.SubElement(f, "property", name=key).text = value
    place(entry, f, len(entry))
