"""Tune overhead: wall time of a search against the sum of its trials' training time, and per-trial startup at
0 and N workers (a 1-epoch trial: wall - epoch time). Ray's own anchor: +14% bookkeeping on 10,000 1 s trials.

    python benchmarks/bench_tune.py [--trials 16] [--epochs 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable from a checkout
    sys.path.insert(0, str(ROOT))

from distributed.cluster import init_ray  # noqa: E402
from distributed.settings import SearchSettings, laptop_config  # noqa: E402
from distributed.tune import run_search  # noqa: E402


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--trials", type=int, default=16)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--workers", type=int, default=2, help="N of the N-worker startup measure")
    p.add_argument("--num-cpus", type=int, default=os.cpu_count())
    a = p.parse_args(argv)
    import ray

    cfg = laptop_config()
    store = tempfile.mkdtemp(prefix="bench-tune-")
    quiet = lambda s: None  # noqa: E731
    t0 = time.perf_counter()
    init_ray(SearchSettings(num_cpus=a.num_cpus), log=quiet)
    t_init = time.perf_counter() - t0
    try:
        # warm the data cache so the search measures trials, not preparation
        from distributed.data import prepare_cached

        prepare_cached(cfg.data, store, log=quiet)
        s = SearchSettings(
            trials=a.trials,
            space="architecture",
            epochs=a.epochs,
            storage=store,
            name="overhead",
            early_stopping=False,
            num_cpus=a.num_cpus,
        )
        res = run_search(cfg, s, log=quiet)
        conc = min(a.num_cpus, a.trials)
        ideal = res.train_s / conc
        print(f"ray.init: {t_init:.1f}s")
        print(
            f"search of {a.trials} trials x {a.epochs} epochs (no early stopping), {conc} at a time: "
            f"wall {res.wall_s:.1f}s, summed training {res.train_s:.1f}s -> ideal wall {ideal:.1f}s; "
            f"overhead {100 * (res.wall_s / ideal - 1):+.0f}% ({(res.wall_s - ideal) / a.trials:.2f}s per trial)"
        )
        for workers in (0, a.workers):
            s1 = SearchSettings(
                trials=1,
                space="loss_weights",
                epochs=1,
                storage=store,
                name=f"startup{workers}",
                workers_per_trial=workers,
                cpus_per_worker=1 if workers == 0 else min(1.0, a.num_cpus / workers),
                num_cpus=a.num_cpus,
            )
            r1 = run_search(cfg, s1, log=quiet)
            print(
                f"1-epoch trial at {workers} workers: wall {r1.wall_s:.1f}s, epoch {r1.train_s:.1f}s -> startup "
                f"and teardown {r1.wall_s - r1.train_s:.1f}s"
            )
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
