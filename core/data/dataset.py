"""Torch Dataset over raw windows: standardised features/targets, loss masks and context keys.

Context keys (DESIGN.md "Model, loss, objective"): per **timeline** a fraction p of its clips is
"given": their true standardised targets and keys become inputs, their positions leave the loss
masks so the loss counts only the rest, and every window of the timeline sees a summary of all of
them (core.data.context). The number of given clips is p * n rounded stochastically. The choice for
timeline j at epoch e comes from an RNG seeded with (seed, e, j): reproducible, the same in every
window of the timeline, and a fixed-fraction evaluation set is identical on every pass.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from core.data.batch import BATCH_KEYS, transform_features
from core.data.context import ClipTable, TimelineSummary, draw_given
from core.data.scalers import Scalers


class WindowDataset(Dataset):
    """Per-window dicts of tensors with exactly core.data.batch.BATCH_KEYS (shapes without the batch axis)."""

    def __init__(
        self,
        raw: dict[str, np.ndarray],
        scalers: Scalers,
        context: float | tuple[float, float] = 0.0,
        seed: int = 0,
        skip_empty: bool = False,
        none_share: float = 0.0,
        windows: np.ndarray | None = None,
        target_weight: np.ndarray | None = None,
        weight_scope: str = "all",
    ) -> None:
        """``skip_empty``: leave out windows where no clip is active (no loss position, no metric; on long
        real programmes with sparse tracks they are close to half the windows). Item ``i`` is then the
        i-th non-empty window; the timeline summaries still see every window. ``none_share``: the share
        of timelines, drawn per epoch, given no clip at all whatever ``context`` says. ``windows``: serve
        only these raw windows (sorted indices; ``train.val_windows``), the summaries again built from all.
        ``target_weight``: (N, R) per raw window, the weight of each regression target's squared error
        (``loss.programme_floor``); 1 everywhere when None. ``weight_scope``: "all" windows, or "structure": only
        those of a timeline given no clip at the current epoch (``loss.programme_scope``)."""
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
        self.target_weight = None if target_weight is None else np.asarray(target_weight, np.float32)
        if weight_scope not in ("all", "structure"):
            raise ValueError(f"weight_scope must be all or structure, got {weight_scope!r}")
        self.weight_scope = weight_scope
        self.none_share = float(none_share)
        self.epoch = 0
        self._fmean = np.asarray(scalers.feature_mean, np.float32)  # (F,)
        self._fstd = np.asarray(scalers.feature_std, np.float32)
        self._tmean = np.asarray(scalers.target_mean, np.float32)  # (R,)
        self._tstd = np.asarray(scalers.target_std, np.float32)
        self.clips = ClipTable(raw, scalers.target_mean, scalers.target_std)
        self._prior = (
            scalers.baseline
            if scalers.baseline
            else {"keyframe": {"video": 0.02, "audio": 0.02}, "interpolation": [1 / 3] * 3}
        )
        self._summaries: dict[int, TimelineSummary] = {}
        n = int(raw["timeline"].shape[0])
        kv = raw["keyframe_valid"]
        self._index = np.flatnonzero(kv.any(axis=tuple(range(1, kv.ndim)))) if skip_empty else np.arange(n)
        if windows is not None:
            self._index = np.intersect1d(self._index, np.asarray(windows, np.int64))

    def __len__(self) -> int:
        return len(self._index)

    @property
    def indices(self) -> np.ndarray:
        """The raw window behind each item (all windows, or the non-empty ones with ``skip_empty``, of ``windows``)."""
        return self._index

    def set_epoch(self, epoch: int) -> None:
        """Draw other context clips next epoch (call before each training epoch)."""
        if int(epoch) != self.epoch:
            self._summaries.clear()
        self.epoch = int(epoch)

    def set_seed(self, seed: int) -> None:
        """Draw the context clips of another seed, as a new dataset of that seed would (several draws in one
        evaluation, core.learn.assess, without building the clip table again)."""
        if int(seed) != self.seed:
            self._summaries.clear()
        self.seed = int(seed)

    def given_clips(self, timeline: int) -> np.ndarray:
        """(rows of ``timeline`` in ``self.clips``,) bool: the clips given as context at the current epoch."""
        n = self.clips.rows(timeline).stop - self.clips.rows(timeline).start
        if self.context == 0.0:
            return np.zeros(n, bool)
        rng = np.random.default_rng((self.seed, self.epoch, int(timeline)))
        if self.none_share > 0 and rng.random() < self.none_share:
            return np.zeros(n, bool)
        return draw_given(n, self.context, rng)

    def summary(self, timeline: int) -> TimelineSummary:
        """The timeline's given clips, summarised (cached for the current epoch)."""
        s = self._summaries.get(timeline)
        if s is None:
            if len(self._summaries) > 4096:
                self._summaries.clear()
            s = TimelineSummary(self.clips, timeline, self.given_clips(timeline), self._prior)
            self._summaries[timeline] = s
        return s

    def context_of(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """((K, T, N_SUMMARY) timeline-wide summary, (K, T) given mask) of window ``i``."""
        r, i = self.raw, int(self._index[i])
        tr = (
            r["track_row"][i]
            if "track_row" in r
            else np.where(r["track_mask"][i], np.arange(len(r["track_mask"][i])), -1)
        )
        return self.summary(int(r["timeline"][i])).tokens(tr, r["track_kind"][i], r["clip_id"][i], r["step_mask"][i])

    def given_mask(self, i: int) -> np.ndarray:
        """(K, T) bool: steps of the clips given as context in window ``i`` at the current epoch."""
        return self.context_of(i)[1]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        summary, given = self.context_of(i)  # (K, T, S), (K, T)
        r, i = self.raw, int(self._index[i])
        step_mask = r["step_mask"][i]  # (K, T)
        feats = (transform_features(r["features"][i]) - self._fmean) / self._fstd  # (K, T, F)
        feats = np.where(step_mask[..., None], feats, 0.0).astype(np.float32)
        tvalid = r["target_valid"][i] & step_mask[..., None]  # (K, T, R)
        targets = np.where(tvalid, (r["targets"][i] - self._tmean) / self._tstd, 0.0).astype(np.float32)
        kvalid = r["keyframe_valid"][i] & step_mask  # (K, T)
        ivalid = r["interp_valid"][i] & kvalid
        keyframe = r["keyframe"][i]
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
            "context_summary": summary,
            "target_weight": np.broadcast_to(self._target_weight(i), tvalid.shape[::2]),  # (K, R)
        }
        return {k: torch.from_numpy(np.array(out[k])) for k in BATCH_KEYS}  # copies: never alias the raw arrays

    def _target_weight(self, raw_i: int) -> np.ndarray:
        """(R,) or scalar: the target weights of raw window ``raw_i`` at the current epoch."""
        tw = self.target_weight
        if tw is None or (
            self.weight_scope == "structure" and self.summary(int(self.raw["timeline"][raw_i])).given.any()
        ):
            return np.float32(1.0)
        return tw[raw_i]


def collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack per-window dicts into a batch (adds B in front)."""
    return default_collate(items)
