"""Export the best trial of a search, or a training run's best checkpoint, as a self-contained model folder;
or several of them as one model that predicts the mean of their outputs.

    python scripts/export_best.py ~/ray_results/xmlai-architecture-20250101-120000 [--out DIR]
    python scripts/export_best.py runs/NAME [--out DIR]    # a scripts/train.py run (default RUN/best_model)
    python scripts/export_best.py runs/A runs/B --out DIR [--weights 0.5 0.5] [--draws 4] [--no-eval]

The folder holds weights, model.ts (TorchScript), config.yaml, scalers.json, metrics.json (best trial
and constant baseline) and MODEL_CARD.md. Load it with one line:

    from core.serve.export import load_exported; predictor = load_exported("DIR")

With several paths (runs, checkpoint folders or experiments, all trained on the same data and split) the
model is their weighted mean (equal weights by default): on real exports the default model and one trained
with --loss.programme_floor 0.1 err in opposite directions, and their mean was better than either on
average (README, "Measured"). Before writing it, each member and the mean are scored on the split's
validation files against those files' own best constant, structure only and with half the clips given
(the mean of --draws draws); --no-eval skips that (it prepares the training data).
"""

from __future__ import annotations

import argparse
import sys

from _common import run_guarded  # first: puts the repo root on sys.path
from core.learn.checkpoint import PersistenceError
from distributed.export import export_average, export_best, export_run, is_run
from distributed.settings import SearchError


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "experiment",
        nargs="+",
        help="experiment folder (or bucket URI) written by scripts/tune.py, or a run folder written by "
        "scripts/train.py; several: one model averaging them",
    )
    p.add_argument(
        "--out", help="output folder (default EXPERIMENT/best_model or RUN/best_model; required for several)"
    )
    p.add_argument("--weights", type=float, nargs="+", help="several paths: each one's weight (default: equal)")
    p.add_argument("--draws", type=int, default=4, help="several paths: draws of the given clips when scoring")
    p.add_argument("--no-eval", action="store_true", help="several paths: write the mean without scoring it")
    args = p.parse_args(argv)
    if len(args.experiment) > 1 and not args.out:
        p.error("--out is required with several paths")
    if args.weights is not None and len(args.weights) != len(args.experiment):
        p.error(f"{len(args.experiment)} paths but {len(args.weights)} weights")
    if args.weights is not None and (min(args.weights) < 0 or sum(args.weights) <= 0):
        p.error("--weights must be >= 0 and not all 0")
    if args.draws < 1:
        p.error("--draws must be >= 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    return run_guarded(lambda: _export(args), (SearchError, PersistenceError, FileNotFoundError))


def _export(args: argparse.Namespace) -> int:
    if len(args.experiment) > 1:
        export_average(args.experiment, args.out, args.weights, evaluate=not args.no_eval, draws=args.draws)
    elif is_run(args.experiment[0]):
        export_run(args.experiment[0], args.out)
    else:
        export_best(args.experiment[0], args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
