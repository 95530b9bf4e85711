"""Export the best trial of a search as a self-contained model folder.

    python scripts/export_best.py ~/ray_results/xmlai-architecture-20250101-120000 [--out DIR]

The folder holds weights, model.ts (TorchScript), config.yaml, scalers.json, metrics.json (best trial
and constant baseline) and MODEL_CARD.md. Load it with one line:

    from core.serve.export import load_exported; predictor = load_exported("DIR")
"""

from __future__ import annotations

import argparse
import sys

import _common  # noqa: F401  (puts the repo root on sys.path when run from a checkout)
from distributed.export import export_best
from distributed.settings import SearchError


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiment", help="experiment folder (or URI) written by scripts/tune.py")
    p.add_argument("--out", help="output folder (default EXPERIMENT/best_model)")
    args = p.parse_args(argv)
    try:
        export_best(args.experiment, args.out)
    except (SearchError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
