"""Validation metrics: the objective trials are compared on, and numbers a person can read.

``val_objective`` = mean over heads of (model's masked validation loss on the head / the constant
baseline's loss on the same positions), each a global masked mean over the whole validation set
(sums and counts are accumulated, then all-reduced across DDP ranks, then divided; each rank evaluates
its own shard and every window sits in exactly one, so 1 and N workers give the same numbers). The constant
baseline therefore scores exactly 1.0 whatever the units, and so does every report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from core.config import REGRESSION_TARGETS, ModelConfig
from core.data.batch import trim_tracks
from core.data.noise_floor import ORACLE_DRAWS
from core.learn.keys import key_probability, pick_keys

EPS = 1e-12
# Added to both sides of a regression head's ratio: (model + s) / (baseline + s). Where a target is
# almost constant on the validation positions (rotation is 0 nearly everywhere; with half the clips
# given as context few positions may be left) the baseline's loss tends to 0 and any error, however
# small in native units, would dominate the mean over heads. s = 0.01 (standardised MSE) makes errors
# under a tenth of the target's std floor (0.1 degree, 0.1 % opacity, 0.1 dB, 0.01 pan) count as
# nothing, is negligible wherever the baseline's loss is of order 1, and keeps the baseline at 1.0.
RATIO_SMOOTHING = 0.01
# The same for the classification heads, in nats: where every key of the data evaluated has one
# interpolation (Premiere writes only linear keys) the data's own constant has a cross-entropy of
# 1e-6 and the ratio of any model that is not certain runs into the thousands. 0.01 nats is a
# model giving 99 % to the true class; small beside a keyframe head's ~0.1 and an interpolation
# head's ~0.6 on mixed data.
CLASS_RATIO_SMOOTHING = 0.01


@dataclass
class _Acc:
    """Named running sums; kept as one flat float64 tensor so DDP needs a single all_reduce."""

    names: list[str] = field(default_factory=list)
    values: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, value: torch.Tensor | float) -> None:
        v = float(value.detach().double().sum()) if isinstance(value, torch.Tensor) else float(value)
        if name not in self.values:
            self.names.append(name)
            self.values[name] = 0.0
        self.values[name] += v

    def all_reduce(self) -> None:
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            return
        if torch.distributed.get_world_size() == 1:
            return
        backend = torch.distributed.get_backend()
        device = "cuda" if backend == "nccl" else "cpu"
        # The union of every rank's names: a rank whose shard of the validation set is empty (or lacks a
        # head's positions) has fewer sums, and its zeros must still line up with the others'.
        gathered: list[list[str] | None] = [None] * torch.distributed.get_world_size()
        torch.distributed.all_gather_object(gathered, self.names)
        names = sorted({n for rank_names in gathered for n in rank_names or []})
        t = torch.tensor([self.values.get(n, 0.0) for n in names], dtype=torch.float64, device=device)
        torch.distributed.all_reduce(t)
        self.values = dict(zip(names, t.cpu().tolist()))

    def __getitem__(self, name: str) -> float:
        return self.values.get(name, 0.0)


def _within_one(x: torch.Tensor) -> torch.Tensor:
    """(B, K, T) bool -> True where x is True at t-1, t or t+1 on the same track."""
    xf = x.float().flatten(0, 1).unsqueeze(1)  # (B*K, 1, T)
    return (F.max_pool1d(xf, 3, stride=1, padding=1).squeeze(1) > 0).view_as(x)


def keyframe_decisions(logits: torch.Tensor, mask: torch.Tensor, threshold: float) -> torch.Tensor:
    """(B, K, T, 2) calibrated logits -> (B, K, T) bool: the keys ``core.learn.keys.pick_keys`` places,
    the same rule prediction uses to write keys."""
    return pick_keys(key_probability(logits), mask, threshold)


def accumulate(
    acc: _Acc,
    prefix: str,
    outputs: dict[str, torch.Tensor],
    batch: dict[str, torch.Tensor],
    loss_fn,
    stds: torch.Tensor,
    cfg: ModelConfig,
    threshold: float = 0.5,
) -> None:
    """Add one batch's loss sums, MAE sums and classification counts under ``prefix``."""
    for head, (s, n) in loss_fn.head_sums(outputs, batch).items():
        acc.add(f"{prefix}loss/{head}", s)
        acc.add(f"{prefix}count/{head}", n)
    for name in cfg.targets:
        i = REGRESSION_TARGETS.index(name)
        m = batch["target_mask"][..., i]
        err = (outputs[name].float() - batch["targets"][..., i]).abs() * stds[i]
        acc.add(f"{prefix}mae/{name}", err[m])
    if "keyframe" in outputs:
        m = batch["keyframe_mask"]
        pred = keyframe_decisions(outputs["keyframe"], m, threshold)
        true = (batch["keyframe"] == 1) & m
        acc.add(f"{prefix}kf/tp", (pred & true).sum())
        acc.add(f"{prefix}kf/pred", pred.sum())
        acc.add(f"{prefix}kf/true", true.sum())
        acc.add(f"{prefix}kf/pred_near", (pred & _within_one(true)).sum())
        acc.add(f"{prefix}kf/true_near", (true & _within_one(pred)).sum())
    if "interpolation" in outputs:
        m = batch["interpolation_mask"]
        ok = (outputs["interpolation"].float().argmax(-1) == batch["interpolation"]) & m
        acc.add(f"{prefix}interp/ok", ok.sum())
        acc.add(f"{prefix}interp/n", m.sum())


