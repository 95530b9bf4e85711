"""How the defaults were chosen: train several configs on the same prepared data, print a table.

    python benchmarks/quality_sweep.py                       # every variant, 15 epochs each
    python benchmarks/quality_sweep.py --only default,lr2e-3 --epochs 10 --device cuda

Each row: best val_objective (constant baseline = 1.0) with the epoch it came at, the learnable
heads' ratios (targets in issue 2: scale <= 0.1, opacity/level <= 0.5, keyframe <= 0.85), the
style heads, keyframe F1 within one step, the objective with half the clips given as context, and
seconds per epoch on this machine. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.config import apply_overrides, config_from_dict  # noqa: E402
from core.data.preprocess import prepare  # noqa: E402
from core.learn.train_loop import Hooks, train  # noqa: E402

STYLE = {
    "loss.weights.rotation": 0.3,
    "loss.weights.center_x": 0.3,
    "loss.weights.center_y": 0.3,
    "loss.weights.pan": 0.3,
}
VARIANTS: dict[str, dict] = {
    "default": {},
    "lr2e-3": {"train.lr": 2e-3},
    "ff192": {"model.d_ff": 192},
    "reg": {"model.dropout": 0.2, "train.weight_decay": 0.05},
    "style0.3": STYLE,
    "full-attn": {"model.attention": "full"},
    "posw1": {"loss.keyframe_pos_weight": 1.0},
    "base": {"model.preset": "base"},
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", help="comma-separated variant names")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--synth-count", type=int, default=110)
    p.add_argument("--device", default="auto")
    p.add_argument("--set", action="append", default=[], help="extra override for every variant: KEY=VALUE")
    args = p.parse_args(argv)
    import yaml

    extra = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in args.set)}
    base = apply_overrides(
        config_from_dict({}),
        {
            "data.synth_count": args.synth_count,
            "train.epochs": args.epochs,
            "train.device": args.device,
            "train.early_stopping": 0,
            **extra,
        },
    )
    t0 = time.perf_counter()
    data = prepare(base.data)
    print(
        f"data: {args.synth_count} timelines, {len(data.train['features'])} train / {len(data.val['features'])} "
        f"val windows, {time.perf_counter() - t0:.1f}s",
        flush=True,
    )
    names = args.only.split(",") if args.only else list(VARIANTS)
    rows = []
    for name in names:
        cfg = apply_overrides(base, VARIANTS[name])
        t0 = time.perf_counter()
        res = train(cfg, data, Hooks(), progress=False, log=lambda s: None)
        dt = (time.perf_counter() - t0) / max(res.epochs_run, 1)
        b = res.best
        curve = " ".join(f"{h['val_objective']:.2f}" for h in res.history)
        rows.append(name)
        print(
            f"{name:10s} best {b['val_objective']:.3f} @ep{b['epoch']:2d} ctx {b.get('val_objective_ctx', 0):.3f} "
            f"| scale {b.get('ratio/scale', 0):.3f} opac {b.get('ratio/opacity', 0):.3f} "
            f"level {b.get('ratio/level_db', 0):.3f} kf {b.get('ratio/keyframe', 0):.3f} "
            f"interp {b.get('ratio/interpolation', 0):.3f} | rot {b.get('ratio/rotation', 0):.2f} "
            f"cx {b.get('ratio/center_x', 0):.2f} cy {b.get('ratio/center_y', 0):.2f} "
            f"pan {b.get('ratio/pan', 0):.2f} | F1w1 {b.get('keyframe_f1_within1', 0):.3f} "
            f"F1 {b.get('keyframe_f1', 0):.3f} | {dt:.1f}s/epoch",
            flush=True,
        )
        print(f"{'':10s} curve {curve}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
