"""Export the best trial of a search as a self-contained model folder.

    python scripts/export_best.py ~/ray_results/xmlai-architecture-20250101-120000 [--out DIR]

The folder holds weights, model.ts (TorchScript), config.yaml, scalers.json, metrics.json (best trial
and constant baseline) and MODEL_CARD.md. Load it with one line:

    from core.serve.export import load_exported; predictor = load_exported("DIR")
"""

from __future__ import annotations

import sys

from _common import experiment_args, run_guarded  # first: puts the repo root on sys.path
from distributed.export import export_best
from distributed.settings import SearchError


def main(argv=None) -> int:
    args = experiment_args(argv, __doc__, "output folder (default EXPERIMENT/best_model)")
    return run_guarded(lambda: _export(args.experiment, args.out), (SearchError, FileNotFoundError))


def _export(experiment: str, out: str | None) -> int:
    export_best(experiment, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
