"""Annotate a timeline with a trained model.

Whatever keyframes the timeline already has are the context (their clips are "given"); every other
clip gets the model's prediction: per-step values of its parameters, keyframe probabilities, and
curves with keys where the model puts them. Overlapping windows are averaged.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from core.config import REGRESSION_TARGETS, Config
from core.data.dataset import WindowDataset, collate
from core.data.formats import read_file
from core.data.frames import timeline_to_frames
from core.data.timeline import INTERPOLATIONS, PARAMS, Curve, Key, Timeline
from core.data.windows import make_windows, window_starts
from core.learn.loss import MultiTrackLoss


class _GivenByCurves(WindowDataset):
    """Windows whose context is the clips that already carry curves in the input timeline."""

    def __init__(self, raw, scalers, has_curves: np.ndarray, n_starts: int, max_tracks: int) -> None:
        super().__init__(raw, scalers, context=0.0)
        self.has_curves = has_curves  # (n_tracks, max clips) bool
        self.n_starts, self.K = n_starts, max_tracks

    def given_clips(self, timeline: int) -> np.ndarray:
        # the clips that carry curves are the context, in every window and in the timeline-wide summary
        sl = self.clips.rows(timeline)
        track, index = self.clips.track[sl], self.clips.index[sl]
        ok = (track < self.has_curves.shape[0]) & (index < self.has_curves.shape[1])
        out = np.zeros(len(track), bool)
        out[ok] = self.has_curves[track[ok], index[ok]]
        return out


@dataclass
class TimelinePrediction:
    """Per-step predictions for one timeline (native units), and the annotated timeline."""

    values: np.ndarray  # (n_tracks, S, R) predicted targets, NaN where the track kind has no such target
    keyframe_prob: np.ndarray  # (n_tracks, S)
    interpolation: np.ndarray  # (n_tracks, S) class index
    annotated: Timeline


class Predictor:
    """A trained model with its config and scalers. ``load_exported(dir)`` builds one."""

    def __init__(self, model: torch.nn.Module, cfg: Config, scalers, device: str = "cpu", batch_size: int = 32) -> None:
        self.model, self.cfg, self.scalers = model.eval().to(device), cfg, scalers
        self.device, self.batch_size = torch.device(device), batch_size
        # calibrates the keyframe logits the same way evaluation does
        self.loss = MultiTrackLoss(cfg.loss, cfg.model, keyframe_pos_weight=scalers.keyframe_pos_weight)

    @torch.no_grad()
    def predict_timeline(self, tl: Timeline, threshold: float | None = None) -> TimelinePrediction:
        """Predict every track of ``tl``; keys go where the calibrated key probability peaks above ``threshold``
        (default: the config's train.keyframe_threshold)."""
        threshold = self.cfg.train.keyframe_threshold if threshold is None else threshold
        d = self.cfg.data
        frames = timeline_to_frames(tl, d.step_s)
        n_tracks = len(tl.tracks)
        S = int(frames["step"].max()) + 1 if len(frames) else 0
        raw = make_windows(frames, d.window, d.overlap, d.max_tracks)
        n_clips = max([len(t.clips) for t in tl.tracks] + [1])
        has_curves = np.zeros((max(n_tracks, 1), n_clips), bool)
        for k, track in enumerate(tl.tracks):
            for j, c in enumerate(track.clips):
                has_curves[k, j] = any(len(cv) for cv in c.curves.values())
        ds = _GivenByCurves(raw, self.scalers, has_curves, len(window_starts(S, d.window, d.overlap)), d.max_tracks)
        R = len(REGRESSION_TARGETS)
        vsum = np.zeros((n_tracks, S, R))
        ksum = np.zeros((n_tracks, S))
        isum = np.zeros((n_tracks, S, len(INTERPOLATIONS)))
        cnt = np.zeros((n_tracks, S))
        n_starts = ds.n_starts
        for b0 in range(0, len(ds), self.batch_size):
            idx = list(range(b0, min(len(ds), b0 + self.batch_size)))
            batch = {k: v.to(self.device) for k, v in collate([ds[i] for i in idx]).items()}
            out = self.loss.calibrate(self.model(batch))
            for j, i in enumerate(idx):
                g, st = i // n_starts, int(raw["start_step"][i])
                for k in range(d.max_tracks):
                    tr = g * d.max_tracks + k
                    if tr >= n_tracks:
                        continue
                    m = raw["step_mask"][i, k]
                    steps = st + np.flatnonzero(m)
                    for r, name in enumerate(REGRESSION_TARGETS):
                        if name in out:
                            vsum[tr, steps, r] += out[name][j, k].float().cpu().numpy()[m]
                    if "keyframe" in out:
                        ksum[tr, steps] += torch.softmax(out["keyframe"][j, k].float(), -1)[:, 1].cpu().numpy()[m]
                    if "interpolation" in out:
                        isum[tr, steps] += torch.softmax(out["interpolation"][j, k].float(), -1).cpu().numpy()[m]
                    cnt[tr, steps] += 1
        c = np.maximum(cnt, 1)
        values = self.scalers.destandardise_targets(vsum / c[..., None])  # (n_tracks, S, R) native
        for k, track in enumerate(tl.tracks):  # targets of the other track kind mean nothing here
            for r, name in enumerate(REGRESSION_TARGETS):
                if PARAMS[name][1] != track.kind or name not in self.cfg.model.targets:
                    values[k, :, r] = np.nan
        kprob = ksum / c
        interp = (isum / c[..., None]).argmax(-1)
        return TimelinePrediction(
            values, kprob, interp, self._annotate(tl, frames, values, kprob, interp, has_curves, threshold)
        )

    def _annotate(self, tl, frames, values, kprob, interp, has_curves, threshold) -> Timeline:
        """Copy of ``tl`` where every clip without curves gets predicted curves (keys at predicted steps)."""
        out = copy.deepcopy(tl)
        step = Fraction(self.cfg.data.step_s).limit_denominator(10**6)
        clip_ids = frames["clip_id"].to_numpy().reshape(len(tl.tracks), -1) if len(frames) else None
        for k, track in enumerate(out.tracks):
            for j, clip in enumerate(track.clips):
                if has_curves[k, j] or clip_ids is None:
                    continue
                steps = np.flatnonzero(clip_ids[k] == j)
                if len(steps) == 0:
                    continue
                p = kprob[k, steps]
                peak = (p >= threshold) & (p >= np.roll(p, 1)) & (p >= np.roll(p, -1))  # one key per bump
                keys_at = steps[peak]
                if len(keys_at) == 0:
                    continue
                for r, name in enumerate(REGRESSION_TARGETS):
                    if np.isnan(values[k, 0, r]):
                        continue
                    v = values[k, keys_at, r]
                    default = PARAMS[name][0]
                    if np.abs(v - default).max() < 0.5 * self.scalers.target_std[r] * 0.05:
                        continue  # the model says: leave this parameter alone
                    clip.curves[name] = Curve(
                        [
                            Key(
                                time=min(max(s * step, clip.start), clip.end),
                                value=float(val),
                                interp=INTERPOLATIONS[int(interp[k, s])],
                            )
                            for s, val in zip(keys_at, v)
                        ]
                    )
        return out

    def predict_file(self, path: str | Path, threshold: float | None = None) -> list[TimelinePrediction]:
        return [self.predict_timeline(tl, threshold) for tl in read_file(path)]
