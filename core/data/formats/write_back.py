"""Write predicted curves back into the document they were read from, in its own dialect
(``scripts/annotate.py --out``): each dialect's ``ClipWriter`` edits the parsed input in place and
keeps everything it does not change (see ``core.data.formats._edit``)."""

from __future__ import annotations

from core.data.formats import fcpxml_edit, mlt_edit, xmeml_edit
from core.data.formats._compose import CENTRES
from core.data.formats._edit import Change, Predicted, parse_for_edit, serialize, track_label
from core.data.timeline import Clip, Curve, Key, Timeline, TimelineError

TINY_SCALE = 1e-6  # a container scaled to nothing (this share of 100 %) shows nothing: the offset is written as is

WRITERS = {"xmeml": xmeml_edit.ClipWriter, "fcpxml": fcpxml_edit.ClipWriter, "mlt": mlt_edit.ClipWriter}


def write_back(
    data: bytes, name: str, timelines: list[Timeline], predicted: list[Predicted], dry_run: bool = False
) -> tuple[bytes | None, list[Change]]:
    """Write ``predicted`` curves (one dict per timeline, in the order ``timelines`` were read from
    ``data``) into the document; returns (the new document, None on a dry run; one Change per
    predicted parameter)."""
    if len(timelines) != len(predicted):
        raise ValueError(f"{len(timelines)} timelines but {len(predicted)} predictions")
    tree = parse_for_edit(data, name)
    dialect = timelines[0].dialect if timelines else ""
    if dialect not in WRITERS:
        raise TimelineError(name, f"no writer for dialect {dialect!r}")
    writer = WRITERS[dialect](tree, name)
    changes: list[Change] = []
    for tl, pred in zip(timelines, predicted):
        for (k, j), curves in sorted(pred.items()):
            clip = tl.tracks[k].clips[j]
            for param, n, note in writer.write(tl, clip, in_own_frame(clip, curves)):
                label = track_label(tl, k)
                changes.append(Change(tl.name, label, clip.name, clip.start, param, 0, n, note, curves.get(param)))
    return (None if dry_run else serialize(tree, data)), changes


def in_own_frame(clip: Clip, curves: dict[str, Curve]) -> dict[str, Curve]:
    """The predicted centre in the clip's own frame: a container that scales (``Clip.outer_scale``) scales the
    offset the clip's own element sets, so that element gets the prediction divided by the container's scale, with
    a key wherever either has one (within the clip)."""
    scale = clip.outer_scale
    if scale is None or not any(c in curves for c in CENTRES):
        return curves
    out = dict(curves)
    for c in CENTRES:
        if c not in curves:
            continue
        pred = curves[c]
        times = {k.time for k in pred.keys} | {k.time for k in scale.keys if clip.start <= k.time <= clip.end}
        interp = {k.time: k.interp for k in scale.keys} | {k.time: k.interp for k in pred.keys}
        keys = []
        for t in sorted(times):
            s = scale.value_at(t) / 100.0
            value = pred.value_at(t)
            keys.append(Key(t, value / s if abs(s) > TINY_SCALE else value, interp[t]))
        out[c] = Curve(keys)
    return out
