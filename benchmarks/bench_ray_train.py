"""Ray Train vs a plain PyTorch loop on the same model and data: core.train_loop.train in this process against
distributed.train.fit with 1 and 2 workers (Ray's anchor: within 2.5% of native DDP on GPUs).

    python benchmarks/bench_ray_train.py [--epochs 3] [--preset small] [--device cpu|cuda]
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

from core.config import apply_overrides, config_from_dict  # noqa: E402

# the same laptop search config as scripts/tune.py
SEARCH = {"data.synth_count": 60, "data.window": 50, "data.overlap": 10, "model.preset": "tiny",
          "train.early_stopping": 0, "train.warmup_epochs": 0}


def base_config(**overrides):
    return apply_overrides(config_from_dict({}), {**SEARCH, **overrides})


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--preset", default="small")
    p.add_argument("--device", default="cpu")
    p.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    a = p.parse_args(argv)
    import ray
    import torch

    from core.persistence import load_state
    from core.train_loop import Hooks, train
    from distributed.data import prepare_cached
    from distributed.train import fit
    from distributed.tune import SearchSettings, init_ray

    cfg = base_config(**{"model.preset": a.preset, "train.epochs": a.epochs, "train.device": a.device})
    store = tempfile.mkdtemp(prefix="bench-train-")
    init_ray(SearchSettings(num_cpus=os.cpu_count()), log=lambda s: None)
    try:
        data_path, data = prepare_cached(cfg.data, store, log=lambda s: None)
        gpu = a.device == "cuda"
        if not gpu:
            torch.set_num_threads(1)  # the same 1 CPU per process as a Ray worker
        t0 = time.perf_counter()
        res = train(cfg, data, Hooks(), progress=False, log=lambda s: None)
        plain = time.perf_counter() - t0
        per_epoch = sum(h["epoch_time_s"] for h in res.history) / len(res.history)
        print(f"plain loop ({a.device}, {a.preset}): {plain:.1f}s for {a.epochs} epochs, {per_epoch:.2f}s/epoch, "
              f"{res.history[-1]['tokens_per_s']:.0f} tokens/s")
        for n in a.workers:
            t0 = time.perf_counter()
            run = fit(cfg.to_dict(), data_path, num_workers=n, storage_path=store, name=f"w{n}",
                      use_gpu=gpu, cpus_per_worker=1.0, gpus_per_worker=1.0 if gpu else 0.0)
            wall = time.perf_counter() - t0
            hist = load_state(os.path.join(run.checkpoint_dir, "state.pt"))["history"]
            pe = sum(h["epoch_time_s"] for h in hist) / len(hist)
            print(f"Ray Train {n} worker(s): {wall:.1f}s wall ({wall / plain:.2f}x plain), {pe:.2f}s/epoch "
                  f"({pe / per_epoch:.2f}x plain per epoch), {hist[-1]['tokens_per_s']:.0f} tokens/s, fixed cost "
                  f"{wall - pe * len(hist):.1f}s")
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
