"""An experiment's report: an HTML page with PNG plots (optimisation history, learning curves with ASHA's
stops, parameter importances, per-head ratios of the best model, predicted against true curves).

    python scripts/report.py ~/ray_results/xmlai-architecture-20250101-120000 [--out DIR]

The search writes the same report into EXPERIMENT/report/ when it ends; this rebuilds it (for example
while a search runs, or after --resume).
"""

from __future__ import annotations

import sys

from _common import experiment_args, run_guarded  # first: puts the checkout on sys.path


def main(argv=None) -> int:
    args = experiment_args(argv, __doc__, "report folder (default EXPERIMENT/report)")
    return run_guarded(lambda: _write(args.experiment, args.out), (FileNotFoundError, RuntimeError))


def _write(experiment: str, out: str | None) -> int:
    from distributed.report import write_report  # here: matplotlib takes a while, and --help needs none of it

    print(f"report: {write_report(experiment, out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
