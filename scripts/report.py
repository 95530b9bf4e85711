"""An experiment's report: an HTML page with PNG plots (optimisation history, learning curves with ASHA's
stops, parameter importances, per-head ratios of the best model, predicted against true curves).

    python scripts/report.py ~/ray_results/xmlai-architecture-20250101-120000 [--out DIR]

The search writes the same report into EXPERIMENT/report/ when it ends; this rebuilds it (for example
while a search runs, or after --resume).
"""

from __future__ import annotations

import argparse
import sys

import _common  # noqa: F401 (puts the checkout on sys.path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiment", help="experiment folder (or bucket URI) written by scripts/tune.py")
    p.add_argument("--out", help="report folder (default EXPERIMENT/report)")
    args = p.parse_args(argv)
    from distributed.report import write_report

    try:
        print(f"report: {write_report(args.experiment, args.out)}")
    except (FileNotFoundError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
