"""One evaluation of a model on a set of raw windows, beside the constants and rules of core.learn.rules:
what scripts/evaluate.py prints and benchmarks/quality_real.py reports."""

from __future__ import annotations

import math

import torch
from torch.utils.data import DataLoader

from core.data.dataset import WindowDataset, collate
from core.learn.evaluate import compare
from core.learn.loss import MultiTrackLoss
from core.learn.rules import comparators, constant_of


def assess(
    model, cfg, scalers, raw, context: float = 0.0, seed: int = 0, device: str = "cpu", batch_size: int = 32
) -> dict:
    """The model beside every comparator on raw windows (core.data.batch.RAW_KEYS) with ``context`` of each
    timeline's clips given: the dict scripts/evaluate.py prints (see ``report``)."""
    dev = torch.device(device)
    model = model.to(dev)
    ds = WindowDataset(raw, scalers, context=context, seed=seed, skip_empty=True)
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False, collate_fn=collate)
    loss_fn = MultiTrackLoss(cfg.loss, cfg.model, keyframe_pos_weight=scalers.keyframe_pos_weight).to(dev)
    const = constant_of(raw, scalers.target_mean, scalers.target_std)
    comps = comparators(scalers, const, cfg.model.targets, cfg.model.classify)
    stds = torch.as_tensor(scalers.target_std, dtype=torch.float32)
    res = compare(model, loader, loss_fn, comps, stds, cfg.model, dev, threshold=cfg.train.keyframe_threshold)
    return report(res, cfg, context, len(ds))


def _clean(v):
    return None if isinstance(v, float) and not math.isfinite(v) else v


def report(res: dict, cfg, context: float, n_windows: int) -> dict:
    """Flatten ``core.learn.evaluate.compare`` output: overall and per-head ratios to every comparator
    (``objective_vs_<name>``, ``heads[h]["ratio_vs_<name>"]``), MAE, F1, and each comparator's own ratios."""
    m = res["model"]
    names = list(res["comparators"])
    heads = {}
    for h in cfg.model.heads:
        row = {f"ratio_vs_{n}": _clean(m.get(f"ratio_vs_{n}/{h}")) for n in names}
        row["loss"] = _clean(m.get(f"loss/{h}"))
        if h in cfg.model.targets:
            row["mae"] = _clean(m.get(f"mae/{h}"))
        heads[h] = row
    out = {
        "context": context,
        "windows": n_windows,
        **{f"objective_vs_{n}": _clean(m.get(f"objective_vs_{n}")) for n in names},
        "heads": heads,
        "keyframe_f1": _clean(m.get("keyframe_f1")),
        "keyframe_f1_within1": _clean(m.get("keyframe_f1_within1")),
        "interp_acc": _clean(m.get("interp_acc")),
        "comparators": {},
    }
    for n, c in res["comparators"].items():
        out["comparators"][n] = {
            "objective_vs_data_constant": _clean(c.get("objective_vs_data_constant")),
            "heads": {
                h: {
                    "ratio_vs_data_constant": _clean(c.get(f"ratio_vs_data_constant/{h}")),
                    **({"mae": _clean(c.get(f"mae/{h}"))} if h in cfg.model.targets else {}),
                }
                for h in cfg.model.heads
            },
            "keyframe_f1_within1": _clean(c.get("keyframe_f1_within1")),
        }
    return out
