"""Ray Train vs a plain PyTorch loop on the same model and data: core.learn.train_loop.train in this process against
distributed.train.fit with 1 and 2 workers (Ray's anchor: within 2.5% of native DDP on GPUs).

    python benchmarks/bench_ray_train.py [--epochs 3] [--preset small] [--devices cpu cuda] [--plain-only]
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

from core.config import apply_overrides  # noqa: E402
from distributed.settings import laptop_config  # noqa: E402


def plain(cfg, data, device: str) -> tuple[float, float, float]:
    """core.learn.train_loop.train in this process: (wall s, mean epoch s, tokens/s of the last epoch)."""
    import torch

    from core.learn.train_loop import Hooks, train

    cfg = apply_overrides(cfg, {"train.device": device})
    if device == "cpu":
        torch.set_num_threads(1)  # the same 1 CPU per process as a Ray worker
    t0 = time.perf_counter()
    res = train(cfg, data, Hooks(), progress=False, log=lambda s: None)
    wall = time.perf_counter() - t0
    per_epoch = sum(h["epoch_time_s"] for h in res.history) / len(res.history)
    return wall, per_epoch, res.history[-1]["tokens_per_s"]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--preset", default="small")
    p.add_argument("--devices", nargs="+", default=["cpu"], help="plain-loop devices (cpu, cuda)")
    p.add_argument("--workers", type=int, nargs="*", default=[1, 2], help="Ray Train worker counts (CPU)")
    p.add_argument("--plain-only", action="store_true", help="no Ray: the plain loop on each device")
    p.add_argument("--storage", default=None)
    a = p.parse_args(argv)
    from distributed.data import prepare_cached

    cfg = laptop_config(**{"model.preset": a.preset, "train.epochs": a.epochs})
    store = a.storage or tempfile.mkdtemp(prefix="bench-train-")
    data_path, data = prepare_cached(cfg.data, store, log=lambda s: None)
    results = {}
    for device in a.devices:
        wall, pe, tps = results[device] = plain(cfg, data, device)
        print(
            f"plain loop on {device} ({a.preset}): {wall:.1f}s for {a.epochs} epochs, {pe:.2f}s/epoch, "
            f"{tps:.0f} tokens/s"
        )
    if "cpu" in results and "cuda" in results:
        import torch

        print(
            f"GPU ({torch.cuda.get_device_name()}) vs 1 CPU thread: {results['cpu'][1] / results['cuda'][1]:.1f}x "
            "faster per epoch"
        )
    if a.plain_only:
        return
    import ray

    from core.learn.checkpoint import load_state
    from distributed.cluster import init_ray
    from distributed.settings import SearchSettings
    from distributed.train import fit

    _, per_epoch, _ = results.get("cpu") or plain(cfg, data, "cpu")
    init_ray(SearchSettings(num_cpus=os.cpu_count()), log=lambda s: None)
    try:
        for n in a.workers:
            t0 = time.perf_counter()
            run = fit(
                apply_overrides(cfg, {"train.device": "cpu"}).to_dict(),
                data_path,
                num_workers=n,
                storage_path=store,
                name=f"w{n}-{time.time():.0f}",
                cpus_per_worker=1.0,
            )
            wall = time.perf_counter() - t0
            hist = load_state(os.path.join(run.checkpoint_dir, "state.pt"))["history"]
            pe = sum(h["epoch_time_s"] for h in hist) / len(hist)
            print(
                f"Ray Train {n} worker(s) on CPU: {wall:.1f}s wall, {pe:.2f}s/epoch ({pe / per_epoch:.2f}x the "
                f"plain loop's epoch), {hist[-1]['tokens_per_s']:.0f} tokens/s, fixed cost "
                f"{wall - pe * len(hist):.1f}s per run"
            )
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