def _f1(tp: float, pred: float, true: float) -> float:
    p = tp / pred if pred else 0.0
    r = tp / true if true else 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def summarise(acc: _Acc, prefix: str, cfg: ModelConfig, base_prefix: str | None = None) -> dict[str, float]:
    """Turn accumulated sums into metrics. With ``base_prefix`` the ratios to the baseline are added."""
    out: dict[str, float] = {}
    for head in cfg.heads:
        n = acc[f"{prefix}count/{head}"]
        out[f"loss/{head}"] = acc[f"{prefix}loss/{head}"] / n if n else float("nan")
    for name in cfg.targets:
        n = acc[f"{prefix}count/{name}"]
        out[f"mae/{name}"] = acc[f"{prefix}mae/{name}"] / n if n else float("nan")
    if "keyframe" in cfg.classify:
        out["keyframe_f1"] = _f1(acc[f"{prefix}kf/tp"], acc[f"{prefix}kf/pred"], acc[f"{prefix}kf/true"])
        p = acc[f"{prefix}kf/pred_near"] / acc[f"{prefix}kf/pred"] if acc[f"{prefix}kf/pred"] else 0.0
        r = acc[f"{prefix}kf/true_near"] / acc[f"{prefix}kf/true"] if acc[f"{prefix}kf/true"] else 0.0
        out["keyframe_f1_within1"] = 2 * p * r / (p + r) if p + r else 0.0
    if "interpolation" in cfg.classify:
        n = acc[f"{prefix}interp/n"]
        out["interp_acc"] = acc[f"{prefix}interp/ok"] / n if n else float("nan")
    if base_prefix is not None:
        ratios = []
        for head in cfg.heads:
            n = acc[f"{prefix}count/{head}"]
            if not n:
                continue  # no valid position for this head in the validation set
            base = acc[f"{base_prefix}loss/{head}"] / n
            s = RATIO_SMOOTHING if head in cfg.targets else CLASS_RATIO_SMOOTHING
            ratio = (out[f"loss/{head}"] + s) / max(base + s, EPS)
            out[f"ratio/{head}"] = ratio
            ratios.append(ratio)
        out["objective"] = float(np.mean(ratios)) if ratios else float("nan")
    return out


# prior weights (in draws) of the train base rate in the noise floor's key rates; the best-fitting one is used
KEY_PRIOR_DRAWS = (0.0, 0.3, 1.0, 3.0, 10.0, 30.0)


