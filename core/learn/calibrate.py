"""Per-head stacking of the trained model with the train constant and the same-track rule, fitted on
files the model was not trained on.

On real exports a head the data cannot predict (rotation, centre: editors' style) drifts above the
constant, and with clips given the model uses the given clips' mean less well than the rule itself.
A head's output becomes ``c + a * (model - c) + b * (rule - c)`` (c: the train constant of the
token's track kind; rule: the given clips' mean on the token's track), with one ``a`` for tokens
whose track has no given clip and an ``(a, b)`` pair for those whose track has. Regression pairs are
least squares in closed form (the heads' standardised MSE); the class heads' pairs are the best of a
grid by cross-entropy (keyframe logits on the calibrated scale, interpolation log-probabilities).
``a = 1, b = 0`` is the uncalibrated model, ``a = 0, b = 0`` the constant, ``a = 0, b = 1`` the rule.

The fitted numbers live in the model's buffers (``MultiTrackTransformer.blend``), so checkpoints,
exports, evaluation and prediction all carry them. Fitting on the files a report is made on is
selection on those files: ``benchmarks/quality_real.py`` cross-fits (fits on one half of the
validation programmes, reports on the other) to say what it is worth on unseen files.
"""

from __future__ import annotations

import json
import math
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from core.config import REGRESSION_TARGETS
from core.data.context import TRACK_GIVEN_SHARE, TRACK_HAS, TRACK_MEAN
from core.data.dataset import WindowDataset, collate
from core.data.timeline import TRACK_KINDS
from core.learn.checkpoint import CHECKPOINT_FILE, json_safe, load_checkpoint, load_state, unwrap
from core.learn.loss import positive_key_weight
from core.learn.model import blend

A_RANGE = (0.0, 1.2)  # how far a head may follow the model: never against it, a little past it at most
B_RANGE = (-0.2, 1.2)
GRID = np.round(np.arange(0.0, 1.21, 0.1), 2)  # class heads: a on this grid, b on B_GRID
B_GRID = np.round(np.arange(-0.2, 1.21, 0.1), 2)


def set_constants(model, scalers, keyframe_pos_weight: float) -> None:
    """Write the train constants the stacking falls back on into the model's buffers."""
    m = unwrap(model)
    base = scalers.baseline
    with torch.no_grad():
        for j, name in enumerate(m.cfg.targets):
            for k, kind in enumerate(TRACK_KINDS):
                m.const_reg[j, k] = float(base["regression"][name][kind])
        for k, kind in enumerate(TRACK_KINDS):
            p = min(max(float(base["keyframe"][kind]), 1e-6), 1 - 1e-6)
            m.const_key[k] = math.log(p / (1 - p))
        shares = np.maximum(np.asarray(base["interpolation"], np.float64), 1e-6)
        m.const_interp.copy_(torch.as_tensor(np.log(shares / shares.sum()), dtype=torch.float32))
        m.key_log_w.fill_(math.log(keyframe_pos_weight))


class _Sums:
    """Sufficient statistics of one side (no given clip on the token's track, or one), streamed over batches:
    per regression head the least-squares sums, per class head the summed cross-entropy of every candidate
    ``(a, b)``; nothing of a batch is kept."""

    def __init__(self, m, given_side: bool) -> None:
        self.m, self.given_side = m, given_side
        self.reg = {name: np.zeros(5) for name in m.cfg.targets}  # d1d1, d1d2, d2d2, d1e, d2e
        bs = B_GRID if given_side else [0.0]
        self.pairs = [(float(a), float(b)) for a, b in product(GRID, bs)]
        self.ce = {name: np.zeros(len(self.pairs)) for name in m.cfg.classify}
        self.tokens = dict.fromkeys(m.cfg.classify, 0)

    def add(self, batch: dict[str, torch.Tensor], out: dict[str, torch.Tensor]) -> None:
        m = self.m
        summary = batch["context_summary"].double()  # (B, K, T, S)
        kind = batch["track_kind"].long().clamp(0, len(TRACK_KINDS) - 1)  # (B, K)
        step = batch["step_mask"].bool()
        for j, name in enumerate(m.cfg.targets):
            r = REGRESSION_TARGETS.index(name)
            has = summary[..., TRACK_HAS.start + r] > 0
            sel = batch["target_mask"][..., r].bool() & step & (has if self.given_side else ~has)
            if not sel.any():
                continue
            c = m.const_reg[j].double()[kind][:, :, None].expand(sel.shape)[sel]
            d1 = out[name].double()[sel] - c
            d2 = summary[..., TRACK_MEAN.start + r][sel] - c
            e = batch["targets"][..., r].double()[sel] - c
            self.reg[name] += [float(d1 @ d1), float(d1 @ d2), float(d2 @ d2), float(d1 @ e), float(d2 @ e)]
        given = summary[..., TRACK_GIVEN_SHARE] > 0  # (B, K, T)
        for name in m.cfg.classify:
            mask = batch[f"{name}_mask"].bool() & (given if self.given_side else ~given)
            if not mask.any():
                continue
            y = batch[name].long()[mask]
            if name == "keyframe":
                mz = (out[name][..., 1] - out[name][..., 0]).double()[mask] - float(m.key_log_w)
                c = m.const_key.double()[kind][:, :, None].expand(mask.shape)[mask]
                r = summary[..., m.rule_key][mask]
            else:
                mz = torch.log_softmax(out[name].double(), dim=-1)[mask]  # (N, C)
                c = m.const_interp.double()
                r = summary[..., m.rule_interp : m.rule_interp + mz.shape[-1]][mask]
            for i, (a, b) in enumerate(self.pairs):
                z = blend(c, a, b, mz, r)
                if name == "keyframe":
                    self.ce[name][i] += float((F.softplus(z) - y.double() * z).sum())  # binary CE, positive logit
                else:
                    self.ce[name][i] += float(F.cross_entropy(z, y, reduction="sum"))
            self.tokens[name] += int(y.numel())

    def regression(self, name: str) -> tuple[float, float] | None:
        """Least squares: (a,) without a given clip (b = 0), (a, b) with one; None without positions."""
        s = self.reg[name]
        if s[0] <= 0:
            return None
        if not self.given_side or s[2] <= 0:
            return float(np.clip(s[3] / s[0], *A_RANGE)), 0.0
        ridge = 1e-6 * (s[0] + s[2])
        a, b = np.linalg.solve(np.array([[s[0] + ridge, s[1]], [s[1], s[2] + ridge]]), s[3:5])
        return float(np.clip(a, *A_RANGE)), float(np.clip(b, *B_RANGE))

    def classes(self, name: str) -> tuple[float, float] | None:
        return self.pairs[int(np.argmin(self.ce[name]))] if self.tokens[name] else None


