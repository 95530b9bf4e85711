"""Train-set statistics (feature and target standardisation, the constant baseline), frozen with the
prepared data and stored as JSON, never pickle."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.config import REGRESSION_TARGETS
from core.data.batch import MODEL_FEATURES, dialect_of, transform_features
from core.data.timeline import DIALECTS, INTERPOLATIONS, TRACK_KINDS

# Floor on each target's std in native units (DESIGN.md): a nearly constant target (rotation is 0
# almost everywhere) must not blow up its standardised errors.
STD_FLOOR = {
    "scale": 1.0,
    "rotation": 1.0,
    "center_x": 0.01,
    "center_y": 0.01,
    "opacity": 1.0,
    "level_db": 1.0,
    "pan": 0.1,
}
FEATURE_STD_MIN = 1e-6  # a constant feature (kind_sequence on a corpus without nests) keeps std 1
# What each format writes for a key its editor left alone (linear, smooth, hold): xmeml and MLT keys are
# linear unless they say otherwise, FCPXML's are smooth (the DTD's default for a keyframe without
# ``curve``). The training set's own shares per dialect are shrunk towards these, as if these had
# FORMAT_PRIOR_KEYS keys: a dialect with few keys in training (a handful of FCPXML files) keeps its
# format's habit instead of the majority dialect's.
FORMAT_INTERP = {"xmeml": (0.9, 0.1, 0.0), "fcpxml": (0.1, 0.9, 0.0), "mlt": (0.9, 0.05, 0.05)}
FORMAT_PRIOR_KEYS = 20.0
# How far the model's own interpolation logits are followed for a dialect: n / (n + EVIDENCE_KEYS) for n
# training keys of that dialect. What the network learns about key habits comes from the dialects it saw;
# on a dialect it barely saw (4 FCPXML keys beside 4,000 xmeml ones in the real corpora) those habits are
# another format's, and its prediction should stay near that dialect's prior (measured: benchmarks/RESULTS.md).
EVIDENCE_KEYS = 50.0


def _dialect_key_counts(raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """{dialect: key count per interpolation class} of the keys of ``raw`` windows."""
    valid = raw["interp_valid"]  # (N, K, T): the keys, as the baseline's shares count them
    dialect = dialect_of(raw["features"][valid])  # (keys,)
    interp = raw["interpolation"][valid]
    return {
        d: np.bincount(interp[dialect == i], minlength=len(INTERPOLATIONS)).astype(np.float64)
        for i, d in enumerate(DIALECTS)
    }


def interpolation_by_dialect(raw: dict[str, np.ndarray]) -> dict[str, list[float]]:
    """{dialect: interpolation shares} of the keys of ``raw`` windows, shrunk towards FORMAT_INTERP."""
    out = {}
    for d, counts in _dialect_key_counts(raw).items():
        q = counts + FORMAT_PRIOR_KEYS * np.asarray(FORMAT_INTERP[d])
        out[d] = (q / q.sum()).tolist()
    return out


def interpolation_evidence(raw: dict[str, np.ndarray]) -> dict[str, float]:
    """{dialect: n / (n + EVIDENCE_KEYS)} for the n keys of each dialect in ``raw`` windows."""
    return {d: float(c.sum() / (c.sum() + EVIDENCE_KEYS)) for d, c in _dialect_key_counts(raw).items()}


def _like(values, x):
    """``values`` (a list) as an array/tensor broadcastable against ``x`` (numpy array or torch tensor)."""
    if isinstance(x, np.ndarray) or np.isscalar(x):
        return np.asarray(values, dtype=np.float32 if getattr(x, "dtype", None) == np.float32 else np.float64)
    import torch  # only reached with tensors: data workers need no torch

    return torch.as_tensor(values, dtype=x.dtype, device=x.device)


def _feature_moments(features: np.ndarray, step_mask: np.ndarray, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of the model-space features over real steps, ``chunk`` windows at a time (float64 sums,
    chunks combined as in Chan et al.), so that memory holds one chunk's transform, not the whole set's."""
    n, mean, m2 = 0, np.zeros(len(MODEL_FEATURES)), np.zeros(len(MODEL_FEATURES))
    for i in range(0, len(step_mask), chunk):
        x = transform_features(features[i : i + chunk][step_mask[i : i + chunk]]).astype(np.float64)  # (M, F)
        if not len(x):
            continue
        nb, mb = len(x), x.mean(axis=0)
        m2b = ((x - mb) ** 2).sum(axis=0)
        delta = mb - mean
        total = n + nb
        mean = mean + delta * (nb / total)
        m2 = m2 + m2b + delta**2 * (n * nb / total)
        n = total
    if n == 0:
        return np.zeros(len(MODEL_FEATURES)), np.ones(len(MODEL_FEATURES))
    return mean, np.sqrt(m2 / n)


