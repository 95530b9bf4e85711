"""Torch Dataset over raw windows: standardised features/targets, loss masks and context keys.

Context keys (DESIGN.md "Model, loss, objective"): per window a fraction p of its clips (distinct
(track, clip_id) with clip_id >= 0) is "given": their true standardised targets and keys become
inputs, and their positions leave the loss masks so the loss counts only the rest. The number of
given clips is p * n rounded stochastically (so p = 0.5 over one-clip windows gives half of them).
The choice for window i at epoch e comes from an RNG seeded with (seed, e, i): reproducible, and a
fixed-fraction evaluation set is identical on every pass.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from core.data.batch import BATCH_KEYS, transform_features
from core.data.scalers import Scalers


class WindowDataset(Dataset):
    """Per-window dicts of tensors with exactly core.data.batch.BATCH_KEYS (shapes without the batch axis)."""

    def __init__(
        self, raw: dict[str, np.ndarray], scalers: Scalers, context: float | tuple[float, float] = 0.0, seed: int = 0
    ) -> None:
        self.raw = raw
        self.scalers = scalers
        if isinstance(context, (tuple, list)):
            lo, hi = float(context[0]), float(context[1])
            if not 0.0 <= lo <= hi <= 1.0:
                raise ValueError(f"context range must satisfy 0 <= lo <= hi <= 1, got {context}")
            self.context: float | tuple[float, float] = (lo, hi)
        else:
            if not 0.0 <= float(context) <= 1.0:
                raise ValueError(f"context fraction must be in [0, 1], got {context}")
            self.context = float(context)
        self.seed = int(seed)
        self.epoch = 0
        self._fmean = np.asarray(scalers.feature_mean, np.float32)  # (F,)
        self._fstd = np.asarray(scalers.feature_std, np.float32)
        self._tmean = np.asarray(scalers.target_mean, np.float32)  # (R,)
        self._tstd = np.asarray(scalers.target_std, np.float32)

    def __len__(self) -> int:
        return int(self.raw["timeline"].shape[0])

    def set_epoch(self, epoch: int) -> None:
        """Draw other context clips next epoch (call before each training epoch)."""
        self.epoch = int(epoch)

    def given_mask(self, i: int) -> np.ndarray:
        """(K, T) bool: steps of the clips given as context in window ``i`` at the current epoch."""
        clip = self.raw["clip_id"][i]  # (K, T)
        real = (clip >= 0) & self.raw["step_mask"][i]
        given = np.zeros(clip.shape, bool)
        if self.context == 0.0 or not real.any():
            return given
        rng = np.random.default_rng((self.seed, self.epoch, int(i)))
        p = rng.uniform(*self.context) if isinstance(self.context, tuple) else self.context
        # one id per (track, clip): clips are numbered per track
        ids = np.arange(clip.shape[0], dtype=np.int64)[:, None] * (int(clip.max()) + 1) + clip  # (K, T)
        uniq, inv = np.unique(ids[real], return_inverse=True)
        n = len(uniq)
        k = min(n, int(np.floor(p * n + rng.random())))  # stochastic rounding keeps E[k] = p * n
        chosen = np.zeros(n, bool)
        chosen[rng.permutation(n)[:k]] = True
        given[real] = chosen[inv.reshape(-1)]
        return given

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        r = self.raw
        step_mask = r["step_mask"][i]  # (K, T)
        feats = (transform_features(r["features"][i]) - self._fmean) / self._fstd  # (K, T, F)
        feats = np.where(step_mask[..., None], feats, 0.0).astype(np.float32)
        tvalid = r["target_valid"][i] & step_mask[..., None]  # (K, T, R)
        targets = np.where(tvalid, (r["targets"][i] - self._tmean) / self._tstd, 0.0).astype(np.float32)
        kvalid = r["keyframe_valid"][i] & step_mask  # (K, T)
        ivalid = r["interp_valid"][i] & kvalid
        keyframe = r["keyframe"][i]

        given = self.given_mask(i)  # (K, T)
        ctx_given = tvalid & given[..., None]  # (K, T, R)
        out = {
            "features": feats,
            "track_kind": r["track_kind"][i],  # (K,)
            "track_index": r["track_index"][i],
            "track_mask": r["track_mask"][i],
            "step_mask": step_mask,
            "targets": targets,  # (K, T, R)
            "target_mask": tvalid & ~given[..., None],
            "keyframe": keyframe,  # (K, T)
            "keyframe_mask": kvalid & ~given,
            "interpolation": r["interpolation"][i],
            "interpolation_mask": ivalid & ~given,
            "context_values": np.where(ctx_given, targets, 0.0).astype(np.float32),
            "context_given": ctx_given.astype(np.float32),
            "context_key": (given & kvalid & (keyframe == 1)).astype(np.float32),
        }
        return {k: torch.from_numpy(np.array(out[k])) for k in BATCH_KEYS}  # copies: never alias the raw arrays


def collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack per-window dicts into a batch (adds B in front)."""
    return default_collate(items)
