"""Training throughput: tokens/s of the real training loop (core.learn.train_loop.train, what scripts/train.py
runs) on the default model, against its anchor: a bare PyTorch loop (forward, loss, backward, AdamW
step) over the same batches, already collated in memory. The ratio is what data loading, masking,
gradient checks and progress cost on top of the arithmetic.

    python benchmarks/bench_train.py                 # default config, CPU
    python benchmarks/bench_train.py --device cuda   # and on a GPU
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from core.config import apply_overrides, config_from_dict  # noqa: E402
from core.data.batch import MODEL_FEATURES, trim_tracks  # noqa: E402
from core.data.dataset import WindowDataset, collate  # noqa: E402
from core.data.preprocess import prepare  # noqa: E402
from core.learn.loss import MultiTrackLoss  # noqa: E402
from core.learn.model import build_model  # noqa: E402
from core.learn.train_loop import Hooks, resolve_device, train  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--windows", type=int, default=640, help="training windows used by both loops")
    p.add_argument("--preset", help="model preset (default: the default config's model)")
    args = p.parse_args(argv)
    over = {"train.device": args.device, "train.epochs": 1, "train.eval_context": 0.0}
    if args.preset:
        over["model.preset"] = args.preset
    cfg = apply_overrides(config_from_dict({}), over)
    data = prepare(cfg.data)
    n = min(args.windows, len(data.train["timeline"]))
    data.train = {k: v[:n] for k, v in data.train.items()}
    data.val = {k: v[: max(1, n // 8)] for k, v in data.val.items()}
    device = resolve_device(args.device)

    # anchor: the bare loop over pre-collated batches
    torch.manual_seed(0)
    ds = WindowDataset(data.train, data.scalers, context=(0.0, 0.5))
    batches = [
        trim_tracks(collate([ds[i] for i in range(s, min(n, s + cfg.train.batch_size))]))
        for s in range(0, n, cfg.train.batch_size)
    ]
    batches = [{k: v.to(device) for k, v in b.items()} for b in batches]
    model = build_model(cfg.model, len(MODEL_FEATURES)).to(device)
    loss_fn = MultiTrackLoss(cfg.loss, cfg.model, data.scalers.keyframe_pos_weight).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr)
    tokens = sum(int(b["step_mask"].sum()) for b in batches)

    def bare_epoch() -> float:
        t0 = time.perf_counter()
        for b in batches:
            loss, _ = loss_fn(model(b), b)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    bare_epoch()  # warm-up
    bare = tokens / bare_epoch()

    res = train(cfg, data, Hooks(), progress=False, log=lambda s: None)
    loop = res.history[-1]["tokens_per_s"]
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(
        f"device: {name}; model {cfg.model.d_model}x{cfg.model.n_layers} ({cfg.model.attention}); {n} windows, "
        f"{tokens} real tokens per epoch"
    )
    print(f"bare PyTorch loop (anchor): {bare:,.0f} tokens/s")
    print(f"core.learn.train_loop.train:      {loop:,.0f} tokens/s  (ratio {loop / bare:.2f} of the anchor)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
