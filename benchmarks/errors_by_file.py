"""Where a model's error beyond the constants comes from: per validation file and regression head, the
squared error (standardised units) of the model, the train constant, the validation files' pooled best
constant and the same-track rule, sorted by the model's excess over that constant.

    python benchmarks/errors_by_file.py RUN [--context 0.5] [--heads rotation center_y]

RUN is a run folder trained with a ``data.data_dir`` (scripts/train.py --data, benchmarks/quality_real.py's
``real``); its config gives the data and the split. Diagnostic only (issue 6): it found that rotation's excess
was the training programmes' rare rotated clips pulling every prediction off 0, and that one programme's
-157.5 degree clip on a given track makes seed 1's rotation with clips given (README, "Measured").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from core.data.batch import trim_tracks  # noqa: E402
from core.data.dataset import WindowDataset, collate  # noqa: E402
from core.data.preprocess import prepare  # noqa: E402
from core.learn.checkpoint import load_checkpoint  # noqa: E402
from core.learn.evaluate import RATIO_SMOOTHING, _Acc, accumulate  # noqa: E402
from core.learn.loss import MultiTrackLoss, baseline_outputs  # noqa: E402
from core.learn.rules import constant_of, same_track_outputs  # noqa: E402

SIDES = ("model", "train constant", "val constant", "rule")


def errors_by_file(run: Path, context: float, heads: list[str]) -> tuple[dict, dict]:
    """({file: {head: (positions, model SSE, train SSE, val SSE, rule SSE)}}, the same summed over files)."""
    model, cfg, scalers = load_checkpoint(run / "checkpoints" / "best" if (run / "checkpoints").is_dir() else run)
    data = prepare(cfg.data)
    pooled = constant_of(data.val, scalers.target_mean, scalers.target_std)
    loss_fn = MultiTrackLoss(cfg.loss, cfg.model, keyframe_pos_weight=scalers.keyframe_pos_weight)
    stds = torch.as_tensor(scalers.target_std, dtype=torch.float32)
    t, c = cfg.model.targets, cfg.model.classify
    sides = {
        "model": lambda b: loss_fn.calibrate(model(b)),
        "train constant": lambda b: baseline_outputs(b, scalers.baseline, t, c),
        "val constant": lambda b: baseline_outputs(b, pooled, t, c),
        "rule": lambda b: same_track_outputs(b, pooled, t, c),
    }
    model.eval()
    per_file, total = {}, {h: np.zeros(1 + len(SIDES)) for h in heads}
    for name, (first, count) in sorted(data.meta["timelines_of"].items()):
        if data.meta["splits"].get(name) != "val":
            continue
        sel = (data.val["timeline"] >= first) & (data.val["timeline"] < first + count)
        if not sel.any():
            continue
        ds = WindowDataset({k: v[sel] for k, v in data.val.items()}, scalers, context=context, seed=0, skip_empty=True)
        acc = _Acc()
        with torch.no_grad():
            for batch in DataLoader(ds, batch_size=32, collate_fn=collate):
                batch = trim_tracks(batch)
                for side, fn in sides.items():
                    accumulate(acc, side + "/", fn(batch), batch, loss_fn, stds, cfg.model)
        row = {}
        for h in heads:
            n = acc.values.get(f"model/count/{h}", 0.0)
            row[h] = np.array([n] + [acc.values.get(f"{side}/loss/{h}", 0.0) for side in SIDES])
            total[h] += row[h]
        per_file[name] = row
    return per_file, total


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path)
    p.add_argument("--context", type=float, default=0.0, help="share of each timeline's clips given")
    p.add_argument("--heads", nargs="+", default=["rotation", "center_x", "center_y", "scale", "pan"])
    p.add_argument("--top", type=int, default=8, help="files per head")
    a = p.parse_args(argv)
    per_file, total = errors_by_file(a.run, a.context, a.heads)
    for h in a.heads:
        n, *sse = total[h]
        if not n:
            print(f"\n{h}: no validation position")
            continue
        val = sse[2] / n
        k = RATIO_SMOOTHING  # the ratios as core.learn.evaluate smooths them
        ratios = "  ".join(f"{side} {(s / n + k) / (val + k):.3f}" for side, s in zip(SIDES, sse))
        print(f"\n{h}: {n:.0f} positions; against the val constant: {ratios}")
        print(f"  {'file':56} {'positions':>9} {'excess':>8} " + " ".join(f"{s[:10]:>10}" for s in SIDES))
        rows = sorted(per_file.items(), key=lambda kv: -(kv[1][h][1] - kv[1][h][3]))
        for name, row in rows[: a.top]:
            m, *s = row[h]
            if m:
                excess = (s[0] - s[2]) / n  # the file's share of the model's excess, pooled units
                print(f"  {name[-56:]:56} {m:9.0f} {excess:8.4f} " + " ".join(f"{v / m:10.4f}" for v in s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
