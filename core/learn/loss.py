"""MultiTrackLoss: per-head masked losses (MSE on standardised regression targets, CE on classes).

Shapes follow ``core.data.batch``. Every head's loss is a masked mean over its valid positions (the
``target_mask`` column of a regression target, ``keyframe_mask``, ``interpolation_mask``); a head
with no valid position in a batch contributes 0. ``head_sums`` gives unweighted sums and counts so
evaluation can form global masked means over a whole validation set, for the model and, through
``baseline_outputs``, for the constant baseline on the same positions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.config import CLASSIFICATION_TARGETS, REGRESSION_TARGETS, LossConfig, ModelConfig

_EPS = 1e-6  # floor on baseline probabilities so log p stays finite


def _masked_mean(values: Tensor, mask: Tensor, weights: Tensor | None = None) -> Tensor:
    """Mean of ``values`` over ``mask`` (optionally weighted); 0 where nothing is valid."""
    w = mask.to(values.dtype) if weights is None else torch.where(mask, weights, torch.zeros_like(weights))
    return (torch.where(mask, values, torch.zeros_like(values)) * w).sum() / w.sum().clamp_min(1e-12)


def positive_key_weight(loss_cfg: LossConfig, default: float | None = None) -> float:
    """The positive-key weight training uses: the config's value, else ``default`` (a run's
    ``Scalers.keyframe_pos_weight``, sqrt(neg/pos) of its train set), else 1 (unweighted); times the
    config's ``keyframe_pos_scale``."""
    pos = loss_cfg.keyframe_pos_weight if loss_cfg.keyframe_pos_weight is not None else default
    return (float(pos) if pos is not None else 1.0) * float(loss_cfg.keyframe_pos_scale)


