"""Predict how an editor would animate a timeline, with an exported model.

    python scripts/annotate.py timeline.xml --model best_model               # summary per clip
    python scripts/annotate.py timeline.xml --model best_model --json         # inspect_timeline's JSON shape
    python scripts/annotate.py timeline.xml --model best_model --out out.xml  # annotated xmeml

Clips that already have keyframes are the context; every other clip gets predicted curves.
"""

from __future__ import annotations

import argparse
import json
import sys

from _common import ROOT  # noqa: F401  (puts the repo on sys.path)
from core.data.timeline import TimelineError


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", help="timeline export (xmeml, fcpxml, MLT)")
    p.add_argument("--model", required=True, help="folder written by scripts/export_best.py")
    p.add_argument("--out", help="write the annotated timeline(s) as xmeml here")
    p.add_argument("--json", action="store_true", help="print the annotated timelines as JSON")
    p.add_argument("--threshold", type=float, help="key probability threshold (default: the model's)")
    p.add_argument("--torchscript", action="store_true", help="run the TorchScript file instead of the weights")
    args = p.parse_args(argv)
    from core.learn.checkpoint import PersistenceError
    from core.serve.export import load_exported

    try:
        predictor = load_exported(args.model, torchscript=args.torchscript)
        preds = predictor.predict_file(args.file, threshold=args.threshold)
    except (TimelineError, PersistenceError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    annotated = [pr.annotated for pr in preds]
    if args.out:
        from core.data.formats.xmeml_writer import write_xmeml

        with open(args.out, "wb") as f:
            f.write(write_xmeml(annotated))
    if args.json:
        print(json.dumps([tl.to_json() for tl in annotated]))
    elif not args.out:
        for tl in annotated:
            print(f"{tl.name}: {len(tl.tracks)} tracks")
            for tr in tl.tracks:
                for c in tr.clips:
                    if c.curves:
                        curves = ", ".join(f"{k} ({len(v)} keys)" for k, v in c.curves.items())
                        print(f"  {tr.kind}{tr.index + 1} {c.name} {float(c.start):.2f}-{float(c.end):.2f}s: {curves}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
