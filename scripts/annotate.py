"""Predict how an editor would animate a timeline, with an exported model or a training run.

    python scripts/annotate.py timeline.xml --model best_model                # summary per clip
    python scripts/annotate.py timeline.xml --model runs/NAME                 # a scripts/train.py run's best
    python scripts/annotate.py timeline.xml --model best_model --json         # inspect_timeline's JSON shape
    python scripts/annotate.py timeline.xml --model best_model --out out.xml  # the annotated file
    python scripts/annotate.py edit.fcpxml --model best_model --dry-run       # what would change
    python scripts/annotate.py edit.kdenlive --model best_model --params level_db,pan --out out.kdenlive

Curves the timeline already has are the context and stay exactly as they are; every other
parameter of every clip gets a predicted curve (``--params`` limits which). ``--out`` writes the
input document back in its own dialect (xmeml, FCPXML or MLT) with the predicted curves added and
everything else kept. ``--dry-run`` prints what would change and writes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from _common import HEAD_UNITS
from core.data.timeline import PARAMS, TimelineError


def _params(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [p for p in names if p not in PARAMS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"--params: unknown parameter(s) {unknown}; known: {', '.join(PARAMS)}")
    return names


def describe(param: str, curve) -> str:
    """A predicted curve in a few characters: its one value, or its first and last values, in native units
    (centre and pan, shares of the frame and of the stereo field, without a unit and to three places)."""
    if curve is None or not curve.keys:
        return ""
    unit = HEAD_UNITS.get(param, "")
    unit = f" {unit}" if unit not in ("", "frame") else ""
    first, last = (f"{k.value:.1f}" if unit else f"{k.value:.3f}" for k in (curve.keys[0], curve.keys[-1]))
    return f"{first}{unit}" if len(curve.keys) == 1 else f"{first} -> {last}{unit}"


def _keys(n: int) -> str:
    return f"{n} key{'' if n == 1 else 's'}"


def print_changes(changes, out=sys.stdout) -> None:
    """The dry-run table: one row per clip and parameter, keys before -> after and the predicted values."""
    rows = [
        (
            c.track,
            f"{c.clip} @ {float(c.start):.2f}s",
            c.param,
            f"{c.before} -> {c.after}",
            describe(c.param, c.curve) if c.after else "",
            c.note,
        )
        for c in changes
    ]
    head = ("track", "clip", "parameter", "keys", "values", "note")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(5)]
    for r in [head, *rows]:
        print("  ".join(str(x).ljust(w) for x, w in zip(r, widths)).rstrip() + ("  " + r[5] if r[5] else ""), file=out)
    written = sum(1 for c in changes if c.after)
    clips = len({(c.timeline, c.track, c.clip, c.start) for c in changes})
    unwritten = len(changes) - written
    print(f"{written} parameter(s) of {clips} clip(s) get predicted curves; {unwritten} not written", file=out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", help="timeline export (xmeml, fcpxml, MLT)")
    p.add_argument(
        "--model",
        required=True,
        help="folder written by scripts/export_best.py, or a scripts/train.py run folder (its best checkpoint)",
    )
    p.add_argument("--out", help="write the annotated document here, in the input's dialect")
    p.add_argument("--dry-run", action="store_true", help="print what would change; write nothing")
    p.add_argument("--params", type=_params, help=f"comma-separated parameters to predict ({','.join(PARAMS)})")
    p.add_argument("--json", action="store_true", help="print the annotated timelines as JSON")
    p.add_argument("--threshold", type=float, help="key probability threshold (default: the model's)")
    p.add_argument("--torchscript", action="store_true", help="run the TorchScript file instead of the weights")
    args = p.parse_args(argv)
    if args.out and os.path.exists(args.out) and os.path.samefile(args.out, args.file):
        print(f"error: --out {args.out} is the input file; write the annotation elsewhere", file=sys.stderr)
        return 2
    from core.data.formats import read_bytes
    from core.data.formats.write_back import write_back
    from core.learn.checkpoint import PersistenceError
    from core.serve.export import load_predictor

    try:
        predictor = load_predictor(args.model, torchscript=args.torchscript)
        with open(args.file, "rb") as f:
            data = f.read()
        timelines = read_bytes(data, args.file)
        preds = [predictor.predict_timeline(tl, args.threshold, args.params) for tl in timelines]
        document, changes = None, []
        if args.out or args.dry_run:  # the edit itself is the dry run: it reports what it would write
            predicted = [pr.predicted for pr in preds]
            document, changes = write_back(data, args.file, timelines, predicted, dry_run=args.dry_run)
    except (TimelineError, PersistenceError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.dry_run:
        print_changes(changes)
    elif args.out:
        with open(args.out, "wb") as f:
            f.write(document)
    if args.json:
        print(json.dumps([pr.annotated.to_json() for pr in preds]))
    elif not args.out and not args.dry_run:
        for pr in preds:
            tl = pr.annotated
            print(f"{tl.name}: {len(tl.tracks)} tracks")
            for k, tr in enumerate(tl.tracks):
                for j, c in enumerate(tr.clips):
                    new = pr.predicted.get((k, j), {})
                    if c.curves:
                        curves = ", ".join(
                            f"{name} {describe(name, v)} ({_keys(len(v))}, predicted)"
                            if name in new
                            else f"{name} ({_keys(len(v))})"
                            for name, v in c.curves.items()
                        )
                        print(f"  {tr.kind}{tr.index + 1} {c.name} {float(c.start):.2f}-{float(c.end):.2f}s: {curves}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
