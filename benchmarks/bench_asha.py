"""Early stopping: ASHA + TPE against random search without early stopping, same trial count and epoch budget.
The compute each needs to reach the same val_objective = epochs summed over all trials (in report order) until
its best-so-far reaches the target (the worse of the two searches' final bests, so both reach it).

    python benchmarks/bench_asha.py [--trials 24] [--epochs 6]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable from a checkout
    sys.path.insert(0, str(ROOT))

from distributed.cluster import init_ray  # noqa: E402
from distributed.settings import SearchSettings, laptop_config  # noqa: E402
from distributed.tune import run_search  # noqa: E402


def epochs_to_reach(reports, target: float) -> int | float:
    best, n = math.inf, 0
    for r in reports:
        n += 1
        best = min(best, r["val_objective"])
        if best <= target:
            return n
    return math.inf


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--trials", type=int, default=24)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--space", default="architecture")
    a = p.parse_args(argv)
    import ray

    store = tempfile.mkdtemp(prefix="bench-asha-")
    init_ray(SearchSettings(num_cpus=os.cpu_count()), log=lambda s: None)
    try:
        runs = {}
        for label, searcher, stop in (("ASHA+TPE", "tpe", True), ("random, no early stopping", "random", False)):
            s = SearchSettings(
                trials=a.trials,
                space=a.space,
                epochs=a.epochs,
                storage=store,
                name=label.split(",")[0].replace("+", "_"),
                searcher=searcher,
                early_stopping=stop,
            )
            runs[label] = run_search(laptop_config(), s, log=lambda s: None)
        target = max(r.best["val_objective"] for r in runs.values())
        print(f"target val_objective {target:.4f} (the worse of the two bests; constant baseline 1.0)")
        for label, r in runs.items():
            print(
                f"{label:>26}: best {r.best['val_objective']:.4f}, {r.epochs} epochs in total, "
                f"{epochs_to_reach(r.reports, target)} epochs to reach the target, wall {r.wall_s:.0f}s"
            )
        a_, b_ = (epochs_to_reach(r.reports, target) for r in runs.values())
        print(f"compute ratio (random / ASHA+TPE) to reach the target: {b_ / a_:.2f}x")
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
