"""Print what xmlai reads from a timeline file: ``python scripts/inspect_timeline.py FILE [--json]``.

Without ``--json``: a readable summary per sequence. With it: the ``Timeline.to_json`` list.
A file that cannot be read exits with status 1 and the reason on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

try:
    import core  # noqa: F401
except ImportError:  # run as a plain script from a checkout: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.data.formats import read_file  # noqa: E402
from core.data.timeline import Timeline, TimelineError  # noqa: E402


def summary(tl: Timeline) -> str:
    """A few human-readable lines about one timeline."""
    lines = [
        f"{tl.name!r} ({tl.dialect}): {float(tl.rate):.3f} fps ({tl.rate}), {float(tl.duration):.3f} s, "
        f"{tl.width}x{tl.height}, {len(tl.tracks)} tracks"
    ]
    for track in tl.tracks:
        state = "" if track.enabled else " [disabled]"
        lines.append(f"  {track.kind} {track.index + 1}{state}: {len(track.clips)} clips")
        for clip in track.clips:
            flags = "" if clip.enabled else " [disabled]"
            trans = ""
            if clip.transition_in or clip.transition_out:
                trans = f" transitions {float(clip.transition_in):.3f}/{float(clip.transition_out):.3f} s"
            lines.append(
                f"    {float(clip.start):9.3f}-{float(clip.end):9.3f} s {clip.media_kind:9} {clip.name!r}{flags}{trans}"
            )
            for param, curve in clip.curves.items():
                interps = sorted({k.interp for k in curve.keys})
                lo = min(k.value for k in curve.keys)
                hi = max(k.value for k in curve.keys)
                lines.append(f"      {param}: {len(curve)} keys, {lo:g}..{hi:g}, {'/'.join(interps)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", help="timeline export to read (xmeml, fcpxml, MLT .mlt/.kdenlive)")
    parser.add_argument("--json", action="store_true", help="print the timelines as JSON")
    args = parser.parse_args(argv)
    try:
        timelines = read_file(args.file)
    except TimelineError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([tl.to_json() for tl in timelines]))
    else:
        print("\n\n".join(summary(tl) for tl in timelines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
