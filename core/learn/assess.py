"""One evaluation of a model on a set of raw windows, beside the constants and rules of core.learn.rules:
what scripts/evaluate.py prints and benchmarks/quality_real.py reports."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.utils.data import DataLoader

from core.data.batch import trim_tracks
from core.data.dataset import WindowDataset, collate
from core.learn.evaluate import compare
from core.learn.loss import MultiTrackLoss
from core.learn.rules import comparators, constant_of


def assess(
    model,
    cfg,
    scalers,
    raw,
    context: float = 0.0,
    seed: int = 0,
    draws: int = 1,
    device: str = "cpu",
    batch_size: int = 32,
) -> dict:
    """The model beside every comparator on raw windows (core.data.batch.RAW_KEYS) with ``context`` of each
    timeline's clips given: the dict scripts/evaluate.py prints (see ``report``).

    The given clips are drawn once per timeline, so with a few dozen timelines a head's figure follows which
    clips happen to be given: on the real corpora's split 0, opacity with half given scored 0.12 to 0.36
    against the data constant over four draws, the model ahead of the same-track rule on three. With
    ``draws`` > 1 (and ``context`` > 0) every figure is the mean over the draws of seeds ``seed``,
    ``seed + 1``, ...; ``per_draw`` keeps each draw's ratios to the data constant (``draw_summary``)."""
    dev = torch.device(device)
    model = model.to(dev)
    loss_fn = MultiTrackLoss(cfg.loss, cfg.model, keyframe_pos_weight=scalers.keyframe_pos_weight).to(dev)
    const = constant_of(raw, scalers.target_mean, scalers.target_std)
    comps = comparators(scalers, const, cfg.model.targets, cfg.model.classify)
    stds = torch.as_tensor(scalers.target_std, dtype=torch.float32)
    ds = WindowDataset(raw, scalers, context=context, seed=seed, skip_empty=True)
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False, collate_fn=collate)
    reports = []
    for s in range(seed, seed + (max(1, int(draws)) if context > 0 else 1)):  # structure only: one draw is all
        ds.set_seed(s)
        res = compare(model, loader, loss_fn, comps, stds, cfg.model, dev, threshold=cfg.train.keyframe_threshold)
        reports.append(report(res, cfg, context, len(ds)))
    out = average_reports(reports)
    out["windows"] = reports[0]["windows"]  # the same windows every draw
    out["draws"] = len(reports)
    out["per_draw"] = [draw_summary(r) for r in reports]
    return out


def window_files(meta: dict, timelines: np.ndarray, names: list[str]) -> np.ndarray:
    """Per raw window (``timelines``: each window's global timeline number), the index in ``names`` of its file
    (``meta["timelines_of"]``), -1 for a window of a file not named: ``file_sums``' and ``file_shares``'
    ``window_file``."""
    of_timeline = np.full(int(meta.get("n_timelines", 0)) + 1, -1, np.int64)
    for i, name in enumerate(names):
        first, count = meta["timelines_of"][name]
        of_timeline[first : first + count] = i
    return of_timeline[np.asarray(timelines)]


