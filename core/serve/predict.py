"""Annotate a timeline with a trained model.

Whatever curves the timeline already has are the context, per clip and parameter: a clip's given
parameters are model inputs (value and "given" flag, as in training) and stay exactly as they are;
every other parameter of the clip's track kind that the model predicts gets a predicted curve.
Overlapping windows are averaged. Keys go where ``core.learn.keys.pick_keys`` puts them, the rule
evaluation scores, on the steps of the clips that get predictions; a clip on which no key is
picked gets one key at its first step holding the mean predicted value over the clip. A predicted
curve whose keys all sit at the parameter's default (within 2.5 % of the target's spread) is not
made: the file already says that.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from core.config import REGRESSION_TARGETS, Config
from core.data.batch import trim_tracks
from core.data.context import N_SUMMARY
from core.data.dataset import WindowDataset, collate
from core.data.formats import read_file
from core.data.frames import grid_step, timeline_to_frames
from core.data.timeline import INTERPOLATIONS, LEVEL_FLOOR_DB, PARAMS, Curve, Key, Timeline
from core.data.windows import make_windows, window_starts
from core.learn.keys import key_probability, pick_keys
from core.learn.loss import MultiTrackLoss

Predicted = dict[tuple[int, int], dict[str, Curve]]  # (track, clip position) -> parameter -> curve
DEFAULT_TOLERANCE = 0.025  # share of a target's std under which a prediction counts as the default


class _GivenCurves(WindowDataset):
    """Windows whose context is the curves the input timeline already has, per clip and parameter."""

    def __init__(self, raw, scalers, given: np.ndarray, n_starts: int, max_tracks: int) -> None:
        super().__init__(raw, scalers, context=0.0)
        self.given = given  # (n_tracks, max clips, R) bool: clip j of track k has a curve for target r
        self.n_starts, self.K = n_starts, max_tracks

    def _given_targets(self, i: int) -> np.ndarray:
        """(K, T, R) bool: steps whose clip has a curve for the target."""
        clip = self.raw["clip_id"][i]  # (K, T)
        tracks = (i // self.n_starts) * self.K + np.arange(self.K)  # rows of this track group in the timeline
        out = np.zeros((*clip.shape, self.given.shape[2]), bool)
        for k, tr in enumerate(tracks):
            if tr < self.given.shape[0]:
                ok = clip[k] >= 0
                out[k, ok] = self.given[tr, clip[k][ok]]
        return out

    def given_clips(self, timeline: int) -> np.ndarray:
        """Clips with any curve are the context, in every window and in the timeline-wide summary."""
        sl = self.clips.rows(timeline)
        track, index = self.clips.track[sl], self.clips.index[sl]
        ok = (track < self.given.shape[0]) & (index < self.given.shape[1])
        out = np.zeros(len(track), bool)
        out[ok] = self.given[track[ok], index[ok]].any(-1)
        return out

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        item = super().__getitem__(i)
        # Only the parameters that have curves are context: a clip's other targets are what we predict.
        per = torch.from_numpy(self._given_targets(i) & self.raw["target_valid"][i])
        item["context_given"] = item["context_given"] * per
        item["context_values"] = item["context_values"] * per
        return item


@dataclass
class TimelinePrediction:
    """Per-step predictions for one timeline (native units), the predicted curves and the annotated timeline."""

    values: np.ndarray  # (n_tracks, S, R) predicted targets, NaN where the track kind has no such target
    keyframe_prob: np.ndarray  # (n_tracks, S)
    interpolation: np.ndarray  # (n_tracks, S) class index
    annotated: Timeline  # a copy of the input with the predicted curves added
    predicted: Predicted = field(default_factory=dict)  # only what was added


class Predictor:
    """A trained model with its config and scalers. ``load_exported(dir)`` builds one."""

    def __init__(
        self,
        model: torch.nn.Module,
        cfg: Config,
        scalers,
        device: str = "cpu",
        batch_size: int = 32,
        n_summary: int = N_SUMMARY,
    ) -> None:
        self.model, self.cfg, self.scalers = model.eval().to(device), cfg, scalers
        self.n_summary = n_summary  # summary columns the model reads (fewer for TorchScript exported before some)
        self.device, self.batch_size = torch.device(device), batch_size
        # calibrates the keyframe logits the same way evaluation does
        self.loss = MultiTrackLoss(cfg.loss, cfg.model, keyframe_pos_weight=scalers.keyframe_pos_weight)

    def predictable(self, kind: str, params: Iterable[str] | None = None) -> list[str]:
        """Parameters this model predicts on a track of ``kind``, limited to ``params`` when given."""
        wanted = None if params is None else set(params)
        return [
            p
            for p in REGRESSION_TARGETS
            if PARAMS[p][1] == kind and p in self.cfg.model.targets and (wanted is None or p in wanted)
        ]

    @torch.no_grad()
    def predict_timeline(
        self, tl: Timeline, threshold: float | None = None, params: Iterable[str] | None = None
    ) -> TimelinePrediction:
        """Predict every track of ``tl``; ``threshold`` defaults to the config's train.keyframe_threshold,
        ``params`` limits which parameters get predicted curves (default: every one the model predicts)."""
        threshold = self.cfg.train.keyframe_threshold if threshold is None else threshold
        params = None if params is None else list(params)
        if params is not None:
            unknown = sorted(set(params) - set(PARAMS))
            if unknown:
                raise ValueError(f"unknown parameter(s) {unknown}; known: {list(PARAMS)}")
        d = self.cfg.data
        frames = timeline_to_frames(tl, d.step_s)
        n_tracks = len(tl.tracks)
        S = int(frames["step"].max()) + 1 if len(frames) else 0
        R = len(REGRESSION_TARGETS)
        n_clips = max([len(t.clips) for t in tl.tracks] + [1])
        given = np.zeros((max(n_tracks, 1), n_clips, R), bool)
        for k, track in enumerate(tl.tracks):
            for j, c in enumerate(track.clips):
                for r, name in enumerate(REGRESSION_TARGETS):
                    given[k, j, r] = len(c.curves.get(name, ())) > 0
        vsum = np.zeros((n_tracks, S, R))
        ksum = np.zeros((n_tracks, S))
        isum = np.zeros((n_tracks, S, len(INTERPOLATIONS)))
        cnt = np.zeros((n_tracks, S))
        if S:
            raw = make_windows(frames, d.window, d.overlap, d.max_tracks)
            n_starts = len(window_starts(S, d.window, d.overlap))
            ds = _GivenCurves(raw, self.scalers, given, n_starts, d.max_tracks)
            for b0 in range(0, len(ds), self.batch_size):
                idx = np.arange(b0, min(len(ds), b0 + self.batch_size))
                batch = trim_tracks(collate([ds[int(i)] for i in idx]))  # padded tracks cost time, change nothing
                batch = {k: v.to(self.device) for k, v in batch.items()}
                batch["context_summary"] = batch["context_summary"][..., : self.n_summary]
                out = self.loss.calibrate(self.model(batch))
                self._accumulate(out, raw, idx, n_starts, n_tracks, S, (vsum, ksum, isum, cnt))
        c = np.maximum(cnt, 1)
        values = self.scalers.destandardise_targets(vsum / c[..., None])  # (n_tracks, S, R) native
        lvl = REGRESSION_TARGETS.index("level_db")
        values[..., lvl] = np.maximum(values[..., lvl], LEVEL_FLOOR_DB)  # the canonical unit floors at -60 dB
        for k, track in enumerate(tl.tracks):  # targets of the other track kind mean nothing here
            for r, name in enumerate(REGRESSION_TARGETS):
                if PARAMS[name][1] != track.kind or name not in self.cfg.model.targets:
                    values[k, :, r] = np.nan
        kprob = ksum / c
        interp = (isum / c[..., None]).argmax(-1) if S else np.zeros((n_tracks, 0), np.int64)
        clip_ids = frames["clip_id"].to_numpy().reshape(n_tracks, S) if S else np.full((n_tracks, 0), -1)
        predicted = self._curves(tl, clip_ids, values, kprob, interp, threshold, params)
        annotated = copy.deepcopy(tl)
        for (k, j), curves in predicted.items():
            annotated.tracks[k].clips[j].curves.update(curves)
        return TimelinePrediction(values, kprob, interp, annotated, predicted)

    def _accumulate(self, out, raw, idx, n_starts, n_tracks, S, sums) -> None:
        """Add one batch's outputs to the per-(track, step) sums (windows overlap; they are averaged)."""
        vsum, ksum, isum, cnt = sums
        K, T = raw["step_mask"].shape[1:]
        k_out = out[next(iter(out))].shape[1]  # trim_tracks may have dropped padded track rows
        tr = (idx // n_starts)[:, None, None] * K + np.arange(K)[None, :, None]  # (B, K, 1) timeline track
        steps = raw["start_step"][idx][:, None, None] + np.arange(T)[None, None, :]  # (B, 1, T)
        tr, steps = np.broadcast_arrays(tr, steps)  # (B, K, T)
        m = raw["step_mask"][idx] & (tr < n_tracks) & (steps < S)
        m[:, k_out:] = False
        tr, steps, m = tr[:, :k_out], steps[:, :k_out], m[:, :k_out]
        flat = tr[m] * S + steps[m]  # (N,) position in the (n_tracks, S) grid
        size = n_tracks * S

        def add(target: np.ndarray, x: torch.Tensor) -> None:  # x: (B, K, T)
            target += np.bincount(flat, weights=x.float().cpu().numpy()[m], minlength=size).reshape(n_tracks, S)

        for r, name in enumerate(REGRESSION_TARGETS):
            if name in out:
                add(vsum[..., r], out[name])
        if "keyframe" in out:
            add(ksum, key_probability(out["keyframe"]))
        if "interpolation" in out:
            probs = torch.softmax(out["interpolation"].float(), -1)
            for ci in range(probs.shape[-1]):
                add(isum[..., ci], probs[..., ci])
        cnt += np.bincount(flat, minlength=size).reshape(n_tracks, S)

    def _curves(self, tl, clip_ids, values, kprob, interp, threshold, params) -> Predicted:
        """Predicted curves for every (clip, parameter) without a curve in ``tl``."""
        step = grid_step(self.cfg.data.step_s)
        std = np.asarray(self.scalers.target_std, dtype=np.float64)
        out: Predicted = {}
        for k, track in enumerate(tl.tracks):
            todo = {
                j: [p for p in self.predictable(track.kind, params) if not len(c.curves.get(p, ()))]
                for j, c in enumerate(track.clips)
            }
            # the steps predictions are made for: the analogue of evaluation's keyframe mask
            wanted = np.array([j for j, ps in todo.items() if ps], dtype=np.int64)
            mask = np.isin(clip_ids[k], wanted)
            if not mask.any():
                continue
            keys = pick_keys(torch.from_numpy(kprob[k]), torch.from_numpy(mask), threshold).numpy()
            for j, names in todo.items():
                if not names:
                    continue
                clip = track.clips[j]
                steps = np.flatnonzero(clip_ids[k] == j)
                if len(steps) == 0:
                    continue  # the clip owns no step (shorter than a step, or hidden by another clip)
                at = steps[keys[steps]]
                curves = {}
                for name in names:
                    r = REGRESSION_TARGETS.index(name)
                    if len(at):
                        rows = [(s, float(values[k, s, r]), INTERPOLATIONS[int(interp[k, s])]) for s in at]
                    else:  # no key picked: the clip's mean prediction, held
                        rows = [(steps[0], float(np.mean(values[k, steps, r])), "linear")]
                    if max(abs(v - PARAMS[name][0]) for _, v, _ in rows) < DEFAULT_TOLERANCE * std[r]:
                        continue
                    curves[name] = Curve(
                        [Key(min(max(s * step, clip.start), clip.end), v, i) for s, v, i in rows]  # exact times
                    )
                if curves:
                    out[(k, j)] = curves
        return out

    def predict_file(
        self, path: str | Path, threshold: float | None = None, params: Iterable[str] | None = None
    ) -> list[TimelinePrediction]:
        return [self.predict_timeline(tl, threshold, params) for tl in read_file(path)]
