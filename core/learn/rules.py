"""The two constants and two rules every evaluation prints beside the model (DESIGN.md "Model, loss,
objective"), so a user sees whether the model is worth using on their data:

- ``train_constant``: the checkpoint's train-set per-kind means, key rates and interpolation shares
  (what ``val_objective`` divides by; it is ``Scalers.baseline``);
- ``data_constant``: the same statistics of the data evaluated (the best constant for that data);
- ``editor_default``: what an editor who touches nothing gets: scale 100, rotation 0, centre 0,
  opacity 100, level 0 dB, pan 0, no keys (a key probability of EDITOR_KEY_P) and, for the rare key,
  linear interpolation (EDITOR_INTERP);
- ``same_track``: the mean of the given clips on the same track (per target, the clip-weighted mean of
  their clip means; their key rate and interpolation shares for the classes, shrunk towards those of the
  timeline's given clips of the track's kind as core.data.context describes), and where a track has no
  given clip, the data constant. It reads ``context_summary`` (core.data.context), the very summary
  the model sees, so the rule and the model are compared on the same information.

Constants are dicts in the ``Scalers.baseline`` shape (standardised with the checkpoint's scalers) so
``core.learn.loss.baseline_outputs`` turns them into model-shaped outputs; ``comparators`` returns the
four as functions batch -> outputs for ``core.learn.evaluate.compare``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from core.config import REGRESSION_TARGETS
from core.data.context import TRACK_GIVEN_SHARE, TRACK_HAS, TRACK_INTERP_LOG, TRACK_KEY_LOGIT, TRACK_MEAN
from core.data.timeline import INTERPOLATIONS, PARAMS, TRACK_KINDS
from core.learn.loss import baseline_outputs

EDITOR_KEY_P = 1e-3  # "no keys", as a probability a cross-entropy can score
EDITOR_INTERP = (0.98, 0.01, 0.01)  # linear, smooth, hold: editors' applications key linearly by default
COMPARATORS = ("train_constant", "data_constant", "editor_default", "same_track")


def constant_of(raw: dict[str, np.ndarray], target_mean, target_std) -> dict[str, Any]:
    """The best constant for ``raw`` windows in the ``Scalers.baseline`` shape: per track kind the mean of
    each target over its valid positions (standardised with ``target_mean``/``target_std``), the key
    rate over active steps, and the interpolation shares over keys. A kind without positions gets the
    overall mean (0 standardised when there is none at all)."""
    step = raw["step_mask"]
    kind = np.broadcast_to(raw["track_kind"][:, :, None], step.shape)  # (N, K, T)
    # overlapping windows repeat steps; a constant fit on them is the same up to that weighting
    reg: dict[str, dict[str, float]] = {}
    for i, name in enumerate(REGRESSION_TARGETS):
        valid = raw["target_valid"][..., i] & step
        y = (raw["targets"][..., i].astype(np.float64) - target_mean[i]) / target_std[i]
        overall = float(y[valid].mean()) if valid.any() else 0.0
        reg[name] = {}
        for k, kname in enumerate(TRACK_KINDS):
            sel = valid & (kind == k)
            reg[name][kname] = float(y[sel].mean()) if sel.any() else overall
    kv = raw["keyframe_valid"] & step
    rates = {}
    for k, kname in enumerate(TRACK_KINDS):
        sel = kv & (kind == k)
        rates[kname] = float(raw["keyframe"][sel].mean()) if sel.any() else 0.0
    iv = raw["interp_valid"] & kv
    counts = np.bincount(raw["interpolation"][iv], minlength=len(INTERPOLATIONS)).astype(np.float64)
    interp = (counts / counts.sum()).tolist() if counts.sum() else [1.0 / len(INTERPOLATIONS)] * len(INTERPOLATIONS)
    return {"regression": reg, "keyframe": rates, "interpolation": interp}


def editor_default(target_mean, target_std) -> dict[str, Any]:
    """The editor-default rule as a constant (standardised with the given scalers' statistics)."""
    reg = {
        name: {kname: float((PARAMS[name][0] - target_mean[i]) / target_std[i]) for kname in TRACK_KINDS}
        for i, name in enumerate(REGRESSION_TARGETS)
    }
    return {
        "regression": reg,
        "keyframe": {kname: EDITOR_KEY_P for kname in TRACK_KINDS},
        "interpolation": list(EDITOR_INTERP),
    }


def same_track_outputs(
    batch: dict[str, Tensor], fallback: dict[str, Any], targets=None, classify=None
) -> dict[str, Tensor]:
    """The same-track rule's outputs: the given clips' mean on the token's track where the track has one,
    else ``fallback`` (a constant in the ``Scalers.baseline`` shape)."""
    out = baseline_outputs(batch, fallback, targets, classify)
    s = batch["context_summary"].float()  # (B, K, T, S)
    means, has = s[..., TRACK_MEAN], s[..., TRACK_HAS] > 0  # (B, K, T, R)
    for name in list(out):
        if name in REGRESSION_TARGETS:
            r = REGRESSION_TARGETS.index(name)
            out[name] = torch.where(has[..., r], means[..., r], out[name])
    given = (s[..., TRACK_GIVEN_SHARE] > 0)[..., None]  # (B, K, T, 1) the track has a given clip
    if "keyframe" in out:
        logit = s[..., TRACK_KEY_LOGIT : TRACK_KEY_LOGIT + 1]
        out["keyframe"] = torch.where(given, torch.cat([torch.zeros_like(logit), logit], -1), out["keyframe"])
    if "interpolation" in out:
        out["interpolation"] = torch.where(given, s[..., TRACK_INTERP_LOG], out["interpolation"])
    return out


def comparators(
    scalers, data_constant: dict[str, Any], targets=None, classify=None
) -> dict[str, Callable[[dict[str, Tensor]], dict[str, Tensor]]]:
    """{name: batch -> outputs} for the names of COMPARATORS (``data_constant`` from ``constant_of``)."""
    editor = editor_default(scalers.target_mean, scalers.target_std)
    return {
        "train_constant": lambda b: baseline_outputs(b, scalers.baseline, targets, classify),
        "data_constant": lambda b: baseline_outputs(b, data_constant, targets, classify),
        "editor_default": lambda b: baseline_outputs(b, editor, targets, classify),
        "same_track": lambda b: same_track_outputs(b, data_constant, targets, classify),
    }


__all__ = ["COMPARATORS", "constant_of", "editor_default", "same_track_outputs", "comparators"]