def file_sums(
    sides: dict,
    loss_fn,
    scalers,
    raw,
    window_file: np.ndarray,
    n_files: int,
    context: float = 0.0,
    seed: int = 0,
    device: str = "cpu",
    batch_size: int = 32,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Loss sums per file, one pass over ``raw``'s non-empty windows (one draw of the given clips, ``seed``).

    ``sides``: {name: batch -> outputs} (the model, comparators); ``window_file[w]``: the file index (below
    ``n_files``) of raw window ``w``. Returns (sums (sides, files, heads) of ``loss_fn.window_sums``' losses in
    ``sides``' order and the heads' (targets, then classes), valid positions (files, heads), non-empty windows
    per file)."""
    dev = torch.device(device)
    heads = loss_fn.heads
    ds = WindowDataset(raw, scalers, context=context, seed=seed, skip_empty=True)
    files = np.asarray(window_file)[ds.indices]
    sums = np.zeros((len(sides), n_files, len(heads)))
    counts = np.zeros((n_files, len(heads)))
    at = 0
    with torch.no_grad():
        for batch in DataLoader(ds, batch_size=batch_size, shuffle=False, collate_fn=collate):
            batch = {k: v.to(dev) for k, v in trim_tracks(batch).items()}
            rows = files[at : at + len(batch["targets"])]
            at += len(rows)
            for i, fn in enumerate(sides.values()):
                per_window = loss_fn.window_sums(fn(batch), batch)
                for j, h in enumerate(heads):
                    np.add.at(sums[i, :, j], rows, per_window[h][0].cpu().numpy())
                    if i == 0:
                        np.add.at(counts[:, j], rows, per_window[h][1].cpu().numpy())
    return sums, counts, np.bincount(files, minlength=n_files)


def file_shares(
    model,
    cfg,
    scalers,
    raw,
    window_file: np.ndarray,
    names: list[str],
    context: float = 0.0,
    seed: int = 0,
    device: str = "cpu",
    batch_size: int = 32,
) -> list[dict]:
    """Which files carry each head's ratio to the data constant (one draw of the given clips, ``seed``).

    ``window_file[w]`` is the index in ``names`` of raw window ``w``'s file. Per file and head, its share
    (model's loss - the data constant's) / the data constant's loss over all files: the shares of a head sum
    over the files to its ratio - 1 (before the ratios' smoothing), and their mean over the heads to the
    objective - 1. One programme held at another level, or one long clip, can make a head's figure alone.
    Returns one dict per file with windows (``name``, ``windows``, ``shares`` {head: share}, ``share`` the
    heads' mean), largest ``share`` first."""
    dev = torch.device(device)
    was_training = model.training
    model = model.to(dev).eval()
    loss_fn = MultiTrackLoss(cfg.loss, cfg.model, keyframe_pos_weight=scalers.keyframe_pos_weight).to(dev)
    constant = constant_of(raw, scalers.target_mean, scalers.target_std)
    const = comparators(scalers, constant, cfg.model.targets, cfg.model.classify)["data_constant"]
    sides = {"model": lambda b: loss_fn.calibrate(model(b)), "data constant": const}
    n = len(names)
    sums, _, windows = file_sums(sides, loss_fn, scalers, raw, window_file, n, context, seed, device, batch_size)
    model.train(was_training)
    heads = loss_fn.heads
    total = sums[1].sum(axis=0)
    shares = np.where(total > 0, (sums[0] - sums[1]) / np.where(total > 0, total, 1.0), np.nan)
    out = [
        {
            "name": names[f],
            "windows": int(windows[f]),
            "shares": {h: None if math.isnan(v) else float(v) for h, v in zip(heads, shares[f])},
            "share": float(np.nanmean(shares[f])) if not np.isnan(shares[f]).all() else 0.0,
        }
        for f in range(len(names))
        if windows[f]
    ]
    return sorted(out, key=lambda d: -d["share"])


def draw_summary(r: dict) -> dict:
    """One draw's ratios to the data constant: the model's and the same-track rule's, overall and per head."""
    rule = r["comparators"]["same_track"]
    return {
        "objective_vs_data_constant": r["objective_vs_data_constant"],
        "heads": {h: v["ratio_vs_data_constant"] for h, v in r["heads"].items()},
        "same_track": {
            "objective_vs_data_constant": rule["objective_vs_data_constant"],
            "heads": {h: v["ratio_vs_data_constant"] for h, v in rule["heads"].items()},
        },
    }


def average_reports(reports: list[dict], weights: list[float] | None = None):
    """The weighted mean of reports of one shape, number by number (equal weights by default; lists of one
    length item by item); None where any report has None; anything else (text) from the first."""
    weights = [1.0] * len(reports) if weights is None else [float(w) for w in weights]
    first = reports[0]
    if isinstance(first, dict):
        return {k: average_reports([r[k] for r in reports], weights) for k in first}
    if isinstance(first, list) and all(isinstance(r, list) and len(r) == len(first) for r in reports):
        return [average_reports(list(items), weights) for items in zip(*reports)]
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in reports):
        return sum(v * w for v, w in zip(reports, weights)) / sum(weights)
    if any(v is None for v in reports):
        return None
    return first


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


# a head's ratio to the data's own constant above this is one a constant would have predicted better (issue 6)
HEAD_LIMIT = 1.05


def verdict(best: dict, advise: bool = True) -> list[str]:
    """What a run's best epoch says against the validation files' own best constant (``*_vs_data`` metrics: a run
    trained on a folder of exports), in words for the end of training; [] where it has no such figures. A model
    worse than that constant structure only, or on a head, gets the advice the measurements support: exports from
    many unrelated projects train better with each programme's error against its own spread (``advise`` False: a
    run trained that way already, the figures only)."""
    obj = best.get("val_objective_vs_data")
    if obj is None or not math.isfinite(obj):
        return []
    over = {
        k.split("/")[-1]: v
        for k, v in best.items()
        if k.startswith("vs_data/ratio/") and v is not None and v > HEAD_LIMIT
    }
    heads = ", ".join(f"{h} {v:.2f}" for h, v in sorted(over.items(), key=lambda kv: -kv[1])) or "none"
    lines = [
        f"against the validation files' own best constant (below 1 is better): {obj:.3f} with no clip given "
        f"(heads above {HEAD_LIMIT}: {heads})"
    ]
    ctx, rule = best.get("val_objective_ctx_vs_data"), best.get("same_track/ctx_objective_vs_data")
    if ctx is not None and math.isfinite(ctx):
        lines[0] += f", {ctx:.3f} with half the clips given" + (
            f" (the same-track rule {rule:.3f}; one draw)" if rule is not None and math.isfinite(rule) else ""
        )
    see = '(README, "Is the model worth using on my exports?")'
    if not advise:
        return lines
    if obj > 1.0:
        lines.append(
            "worse than that constant overall: on exports from many unrelated projects, training with "
            "--loss.programme_floor 0.1 (each programme's error against its own spread) did better; "
            f"--average-with loss.programme_floor=0.1 trains both and averages them {see}"
        )
    elif over:
        lines.append(
            f"worse than that constant on {', '.join(sorted(over))}: --loss.programme_floor 0.1 left no head above "
            f"{HEAD_LIMIT} on every split measured, at some cost overall; --average-with loss.programme_floor=0.1 "
            f"trains both and averages them {see}"
        )
    return lines
