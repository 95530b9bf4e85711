"""Write-back on long timelines: ``scripts/annotate.py --out``'s writer (``write_back``) against its anchor,
reading the same document (``read_bytes``), at growing lengths, in each dialect.

    python benchmarks/bench_write_back.py [--copies 1 4 16 64] [--repeat 3]

Each document is made k times longer by repeating its content end to end: a generated xmeml
timeline (the built-in generator's, its clips repeated on every track), the real FCPXML with the
longest spine (its spine's items repeated, offsets moved on) and the real Kdenlive project with
the most clips (every track playlist's entries and blanks repeated). Every clip then gets a
two-key predicted curve for each parameter it has no curve for (video: opacity and scale; audio:
level and pan), and the writer puts them into the document. The writer finds each clip's element
again by its locator path; if that lookup grew with the document, the write time per clip would
grow with k (the last lines print it at the longest against the shortest; 1 is linear). CPU time,
best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import os
import sys
from fractions import Fraction
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lxml import etree  # noqa: E402

from benchmarks._timing import best_cpu_seconds  # noqa: E402
from core.data.formats import read_bytes  # noqa: E402
from core.data.formats.write_back import write_back  # noqa: E402
from core.data.formats.xmeml_writer import write_xmeml  # noqa: E402
from core.data.synth import generate_timeline  # noqa: E402
from core.data.timeline import Curve, Key, Timeline  # noqa: E402

REALWORLD = Path(os.environ.get("XMLAI_REALWORLD", ROOT.parent / "shared" / "corpus" / "realworld"))
FCPXML = "fcpxml/xmeml__BRENNER_DAGDROMMER_mktf61000312u.fcpxml"  # 598 clips, the longest spine
MLT = "mlt/kdenlive-opentimelineio__kdenlive_mixes_markers.kdenlive"  # 32 clips on four tracks
# a predicted curve per parameter: (value at the clip's start, value at its end)
PREDICTIONS = {
    "video": {"opacity": (50.0, 80.0), "scale": (100.0, 120.0)},
    "audio": {"level_db": (-6.0, -3.0), "pan": (0.2, -0.2)},
}


def longer_xmeml(copies: int) -> bytes:
    """A generated timeline with its clips repeated ``copies`` times on every track, end to end."""
    tl = generate_timeline(3)
    tracks = []
    for track in tl.tracks:
        clips = []
        for r in range(copies):
            d = tl.duration * r
            for c in track.clips:
                curves = {
                    p: Curve([dataclasses.replace(k, time=k.time + d) for k in curve.keys])
                    for p, curve in c.curves.items()
                }
                clips.append(dataclasses.replace(c, start=c.start + d, end=c.end + d, curves=curves))
        tracks.append(dataclasses.replace(track, clips=clips))
    return write_xmeml(dataclasses.replace(tl, tracks=tracks, duration=tl.duration * copies))


def _fcpx_time(text: str | None) -> Fraction:
    if not text:
        return Fraction(0)
    text = text.rstrip("s")
    num, _, den = text.partition("/")
    return Fraction(int(num), int(den or 1))


def _fcpx_text(t: Fraction) -> str:
    return f"{t.numerator}/{t.denominator}s" if t.denominator != 1 else f"{t.numerator}s"


def longer_fcpxml(data: bytes, copies: int) -> bytes:
    """The sequence's spine with its items repeated ``copies`` times, each copy's offsets moved on by
    the spine's length."""
    root = etree.fromstring(data)
    spine = root.find(".//sequence/spine")
    items = [el for el in spine if isinstance(el.tag, str)]
    length = max(_fcpx_time(el.get("offset")) + _fcpx_time(el.get("duration")) for el in items)
    for r in range(1, copies):
        for el in items:
            dup = copy.deepcopy(el)
            dup.set("offset", _fcpx_text(_fcpx_time(el.get("offset")) + length * r))
            spine.append(dup)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def longer_mlt(data: bytes, copies: int) -> bytes:
    """Every playlist's entries and blanks repeated ``copies`` times (tracks stay in step: each
    playlist is padded with a blank to the longest before its items are repeated)."""
    root = etree.fromstring(data)
    playlists = [p for p in root.iter("playlist") if p.find("entry") is not None and p.get("id") != "main_bin"]
    for p in playlists:
        items = [el for el in p if el.tag in ("entry", "blank")]
        for _ in range(1, copies):
            for el in items:
                p.append(copy.deepcopy(el))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def predictions(tl: Timeline) -> dict:
    """Two-key curves for every clip and every parameter of PREDICTIONS it has no curve for."""
    out = {}
    for k, track in enumerate(tl.tracks):
        for j, clip in enumerate(track.clips):
            curves = {
                p: Curve([Key(clip.start, a), Key(clip.end, b)])
                for p, (a, b) in PREDICTIONS[track.kind].items()
                if p not in clip.curves and clip.end > clip.start
            }
            if curves:
                out[(k, j)] = curves
    return out


def bench(label: str, docs: list[tuple[int, bytes]], repeat: int) -> list[float]:
    print(label)
    per_clip = []
    for copies, data in docs:
        name = f"{label} x{copies}"
        timelines = read_bytes(data, name)
        preds = [predictions(tl) for tl in timelines]
        clips = sum(len(t.clips) for tl in timelines for t in tl.tracks)
        read = best_cpu_seconds(partial(read_bytes, data, name), repeat)
        write = best_cpu_seconds(partial(write_back, data, name, timelines, preds), repeat)
        _, changes = write_back(data, name, timelines, preds)
        written = sum(1 for c in changes if c.after)
        per_clip.append(write / max(clips, 1))
        print(
            f"  x{copies:<3} {clips:6d} clips {len(data) / 1e6:6.2f} MB  read {read * 1000:7.1f} ms  "
            f"write {write * 1000:7.1f} ms ({write / max(clips, 1) * 1e6:5.0f} us a clip, {written} curves)  "
            f"write/read {write / read:.2f}"
        )
    return per_clip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--copies", type=int, nargs="+", default=[1, 4, 16, 64])
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    growth = []
    growth.append(("xmeml", bench("generated xmeml", [(k, longer_xmeml(k)) for k in args.copies], args.repeat)))
    for rel, make in ((FCPXML, longer_fcpxml), (MLT, longer_mlt)):
        path = REALWORLD / rel
        if not path.exists():
            print(f"{path} not found: skipped", file=sys.stderr)
            continue
        data = path.read_bytes()
        dialect = path.parent.name
        growth.append((dialect, bench(path.name, [(k, make(data, k)) for k in args.copies], args.repeat)))
    for label, per_clip in growth:
        print(f"{label}: write time per clip at the longest against the shortest: {per_clip[-1] / per_clip[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
