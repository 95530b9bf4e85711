"""Parse throughput: ``core.data.formats.read_file`` against bare ``lxml`` with the same secure parser.

    python benchmarks/bench_parse.py [--dir DIR ...] [--repeat N]

By default it reads the real xmeml corpus (../shared/corpus/realworld/xmeml, or
$XMLAI_REALWORLD/xmeml). Each extra ``--dir`` (e.g. a folder of generated files) is measured
on its own. Files are read into memory first, so both sides time parsing only, not the disk.
The goal is ours >= 1/3 of bare lxml: the canonical model costs something, but not more than
twice the parse itself.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lxml import etree  # noqa: E402

from core.data.formats import read_bytes  # noqa: E402
from core.data.formats._xml import make_parser  # noqa: E402

REALWORLD = Path(os.environ.get("XMLAI_REALWORLD", ROOT.parent / "shared" / "corpus" / "realworld"))


def _time(fn, blobs: list[tuple[str, bytes]], repeat: int) -> float:
    """Best-of-``repeat`` seconds to run ``fn`` over every blob (best: least disturbed by others)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for name, data in blobs:
            fn(data, name)
        best = min(best, time.perf_counter() - t0)
    return best


def bench(label: str, paths: list[Path], repeat: int) -> float:
    blobs = [(str(p), p.read_bytes()) for p in paths]
    total_mb = sum(len(d) for _, d in blobs) / 1e6
    parser = make_parser()
    bare = _time(lambda data, name: etree.fromstring(data, parser), blobs, repeat)
    ours = _time(read_bytes, blobs, repeat)
    print(f"{label}: {len(blobs)} files, {total_mb:.2f} MB, best of {repeat}")
    for what, secs in (("bare lxml", bare), ("read_bytes", ours)):
        print(f"  {what:10}  {len(blobs) / secs:8.1f} files/s  {total_mb / secs:7.2f} MB/s  ({secs * 1000:.1f} ms)")
    ratio = bare / ours
    print(f"  ours/lxml throughput ratio: {ratio:.2f} (goal >= 0.33)")
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", action="append", default=[], help="also measure every .xml file in DIR")
    parser.add_argument("--no-realworld", action="store_true", help="skip the real-world corpus")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    runs = []
    if not args.no_realworld:
        xmeml = sorted((REALWORLD / "xmeml").glob("*.xml"))
        if xmeml:
            runs.append(("real-world xmeml", xmeml))
        else:
            print(f"real-world corpus not found at {REALWORLD}", file=sys.stderr)
    for d in args.dir:
        runs.append((d, sorted(Path(d).glob("*.xml"))))
    ratios = [bench(label, paths, args.repeat) for label, paths in runs if paths]
    return 0 if ratios and min(ratios) >= 1 / 3 else 1


if __name__ == "__main__":
    sys.exit(main())
