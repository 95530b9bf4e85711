"""Where the xmeml reader's time goes, beyond bare lxml: the marginal cost of each part, measured by
timing ``read_bytes`` again with that part (and the ones before it) replaced by a stub.

    python benchmarks/profile_parse.py [--dir DIR] [--generated N] [--repeat N]

Diagnostic only (issue 7): the stubbed runs build incomplete Timelines and are never used for anything
else. The rows are cumulative: "without filters" stubs the filter reading, "without sources" stubs that
and the ``<file>`` reading, and so on down to the sequence shell (parse, checks, sequences without
tracks). The last rows time lxml alone on the same documents: one pass over every clipitem's children
(the reader's item pass needs at least that) and a pass over every element, which bound what any
per-clip Python reader can reach. The rule-free reader bounds it closer: the reader's parse (blanks dropped),
then for each item only what every reading of it needs (its children by tag, its four frame counts as exact
times and a Clip), no rule, source, filter or path.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lxml import etree  # noqa: E402

from benchmarks._timing import best_cpu_seconds  # noqa: E402
from core.data.formats import read_bytes  # noqa: E402
from core.data.formats._numbers import frames_to_seconds  # noqa: E402
from core.data.formats._source import NO_SOURCE  # noqa: E402
from core.data.formats._xml import make_parser  # noqa: E402
from core.data.formats.xmeml import _Reader  # noqa: E402
from core.data.formats.xmeml_filters import _Filters  # noqa: E402
from core.data.synth import write_corpus  # noqa: E402
from core.data.timeline import Clip, Track  # noqa: E402


def _best(fn, repeat: int) -> float:
    """Best-of-``repeat`` CPU milliseconds of ``fn()``."""
    return best_cpu_seconds(fn, repeat) * 1000


def profile(paths: list[Path], repeat: int) -> list[tuple[str, float]]:
    """(row, ms) for the stubbed runs and the lxml-only passes over ``paths``."""
    blobs = [(str(p), p.read_bytes()) for p in paths]
    parser = make_parser()

    def ours() -> None:
        for name, data in blobs:
            read_bytes(data, name)

    def bare() -> None:
        for _, data in blobs:
            etree.fromstring(data, parser)

    def item_children() -> None:
        for _, data in blobs:
            for item in etree.fromstring(data, parser).iter("clipitem", "generatoritem", "transitionitem"):
                for child in item:
                    child.tag  # noqa: B018 (the access is what is timed)

    def every_element() -> None:
        for _, data in blobs:
            for el in etree.fromstring(data, parser).iter():
                el.tag  # noqa: B018

    dropping = make_parser(drop_blanks=True)  # the readers' parse
    rate = Fraction(25)

    def frames(el) -> int:
        try:
            return int(el.text)
        except (AttributeError, TypeError, ValueError):  # absent, empty or not an integer
            return 0

    def rule_free() -> None:
        for _, data in blobs:
            for item in etree.fromstring(data, dropping).iter("clipitem", "generatoritem", "transitionitem"):
                kids = {}
                for child in item:  # the reader's item pass, without its bookkeeping
                    tag = child.tag
                    if tag not in kids:
                        kids[tag] = child
                get = kids.get
                times = [frames_to_seconds(frames(get(t)), rate) for t in ("start", "end", "in", "out")]
                Clip("", *times)  # source_out given, as the reader gives it: no Fraction sums

    rows = [("read_bytes", _best(ours, repeat))]
    stubs = [
        ("without filters", "read_filters", lambda self, *a: _Filters()),
        ("without sources", "source", lambda self, *a: NO_SOURCE),
        ("without clips (item pass only)", "read_clip", lambda self, *a: None),
        ("without tracks (sequence shell)", "read_track", lambda self, el, kind, index, *a: Track(kind, index)),
    ]
    saved = {attr: _Reader.__dict__.get(attr) for _, attr, _ in stubs}
    try:
        for label, attr, stub in stubs:
            setattr(_Reader, attr, stub)
            rows.append((label, _best(ours, repeat)))
    finally:
        for attr, original in saved.items():
            if original is None:
                delattr(_Reader, attr)  # it was inherited (a mixin's method): drop the stub
            else:
                setattr(_Reader, attr, original)
    rows.append(("bare lxml parse", _best(bare, repeat)))
    rows.append(("lxml: parse + every item's children", _best(item_children, repeat)))
    rows.append(("lxml: parse + every element", _best(every_element, repeat)))
    rows.append(("rule-free reader (lower bound)", _best(rule_free, repeat)))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", help="profile every .xml file in DIR instead of generated timelines")
    parser.add_argument("--generated", type=int, default=40, help="generated timelines to profile")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="xmlai-profile-") as tmp:
        if args.dir:
            label, paths = args.dir, sorted(Path(args.dir).glob("*.xml"))
        else:
            label, paths = f"generated xmeml ({args.generated} timelines)", write_corpus(tmp, args.generated, 0)
        rows = profile(paths, args.repeat)
    print(f"{label}: {len(paths)} files, CPU ms, best of {args.repeat}")
    previous = None
    for row, ms in rows[:5]:
        step = "" if previous is None else f"  (the part removed: {previous - ms:5.1f} ms)"
        print(f"  {row:36} {ms:7.1f}{step}")
        previous = ms
    for row, ms in rows[5:]:
        print(f"  {row:36} {ms:7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