@dataclass
class Scalers:
    """Train-set statistics, frozen with the prepared data. JSON in and out, never pickle.

    ``baseline`` is the constant predictor every report divides by:
    {"regression": {target: {"video": mean, "audio": mean}} (standardised units),
     "keyframe": {"video": rate, "audio": rate}, "interpolation": [p_linear, p_smooth, p_hold],
     "interpolation_by_dialect": {dialect: [p_linear, p_smooth, p_hold]},
     "interpolation_evidence": {dialect: weight}} (``interpolation_by_dialect`` is what the context summary
    starts from, ``interpolation_evidence`` how far the model's interpolation logits are followed per dialect;
    scalers written before them lack them).
    """

    feature_names: list[str] = field(default_factory=lambda: list(MODEL_FEATURES))
    feature_mean: list[float] = field(default_factory=lambda: [0.0] * len(MODEL_FEATURES))
    feature_std: list[float] = field(default_factory=lambda: [1.0] * len(MODEL_FEATURES))
    target_names: list[str] = field(default_factory=lambda: list(REGRESSION_TARGETS))
    target_mean: list[float] = field(default_factory=lambda: [0.0] * len(REGRESSION_TARGETS))
    target_std: list[float] = field(default_factory=lambda: [1.0] * len(REGRESSION_TARGETS))
    baseline: dict[str, Any] = field(default_factory=dict)
    keyframe_pos_weight: float = 1.0
    counts: dict[str, int] = field(default_factory=dict)  # positions the statistics were fit on

    @classmethod
    def fit(cls, raw: dict[str, np.ndarray]) -> Scalers:
        """Fit on training windows: features over real steps, targets over their valid positions."""
        step_mask = raw["step_mask"]  # (N, K, T)
        fmean, fstd = _feature_moments(raw["features"], step_mask)
        fstd = np.where(fstd < FEATURE_STD_MIN, 1.0, fstd)

        kind = np.broadcast_to(raw["track_kind"][:, :, None], step_mask.shape)  # (N, K, T)
        tmean, tstd, reg = [], [], {}
        for i, name in enumerate(REGRESSION_TARGETS):
            valid = raw["target_valid"][..., i]
            y = raw["targets"][..., i][valid].astype(np.float64)
            m = float(y.mean()) if len(y) else 0.0
            s = max(float(y.std()) if len(y) else 0.0, STD_FLOOR[name])
            tmean.append(m)
            tstd.append(s)
            reg[name] = {}
            for k, kname in enumerate(TRACK_KINDS):
                yk = raw["targets"][..., i][valid & (kind == k)].astype(np.float64)
                reg[name][kname] = float((yk.mean() - m) / s) if len(yk) else 0.0

        kv, kf = raw["keyframe_valid"], raw["keyframe"]
        rates = {}
        for k, kname in enumerate(TRACK_KINDS):
            sel = kv & (kind == k)
            rates[kname] = float(kf[sel].mean()) if sel.any() else 0.0
        pos = int(kf[kv].sum())
        neg = int(kv.sum()) - pos
        counts = np.bincount(raw["interpolation"][raw["interp_valid"]], minlength=len(INTERPOLATIONS))
        interp = (counts / counts.sum()).tolist() if counts.sum() else [1.0 / len(INTERPOLATIONS)] * len(INTERPOLATIONS)
        return cls(
            feature_mean=fmean.tolist(),
            feature_std=fstd.tolist(),
            target_mean=tmean,
            target_std=tstd,
            baseline={
                "regression": reg,
                "keyframe": rates,
                "interpolation": interp,
                "interpolation_by_dialect": interpolation_by_dialect(raw),
                "interpolation_evidence": interpolation_evidence(raw),
            },
            keyframe_pos_weight=float(np.sqrt(neg / pos)) if pos > 0 and neg > 0 else 1.0,
            counts={
                "steps": int(step_mask.sum()),
                "keyframe_valid": int(kv.sum()),
                "keys": pos,
                **{f"valid_{n}": int(raw["target_valid"][..., i].sum()) for i, n in enumerate(REGRESSION_TARGETS)},
            },
        )

    def standardise_features(self, x):
        """(..., F) model-space features (core.data.batch.transform_features) -> standardised (numpy or torch)."""
        return (x - _like(self.feature_mean, x)) / _like(self.feature_std, x)

    def standardise_targets(self, y):
        """(..., R) native units -> standardised (numpy or torch)."""
        return (y - _like(self.target_mean, y)) / _like(self.target_std, y)

    def destandardise_targets(self, y):
        """(..., R) standardised -> native units (numpy or torch)."""
        return y * _like(self.target_std, y) + _like(self.target_mean, y)

    def destandardise_target(self, name: str, y):
        """One target's (...) standardised values -> native units."""
        i = self.target_names.index(name)
        return y * self.target_std[i] + self.target_mean[i]

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> Scalers:
        d = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"scalers JSON has unknown fields {sorted(unknown)}")
        s = cls(**d)
        if s.feature_names != list(MODEL_FEATURES) or s.target_names != list(REGRESSION_TARGETS):
            raise ValueError(
                "scalers JSON was fit on other features/targets than this code's core.data.batch.FEATURES "
                f"/ REGRESSION_TARGETS: {s.feature_names} / {s.target_names}"
            )
        return s

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> Scalers:
        return cls.from_json(Path(path).read_text())
