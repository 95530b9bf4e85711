"""Two models of one split, and their average, on the real corpora's validation files (issue 6).

    python benchmarks/average_models.py RUN_A RUN_B [--draws 4] [--weight 0.5 ...] [--out FILE.json]

RUN_A and RUN_B are ``benchmarks/quality_real.py --out`` folders trained on the same split (the same data
config, so the same scalers), for example the default loss and ``--set loss.programme_floor 0.1``. Each
model, and the weighted mean of their outputs (every head's output, keyframe and interpolation logits
included: ``(1 - w) * A + w * B``, ``core.learn.ensemble.MeanModel``), is scored on all of the split's
validation files against the data's best constant, structure only and with half the clips given (the mean
of ``--draws`` draws), per head. Nothing is trained (``scripts/export_best.py RUN_A RUN_B --out DIR`` writes
that mean as one model). Figures depend on the machine only through time.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from quality_real import evaluate_contexts  # noqa: E402

from core.data.preprocess import prepare  # noqa: E402
from core.learn.checkpoint import PersistenceError, load_checkpoint  # noqa: E402
from core.learn.ensemble import MeanModel, check_members  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("a", type=Path, help="a quality_real.py --out folder")
    p.add_argument("b", type=Path, help="another, trained on the same split")
    p.add_argument("--draws", type=int, default=4, help="draws of the given clips for the half-given figures")
    p.add_argument("--weight", type=float, nargs="+", default=[0.5], help="B's share in each average")
    p.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = p.parse_args(argv)
    ma, ca, sa = load_checkpoint(args.a / "real" / "checkpoints" / "best")
    mb, cb, sb = load_checkpoint(args.b / "real" / "checkpoints" / "best")
    try:
        check_members([(str(args.a), ca, sa), (str(args.b), cb, sb)])
    except PersistenceError as e:
        p.error(str(e))
    data = prepare(ca.data)
    figures = {}
    models = [("A", ma), ("B", mb)] + [(f"average w={w:g}", MeanModel([ma, mb], [1 - w, w])) for w in args.weight]
    for name, model in models:
        r = evaluate_contexts(model, ca, sa, data.val, args.draws)
        figures[name] = {c: {"objective": v["objective_vs_data_constant"], "heads": v["heads"]} for c, v in r.items()}
        s0, s5 = figures[name]["context_0"], figures[name]["context_0.5"]
        heads = " ".join(f"{h} {v:.3f}" for h, v in s0["heads"].items() if v is not None)
        print(f"{name}: {s0['objective']:.3f} structure only / {s5['objective']:.3f} half given; {heads}", flush=True)
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
