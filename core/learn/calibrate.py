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
from core.learn.loss import MultiTrackLoss

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


@torch.no_grad()
def _passes(model, loader, device) -> list[tuple[dict, dict]]:
    """(batch, uncalibrated outputs) of every batch of ``loader``, on the CPU."""
    m = unwrap(model)
    m.eval()
    out = []
    for batch in loader:
        b = {k: v.to(device) for k, v in batch.items()}
        o = m(b)
        out.append(({k: v.cpu() for k, v in b.items()}, {k: v.float().cpu() for k, v in o.items()}))
    return out


def _fit_regression(m, passes_none, passes_given) -> dict[str, tuple[float, float, float]]:
    """Least-squares (a_none, a_given, b_given) per regression head."""
    fits = {}
    for j, name in enumerate(m.cfg.targets):
        r = REGRESSION_TARGETS.index(name)
        s_none = np.zeros(2)  # sum d*e, sum d*d
        s_given = np.zeros(5)  # d1d1, d1d2, d2d2, d1e, d2e
        for passes, given_pass in ((passes_none, False), (passes_given, True)):
            for batch, out in passes:
                kind = batch["track_kind"].long().clamp(0, len(TRACK_KINDS) - 1)
                c = m.const_reg[j].cpu()[kind][:, :, None].double()
                mask = batch["target_mask"][..., r].bool() & batch["step_mask"].bool()
                summary = batch["context_summary"].double()
                has = summary[..., TRACK_HAS.start + r] > 0
                y = batch["targets"][..., r].double()
                d1 = out[name].double() - c
                e = y - c
                if not given_pass:
                    sel = mask & ~has
                    s_none += [float((d1 * e)[sel].sum()), float((d1 * d1)[sel].sum())]
                else:
                    sel = mask & has
                    d2 = summary[..., TRACK_MEAN.start + r] - c
                    s_given += [
                        float((d1 * d1)[sel].sum()),
                        float((d1 * d2)[sel].sum()),
                        float((d2 * d2)[sel].sum()),
                        float((d1 * e)[sel].sum()),
                        float((d2 * e)[sel].sum()),
                    ]
        a0 = float(np.clip(s_none[0] / s_none[1], *A_RANGE)) if s_none[1] > 0 else 1.0
        a1, b1 = 1.0, 0.0
        if s_given[0] > 0 and s_given[2] > 0:
            ridge = 1e-6 * (s_given[0] + s_given[2])
            gram = np.array([[s_given[0] + ridge, s_given[1]], [s_given[1], s_given[2] + ridge]])
            a1, b1 = np.linalg.solve(gram, s_given[3:5])
            a1, b1 = float(np.clip(a1, *A_RANGE)), float(np.clip(b1, *B_RANGE))
        fits[name] = (a0, a1, b1)
    return fits


def _class_tokens(m, passes, name: str, given_side: bool) -> tuple[torch.Tensor, ...]:
    """(model, constant, rule, labels) of head ``name`` at its valid tokens on one side (the token's track
    has a given clip or not): keyframe as calibrated logits (N,), interpolation as log-probs (N, C)."""
    ms, cs, rs, ys = [], [], [], []
    for batch, out in passes:
        summary = batch["context_summary"].float()
        given = summary[..., TRACK_GIVEN_SHARE] > 0  # (B, K, T)
        mask = batch[f"{name}_mask"].bool() & (given if given_side else ~given)
        if not mask.any():
            continue
        kind = batch["track_kind"].long().clamp(0, len(TRACK_KINDS) - 1)[:, :, None].expand(mask.shape)
        if name == "keyframe":
            z = out[name][..., 1] - out[name][..., 0] - float(m.key_log_w)
            ms.append(z[mask])
            cs.append(m.const_key.cpu()[kind[mask]])
            rs.append(summary[..., m.rule_key][mask])
        else:
            ms.append(torch.log_softmax(out[name], dim=-1)[mask])
            cs.append(m.const_interp.cpu().expand(int(mask.sum()), -1))
            rs.append(summary[..., m.rule_interp : m.rule_interp + out[name].shape[-1]][mask])
        ys.append(batch[name].long()[mask])
    if not ys:
        return ()
    return tuple(torch.cat(x).double() if i < 3 else torch.cat(x) for i, x in enumerate((ms, cs, rs, ys)))


def _best_pair(tokens, name: str, pairs: list[tuple[float, float]]) -> tuple[float, float] | None:
    """The (a, b) of ``pairs`` with the least cross-entropy on ``tokens`` (None without tokens)."""
    if not tokens:
        return None
    mz, c, r, y = tokens
    best, best_loss = None, math.inf
    for a, b in pairs:
        z = c + a * (mz - c) + b * (r - c)
        if name == "keyframe":
            loss = float((F.softplus(z) - y.double() * z).sum())  # binary CE on the positive logit
        else:
            loss = float(F.cross_entropy(z, y, reduction="sum"))
        if loss < best_loss:
            best, best_loss = (a, b), loss
    return best


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

    Returns {head: {"a_none": .., "a_given": .., "b_given": ..}}. Structure-only windows fit ``a_none``; windows with
    ``context`` of each timeline's clips given fit the pair for tokens whose track has a given clip.
    """
    m = unwrap(model)
    dev = torch.device(device)
    m.to(dev)
    set_constants(m, scalers, keyframe_pos_weight)
    m.calibrated.fill_(False)
    loaders = [
        DataLoader(
            WindowDataset(raw, scalers, context=ctx, seed=seed, skip_empty=True),
            batch_size=batch_size,
            shuffle=False,
            collate_fn=collate,
        )
        for ctx in (0.0, context)
    ]
    passes_none, passes_given = (_passes(m, loader, dev) for loader in loaders)
    fits: dict[str, tuple[float, float, float]] = _fit_regression(m, passes_none, passes_given)
    m.calibrated.fill_(True)
    n_reg = len(m.cfg.targets)
    with torch.no_grad():
        for j, name in enumerate(m.cfg.targets):
            m.blend[j] = torch.tensor(fits[name])
        for i, name in enumerate(m.cfg.classify):
            none = _best_pair(_class_tokens(m, passes_none, name, False), name, [(float(a), 0.0) for a in GRID])
            a0 = none[0] if none else 1.0
            pairs = [(float(a), float(b)) for a, b in product(GRID, B_GRID)]
            given = _best_pair(_class_tokens(m, passes_given, name, True), name, pairs)
            best = (a0, *given) if given else (a0, 1.0, 0.0)
            m.blend[n_reg + i] = torch.tensor(best)
            fits[name] = best
    names = ("a_none", "a_given", "b_given")
    return {name: dict(zip(names, (round(float(v), 4) for v in w))) for name, w in fits.items()}


def calibrate_checkpoint(
    checkpoint_dir: str | Path, raw: dict[str, np.ndarray], *, context: float = 0.5, seed: int = 0
) -> dict[str, Any]:
    """Calibrate the model of a checkpoint folder on ``raw`` windows and write it back in place (the
    checkpoint's other state is kept; ``metrics.json`` gets the fitted numbers under ``calibration``)."""
    d = Path(checkpoint_dir)
    model, cfg, scalers = load_checkpoint(d)
    loss = MultiTrackLoss(cfg.loss, cfg.model, keyframe_pos_weight=scalers.keyframe_pos_weight)
    pos_weight = loss.keyframe_pos_weight
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