class MultiTrackLoss(nn.Module):
    """Weighted sum of per-head masked losses; ``forward`` returns (total, {head: unweighted loss})."""

    def __init__(self, loss_cfg: LossConfig, model_cfg: ModelConfig, keyframe_pos_weight: float | None = None):
        super().__init__()
        self.loss_cfg = loss_cfg
        self.targets = list(model_cfg.targets)
        self.classify = list(model_cfg.classify)
        self.target_index = {name: REGRESSION_TARGETS.index(name) for name in self.targets}
        self.keyframe_pos_weight = positive_key_weight(loss_cfg, keyframe_pos_weight)
        self.register_buffer("keyframe_class_weight", torch.tensor([1.0, self.keyframe_pos_weight]), persistent=False)

    @property
    def heads(self) -> list[str]:
        return self.targets + self.classify

    def calibrate(self, outputs: dict[str, Tensor]) -> dict[str, Tensor]:
        """Outputs with calibrated keyframe logits, for evaluation and prediction.

        Weighting the positive class by w during training makes the optimum's odds w times the true
        odds; subtracting log w from the positive logit undoes exactly that, so the reported CE and
        the probabilities a user sees are calibrated while training still counts the rare keys more.
        """
        if "keyframe" not in outputs or self.keyframe_pos_weight == 1.0:
            return outputs
        out = dict(outputs)
        kf = outputs["keyframe"].float()  # (B, K, T, 2)
        out["keyframe"] = torch.cat([kf[..., :1], kf[..., 1:] - math.log(self.keyframe_pos_weight)], dim=-1)
        return out

    def _regression_terms(
        self, outputs: dict[str, Tensor], batch: dict[str, Tensor], name: str
    ) -> tuple[Tensor, Tensor]:
        """Per-position error (B, K, T), 0 where masked, and its mask (B, K, T) bool."""
        idx = self.target_index[name]
        pred = outputs[name].float()  # (B, K, T)
        target = batch["targets"][..., idx].float()  # (B, K, T)
        mask = batch["target_mask"][..., idx].bool()  # (B, K, T)
        err = torch.where(mask, pred - target, torch.zeros_like(pred))  # garbage at masked positions never leaks
        return err, mask

    def _class_terms(
        self, outputs: dict[str, Tensor], batch: dict[str, Tensor], name: str
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Per-position plain CE (B, K, T), mask (B, K, T) bool, labels (B, K, T) (0 where masked)."""
        mask = batch[f"{name}_mask"].bool()  # (B, K, T)
        labels = torch.where(mask, batch[name].long(), torch.zeros_like(batch[name], dtype=torch.long))  # (B, K, T)
        logits = outputs[name].float()  # (B, K, T, C)
        ce = F.cross_entropy(logits.flatten(0, -2), labels.flatten(), reduction="none").view_as(labels)
        return ce, mask, labels

    def forward(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        """Total weighted loss (scalar) and each head's unweighted masked loss (keyframe CE class-weighted)."""
        per_head: dict[str, Tensor] = {}
        d = float(self.loss_cfg.huber_delta)
        for name in self.targets:
            err, mask = self._regression_terms(outputs, batch, name)
            sq = err.square()
            if self.loss_cfg.huber(name):  # twice the Huber loss: e^2 within d std, 2 d |e| - d^2 beyond
                a = err.abs()
                sq = torch.where(a <= d, sq, 2 * d * a - d * d)
            if "target_weight" in batch:  # (B, K, R): 1, or loss.programme_floor's weights
                sq = sq * batch["target_weight"][:, :, None, self.target_index[name]].float()
            per_head[name] = _masked_mean(sq, mask)
        for name in self.classify:
            ce, mask, labels = self._class_terms(outputs, batch, name)
            weights = self.keyframe_class_weight.to(ce.device)[labels] if name == "keyframe" else None
            per_head[name] = _masked_mean(ce, mask, weights)  # weighted mean, as F.cross_entropy(weight=...)
        total = sum(
            (self.loss_cfg.weight(h) * v for h, v in per_head.items()),
            torch.zeros((), device=next(iter(per_head.values())).device),
        )
        return total, per_head

    @torch.no_grad()
    def head_sums(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> dict[str, tuple[Tensor, Tensor]]:
        """{head: (sum of unweighted per-position loss, count of valid positions)}, float32 scalars.

        Plain CE without class weights. Sum over batches, then divide, for a global masked mean.
        """
        return {h: (s.sum(), n.sum()) for h, (s, n) in self.window_sums(outputs, batch).items()}

    def window_sums(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> dict[str, tuple[Tensor, Tensor]]:
        """``head_sums`` per window: {head: (loss sums (B,), valid counts (B,))}."""
        sums: dict[str, tuple[Tensor, Tensor]] = {}
        for name in self.targets:
            err, mask = self._regression_terms(outputs, batch, name)
            sums[name] = (err.square().sum(dim=(1, 2)), mask.sum(dim=(1, 2)).float())
        for name in self.classify:
            ce, mask, _ = self._class_terms(outputs, batch, name)
            sums[name] = (torch.where(mask, ce, torch.zeros_like(ce)).sum(dim=(1, 2)), mask.sum(dim=(1, 2)).float())
        return sums

    def baseline_outputs(self, batch: dict[str, Tensor], baseline: dict[str, Any]) -> dict[str, Tensor]:
        """Constant-per-track-kind predictions shaped like model outputs, for ``head_sums``.

        ``baseline`` = {"regression": {target: {"video": mean, "audio": mean}} (standardised),
        "keyframe": {"video": p, "audio": p}, "interpolation": [p0, p1, p2]}; logits = log p.
        """
        return baseline_outputs(batch, baseline, self.targets, self.classify)


def baseline_outputs(
    batch: dict[str, Tensor],
    baseline: dict[str, Any],
    targets: Sequence[str] | None = None,
    classify: Sequence[str] | None = None,
) -> dict[str, Tensor]:
    """Constant baseline outputs (see ``MultiTrackLoss.baseline_outputs``).

    ``targets`` / ``classify`` default to every head that ``baseline`` describes.
    """
    if targets is None:
        targets = list(baseline.get("regression", {}))
    if classify is None:
        classify = [name for name in CLASSIFICATION_TARGETS if name in baseline]
    step_mask = batch["step_mask"]  # (B, K, T)
    device = step_mask.device
    is_video = (batch["track_kind"] == 0)[:, :, None].expand(step_mask.shape)  # (B, K, T)

    def per_kind(video: float, audio: float) -> Tensor:
        v = torch.tensor(float(video), device=device)
        a = torch.tensor(float(audio), device=device)
        return torch.where(is_video, v, a)  # (B, K, T)

    out: dict[str, Tensor] = {}
    for name in targets:
        means = baseline["regression"][name]
        out[name] = per_kind(means["video"], means["audio"])
    if "keyframe" in classify:
        p = {kind: min(max(float(baseline["keyframe"][kind]), _EPS), 1 - _EPS) for kind in ("video", "audio")}
        out["keyframe"] = torch.stack(
            [
                per_kind(math.log(1 - p["video"]), math.log(1 - p["audio"])),
                per_kind(math.log(p["video"]), math.log(p["audio"])),
            ],
            dim=-1,
        )  # (B, K, T, 2)
    if "interpolation" in classify:
        probs = [max(float(q), _EPS) for q in baseline["interpolation"]]
        if len(probs) != CLASSIFICATION_TARGETS["interpolation"]:
            raise ValueError(
                f"baseline interpolation needs {CLASSIFICATION_TARGETS['interpolation']} rates, got {len(probs)}"
            )
        logp = torch.log(torch.tensor(probs, device=device) / sum(probs))  # (3,)
        out["interpolation"] = logp.expand(*step_mask.shape, len(probs)).clone()  # (B, K, T, 3)
    return out
