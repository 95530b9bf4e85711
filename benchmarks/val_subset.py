"""Does stage 1's capped structure-only validation (``train.val_windows``) rank a search's trials as all the
validation windows would?

    python benchmarks/val_subset.py EXPERIMENT [--caps 512 1024 2048]

EXPERIMENT is a search's folder (scripts/tune.py). Every trial's last checkpoint is scored structure only
(``core.learn.assess``, against the train constant, as stage 1 ranks) on all the validation windows of its
data and on the even subset of each cap (``core.learn.loaders.even_windows``). Printed: one line per trial,
then per cap the Spearman rank correlation with all windows, the mean and largest difference, and whether
both pick the same best trial. The laptop settings' cap of 2,048 was chosen with it (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from core.data.preprocess import prepare  # noqa: E402
from core.learn.assess import assess  # noqa: E402
from core.learn.checkpoint import load_checkpoint  # noqa: E402
from core.learn.loaders import even_windows  # noqa: E402


def last_checkpoints(experiment: Path) -> dict[str, Path]:
    """Trial folder name -> its last checkpoint, for every trial that wrote one."""
    out = {}
    for trial in sorted(experiment.glob("trial_*")):
        cks = sorted(trial.glob("checkpoint_*"))
        if cks:
            out[trial.name] = cks[-1]
    return out


def scores(checkpoints: dict[str, Path], caps: list[int], log=print) -> pd.DataFrame:
    """One row per trial: its structure-only objective on all validation windows (column 0) and on each cap's
    subset. The data is prepared (or found in the cache) once, from the first checkpoint's config: every trial
    of a search trains on the same data."""
    subsets = None  # cap -> validation windows, cut once: a subset of real windows is a copy of hundreds of MB
    rows = {}
    for name, ck in checkpoints.items():
        model, cfg, scalers = load_checkpoint(ck)
        model.eval()
        if subsets is None:
            val = prepare(cfg.data).val
            subsets = {}
            for cap in [0, *caps]:
                keep = even_windows(len(val["features"]), cap)
                subsets[cap] = val if keep is None else {k: v[keep] for k, v in val.items()}
        row = {
            cap: assess(model, cfg, scalers, raw, context=0.0, seed=cfg.train.seed + 1)["objective_vs_train_constant"]
            for cap, raw in subsets.items()
        }
        rows[name] = row
        log(f"{name:<40} " + "  ".join(f"{c or 'all'}: {v:.4f}" for c, v in row.items()))
    return pd.DataFrame.from_dict(rows, orient="index")


def agreement(table: pd.DataFrame, cap: int) -> dict[str, float | bool]:
    """How the cap's scores follow all windows': Spearman's rank correlation, mean and largest |difference|,
    and whether the best trial is the same."""
    full, sub = table[0], table[cap]
    diff = (full - sub).abs()
    return {
        "spearman": float(full.corr(sub, method="spearman")),
        "mean_diff": float(diff.mean()),
        "max_diff": float(diff.max()),
        "same_best": bool(full.idxmin() == sub.idxmin()),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiment", type=Path)
    p.add_argument("--caps", type=int, nargs="+", default=[512, 1024, 2048])
    args = p.parse_args(argv)
    checkpoints = last_checkpoints(args.experiment)
    if len(checkpoints) < 2:
        print(f"{args.experiment}: needs at least two trials with a checkpoint, found {len(checkpoints)}")
        return 2
    table = scores(checkpoints, args.caps)
    for cap in args.caps:
        a = agreement(table, cap)
        print(
            f"cap {cap}: Spearman {a['spearman']:.3f}, mean |difference| {a['mean_diff']:.4f}, largest "
            f"{a['max_diff']:.4f}; {'the same' if a['same_best'] else 'another'} best trial"
            + ("" if np.isfinite(a["spearman"]) else " (all scores equal)")
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