@torch.no_grad()
def noise_floor(
    val: dict[str, np.ndarray], scalers, cfg: ModelConfig, baseline: dict, draws: int = ORACLE_DRAWS
) -> dict[str, float] | None:
    """Loss ratio of the best structure-only predictor, where the data carries one (built-in corpus).

    ``val["oracle_targets"]`` / ``val["oracle_keyframe"]`` are the targets and key rates averaged over
    ``draws`` other style and noise draws of the same structure (``core.data.noise_floor``): an estimate
    of the Bayes predictor, with three corrections so that the floor is one (before session 12 it was
    0.878 on the default run's validation files, and the model scored 0.838 on its heads):

    - a regression head's squared error is divided by 1 + 1/draws: the mean of ``draws`` independent
      draws misses the expectation by its own sampling noise, E[(mean - y)^2] = s^2 (1 + 1/draws);
    - a key rate is (k + a p) / (draws + a) for the k draws of ``draws`` with a key at that step, shrunk
      towards the train base rate p with the prior weight a of ``KEY_PRIOR_DRAWS`` that fits best, not
      k / draws clipped at 1e-4: a key that no other draw has (17 % of the keys) cost -log(1e-4) = 9.2
      nats each (0.596 of the constant's cross-entropy then; 0.551 at a = 3);
    - no head's ratio is above 1: the train constant is a structure-only predictor too, so the best one
      scores no worse (heads whose values are pure per-timeline noise came out at 1.1-1.3 otherwise).

    Returns ratios per head and ``objective`` over the heads it covers, or None when the data has no oracle.
    """
    if "oracle_targets" not in val:
        return None
    out: dict[str, float] = {}
    mean = np.asarray(scalers.target_mean, dtype=np.float64)
    std = np.asarray(scalers.target_std, dtype=np.float64)
    kind = val["track_kind"][:, :, None, None]  # (N, K, 1, 1)
    ratios = []
    for name in cfg.targets:
        i = REGRESSION_TARGETS.index(name)
        m = val["target_valid"][..., i]
        if not m.any():
            continue
        y = (val["targets"][..., i] - mean[i]) / std[i]
        o = (val["oracle_targets"][..., i] - mean[i]) / std[i]
        reg = baseline["regression"][name]
        b = np.where(kind[..., 0] == 1, reg["audio"], reg["video"])  # (N, K, 1)
        floor = float(((o - y) ** 2)[m].mean()) / (1.0 + 1.0 / draws)
        base = float(((np.broadcast_to(b, y.shape) - y) ** 2)[m].mean())
        out[f"ratio/{name}"] = min(1.0, (floor + RATIO_SMOOTHING) / (base + RATIO_SMOOTHING))
        ratios.append(out[f"ratio/{name}"])
    if "keyframe" in cfg.classify and "oracle_keyframe" in val:
        m = val["keyframe_valid"]
        y = val["keyframe"][m].astype(np.float64)
        kb = baseline["keyframe"]
        pb = np.where(np.broadcast_to(val["track_kind"][:, :, None], m.shape)[m] == 1, kb["audio"], kb["video"])
        pb = np.clip(pb, 1e-4, 1 - 1e-4)

        def cross_entropy(p: np.ndarray) -> float:
            p = np.clip(p, 1e-4, 1 - 1e-4)
            return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())

        keys = val["oracle_keyframe"][m].astype(np.float64) * draws  # draws with a key at the step
        ce = min(cross_entropy((keys + a * pb) / (draws + a)) for a in KEY_PRIOR_DRAWS)
        ceb = cross_entropy(pb)
        out["ratio/keyframe"] = min(1.0, float((ce + CLASS_RATIO_SMOOTHING) / max(ceb + CLASS_RATIO_SMOOTHING, EPS)))
        ratios.append(out["ratio/keyframe"])
    out["objective"] = float(np.mean(ratios)) if ratios else float("nan")
    return out


def gap_closed(model_ratios: dict[str, float], floor: dict[str, float]) -> float:
    """Share of the gap between the baseline (1.0) and the noise floor that the model closes,
    over the heads the floor covers."""
    heads = [k for k in floor if k.startswith("ratio/") and k in model_ratios]
    if not heads:
        return float("nan")
    m = float(np.mean([model_ratios[h] for h in heads]))
    f = float(np.mean([floor[h] for h in heads]))
    return (1.0 - m) / (1.0 - f) if not math.isclose(f, 1.0) else float("nan")


@torch.no_grad()
def compare(
    model: torch.nn.Module | None,
    loader,
    loss_fn,
    comparators: dict,
    stds: torch.Tensor,
    cfg: ModelConfig,
    device: torch.device,
    reference: str = "data_constant",
    threshold: float = 0.5,
    autocast=None,
) -> dict:
    """The model and every comparator (core.learn.rules.comparators: name -> batch -> outputs) over ``loader``.

    Returns {"model": metrics with ``ratio_vs_<name>/<head>`` and ``objective_vs_<name>`` for every
    comparator, "comparators": {name: its own metrics with ratios to ``reference``}}. Losses are global
    masked means over the whole loader; ratios use RATIO_SMOOTHING (regression) and
    CLASS_RATIO_SMOOTHING (classification).
    ``model`` None evaluates the comparators alone.
    """
    if model is not None:
        was_training = model.training
        model.eval()
    acc = _Acc()
    stds = stds.to(device)
    for batch in loader:
        batch = {k: v.to(device, non_blocking=True) for k, v in trim_tracks(batch).items()}
        if model is not None:
            if autocast is not None:
                with autocast():
                    outputs = model(batch)
            else:
                outputs = model(batch)
            accumulate(acc, "model/", loss_fn.calibrate(outputs), batch, loss_fn, stds, cfg, threshold)
        for name, fn in comparators.items():
            accumulate(acc, f"{name}/", fn(batch), batch, loss_fn, stds, cfg, threshold)
    acc.all_reduce()
    if model is not None:
        model.train(was_training)

    def with_ratios(prefix: str, against: list[str]) -> dict[str, float]:
        out = summarise(acc, prefix, cfg)
        for name in against:
            s = summarise(acc, prefix, cfg, base_prefix=f"{name}/")
            out[f"objective_vs_{name}"] = s["objective"]
            out.update({f"ratio_vs_{name}/{k[6:]}": v for k, v in s.items() if k.startswith("ratio/")})
        return out

    result: dict = {"comparators": {n: with_ratios(f"{n}/", [reference]) for n in comparators}}
    if model is not None:
        result["model"] = with_ratios("model/", list(comparators))
    return result
