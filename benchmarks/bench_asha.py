"""Early stopping: ASHA + TPE against random search without early stopping, same trial count and epoch cap.

The measure: the epochs each search trains (summed over all trials, in report order) until its best so far
reaches random search's final best. ASHA+TPE "pays off" when it needs <= 1/3 of random search's epochs (the
issue's target); when it never reaches that value, the script says so and gives the epochs to reach the
worse of the two bests instead.

    python benchmarks/bench_asha.py                         # 64 + 64 trials: long on 2 shared cores (an hour+)
    python benchmarks/bench_asha.py --trials 12 --epochs 3  # a smaller form that checks the benchmark runs

Each search is a normal experiment under --storage (named asha_tpe_mv / random; asha_tpe for --searcher tpe,
asha_tpe_g2_rf4_mv for --grace-period 2 --reduction-factor 4, random_s1 and asha_tpe_mv_s1 for --seed 1):
rerunning with the same --storage resumes an interrupted one instead of starting over, and reuses the random
search, which ASHA's settings do not change.
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

import numpy as np  # noqa: E402

from distributed.cluster import init_ray  # noqa: E402
from distributed.settings import SEARCHERS, STATE_FILE, SearchSettings, laptop_config  # noqa: E402
from distributed.tune import run_search  # noqa: E402


def epochs_to_reach(reports, target: float) -> int | float:
    """Epochs trained (all trials, in report order) until the best so far is <= target; inf if never."""
    best, n = math.inf, 0
    for r in reports:
        n += 1
        best = min(best, r["val_objective"])
        if best <= target + 1e-12:
            return n
    return math.inf


def expected_epochs_to_reach(reports, target: float, orders: int = 2000, seed: int = 0) -> float:
    """Random search's epochs to reach ``target`` averaged over random orders of its trials (run one after
    another): its trials are independent draws, so the order they happened to run in is luck, and so is
    ``epochs_to_reach`` on it. inf if no trial reaches ``target``."""
    trials: dict[str, list[float]] = {}
    for r in sorted(reports, key=lambda r: (r["trial_id"], r["epoch"])):
        trials.setdefault(r["trial_id"], []).append(r["val_objective"])
    curves = list(trials.values())
    # per trial: its epochs in all, and the epoch at which it first reaches target (0: never)
    cost = np.array([len(c) for c in curves])
    hit = np.array([next((i + 1 for i, v in enumerate(c) if v <= target + 1e-12), 0) for c in curves])
    if not hit.any():
        return math.inf
    rng = np.random.default_rng(seed)
    total = 0.0
    for _ in range(orders):
        order = rng.permutation(len(curves))
        first = next(i for i, t in enumerate(order) if hit[t])  # the first trial in this order that reaches it
        total += cost[order[:first]].sum() + hit[order[first]]
    return total / orders


def asha_suffix(
    grace_period: int, reduction_factor: int, searcher: str = "tpe", startup_trials: int = SearchSettings.startup_trials
) -> str:
    """The ASHA experiment's name suffix: none for the first settings (names of earlier storages stay valid)."""
    suffix = "" if (grace_period, reduction_factor) == (1, 3) else f"_g{grace_period}_rf{reduction_factor}"
    st = "" if startup_trials == SearchSettings.startup_trials else f"_st{startup_trials}"
    return suffix + ("_mv" if searcher == "tpe-mv" else "") + st


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=64)
    p.add_argument("--epochs", type=int, default=6, help="epoch cap per trial (ASHA's max_t)")
    p.add_argument("--space", default="full")
    p.add_argument("--storage", help="folder for both experiments (default: a new temp folder)")
    p.add_argument("--num-cpus", type=int, default=os.cpu_count())
    p.add_argument("--grace-period", type=int, default=1, help="ASHA's epochs before it may stop a trial")
    p.add_argument("--reduction-factor", type=int, default=3, help="ASHA keeps the best 1/N at each rung")
    asha_searchers = [name for name in SEARCHERS if name != "random"]  # random search is the reference
    p.add_argument(
        "--searcher", choices=asha_searchers, default=SearchSettings.searcher, help="the searcher beside ASHA"
    )
    p.add_argument(
        "--startup-trials",
        type=int,
        default=SearchSettings.startup_trials,
        help="trials TPE samples at random first (experiments get a _st<N> suffix unless 10)",
    )
    p.add_argument("--seed", type=int, default=0, help="both searchers' seed (experiments get a _s<N> suffix)")
    a = p.parse_args(argv)
    import ray

    store = str(Path(a.storage).resolve()) if a.storage else tempfile.mkdtemp(prefix="bench-asha-")
    init_ray(SearchSettings(num_cpus=a.num_cpus), log=lambda s: None)
    try:
        runs = {}
        for label, searcher, stop in (("ASHA+TPE", a.searcher, True), ("random, no early stopping", "random", False)):
            # the random search does not depend on ASHA's settings: one --storage serves several of them
            name = (
                "random"
                if not stop
                else "asha_tpe" + asha_suffix(a.grace_period, a.reduction_factor, searcher, a.startup_trials)
            )
            name += f"_s{a.seed}" if a.seed else ""
            s = SearchSettings(
                trials=a.trials,
                space=a.space,
                epochs=a.epochs,
                storage=store,
                name=name,
                searcher=searcher,
                startup_trials=a.startup_trials,
                seed=a.seed,
                early_stopping=stop,
                grace_period=a.grace_period,
                reduction_factor=a.reduction_factor,
                num_cpus=a.num_cpus,
                resume=Path(store, name, STATE_FILE).is_file(),
            )
            runs[label] = run_search(laptop_config(), s, log=lambda s: None)
        rnd, asha = runs["random, no early stopping"], runs["ASHA+TPE"]
        target = rnd.best["val_objective"]
        print(
            f"{a.trials} trials each, up to {a.epochs} epochs, space {a.space!r}, ASHA grace period {a.grace_period} "
            f"and reduction factor {a.reduction_factor}, searcher {a.searcher} ({a.startup_trials} random first), "
            f"seed {a.seed}; experiments under {store}"
        )
        for label, r in runs.items():
            print(
                f"{label:>26}: best {r.best['val_objective']:.4f}, {r.epochs} epochs in total, wall {r.wall_s:.0f}s, "
                f"{epochs_to_reach(r.reports, target)} epochs to reach random search's best ({target:.4f})"
            )
        e_rnd, e_asha = epochs_to_reach(rnd.reports, target), epochs_to_reach(asha.reports, target)
        if math.isfinite(e_asha):
            print(f"ASHA+TPE needs {e_asha / e_rnd:.2f}x random search's epochs to reach its best (target <= 0.33x)")
            e_exp = expected_epochs_to_reach(rnd.reports, target)
            print(
                f"random search needs {e_exp:.0f} epochs on average over random orders of its own trials (it needed "
                f"{e_rnd} in the order they ran): ASHA+TPE needs {e_asha / e_exp:.2f}x that"
            )
        else:
            worse = max(rnd.best["val_objective"], asha.best["val_objective"])
            e1, e2 = epochs_to_reach(asha.reports, worse), epochs_to_reach(rnd.reports, worse)
            e_exp = expected_epochs_to_reach(rnd.reports, worse)
            print(
                f"ASHA+TPE never reached random search's best; to reach the worse of the two bests ({worse:.4f}) it "
                f"needed {e1} epochs against random search's {e2} ({e1 / e2:.2f}x), and {e_exp:.0f} on average over "
                f"random orders of its own trials ({e1 / e_exp:.2f}x)"
            )
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
