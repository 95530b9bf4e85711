"""Write predicted curves back into the document they were read from, in its own dialect
(``scripts/annotate.py --out``): each dialect's ``ClipWriter`` edits the parsed input in place and
keeps everything it does not change (see ``core.data.formats._edit``)."""

from __future__ import annotations

from core.data.formats import fcpxml_edit, mlt_edit, xmeml_edit
from core.data.formats._edit import Change, Predicted, parse_for_edit, serialize, track_label
from core.data.timeline import Timeline, TimelineError

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
            for param, n, note in writer.write(tl, clip, curves):
                label = track_label(tl, k)
                changes.append(Change(tl.name, label, clip.name, clip.start, param, 0, n, note, curves.get(param)))
    return (None if dry_run else serialize(tree, data)), changes
