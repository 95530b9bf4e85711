"""Export the best trial of a search, or a training run's best checkpoint, as a self-contained model folder.

    python scripts/export_best.py ~/ray_results/xmlai-architecture-20250101-120000 [--out DIR]
    python scripts/export_best.py runs/NAME [--out DIR]    # a scripts/train.py run (default RUN/best_model)

The folder holds weights, model.ts (TorchScript), config.yaml, scalers.json, metrics.json (best trial
and constant baseline) and MODEL_CARD.md. Load it with one line:

    from core.serve.export import load_exported; predictor = load_exported("DIR")
"""

from __future__ import annotations

import sys

from _common import experiment_args, run_guarded  # first: puts the repo root on sys.path
from core.learn.checkpoint import PersistenceError
from distributed.export import export_best, export_run, is_run
from distributed.settings import SearchError


def main(argv=None) -> int:
    args = experiment_args(
        argv,
        __doc__,
        "output folder (default EXPERIMENT/best_model or RUN/best_model)",
        "experiment folder (or bucket URI) written by scripts/tune.py, or a run folder written by scripts/train.py",
    )
    return run_guarded(lambda: _export(args.experiment, args.out), (SearchError, PersistenceError, FileNotFoundError))


def _export(path: str, out: str | None) -> int:
    if is_run(path):
        export_run(path, out)
    else:
        export_best(path, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