@torch.no_grad()
def calibrate(
    model,
    scalers,
    raw: dict[str, np.ndarray],
    keyframe_pos_weight: float,
    *,
    context: float = 0.5,
    seed: int = 0,
    device: str | torch.device = "cpu",
    batch_size: int = 32,
) -> dict[str, Any]:
    """Fit the stacking of every head on ``raw`` windows (held-out files) and switch it on in ``model``.

    Returns {head: {"a_none": .., "a_given": .., "b_given": ..}}. Structure-only windows fit ``a_none``;
    windows with ``context`` of each timeline's clips given fit the pair for tokens whose track has a given
    clip.
    """
    m = unwrap(model)
    dev = torch.device(device)
    m.to(dev).eval()
    set_constants(m, scalers, keyframe_pos_weight)
    m.calibrated.fill_(False)
    agree = m.agree_rule.clone()
    m.agree_rule.fill_(False)  # the network's own outputs are what the blend weighs against the rule
    sides = []
    try:
        for ctx, given_side in ((0.0, False), (context, True)):
            sums = _Sums(m, given_side)
            ds = WindowDataset(raw, scalers, context=ctx, seed=seed, skip_empty=True)
            for batch in DataLoader(ds, batch_size=batch_size, shuffle=False, collate_fn=collate):
                batch = {k: v.to(dev) for k, v in batch.items()}
                sums.add(batch, {k: v.float() for k, v in m(batch).items()})
            sides.append(sums)
    finally:
        m.agree_rule.copy_(agree)
    none, given = sides
    fits: dict[str, tuple[float, float, float]] = {}
    for name in m.cfg.heads:
        pick = none.regression if name in m.cfg.targets else none.classes
        pick_given = given.regression if name in m.cfg.targets else given.classes
        a0 = (pick(name) or (1.0, 0.0))[0]
        fits[name] = (a0, *(pick_given(name) or (1.0, 0.0)))
    for h, name in enumerate(m.cfg.heads):
        m.blend[h] = torch.tensor(fits[name], device=m.blend.device)
    m.calibrated.fill_(True)
    names = ("a_none", "a_given", "b_given")
    return {name: dict(zip(names, (round(float(v), 4) for v in w))) for name, w in fits.items()}


def calibrate_checkpoint(
    checkpoint_dir: str | Path, raw: dict[str, np.ndarray], *, context: float = 0.5, seed: int = 0
) -> dict[str, Any]:
    """Calibrate the model of a checkpoint folder on ``raw`` windows and write it back in place (the
    checkpoint's other state is kept; ``metrics.json`` gets the fitted numbers under ``calibration``)."""
    d = Path(checkpoint_dir)
    model, cfg, scalers = load_checkpoint(d)
    pos_weight = positive_key_weight(cfg.loss, scalers.keyframe_pos_weight)
    fits = calibrate(model, scalers, raw, pos_weight, context=context, seed=seed)
    state = load_state(d / CHECKPOINT_FILE)
    state["model"] = model.state_dict()
    torch.save(state, d / CHECKPOINT_FILE)
    metrics_path = d / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    metrics["calibration"] = fits
    metrics_path.write_text(json.dumps(json_safe(metrics), indent=1))
    return fits


__all__ = ["calibrate", "calibrate_checkpoint", "set_constants"]
