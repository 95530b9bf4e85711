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
    return _shares_by_dialect(_dialect_key_counts(raw))


def interpolation_evidence(raw: dict[str, np.ndarray]) -> dict[str, float]:
    """{dialect: n / (n + EVIDENCE_KEYS)} for the n keys of each dialect in ``raw`` windows."""
    return _evidence(_dialect_key_counts(raw))


def _shares_by_dialect(counts: dict[str, np.ndarray]) -> dict[str, list[float]]:
    out = {}
    for d, c in counts.items():
        q = c + FORMAT_PRIOR_KEYS * np.asarray(FORMAT_INTERP[d])
        out[d] = (q / q.sum()).tolist()
    return out


def _evidence(counts: dict[str, np.ndarray]) -> dict[str, float]:
    return {d: float(c.sum() / (c.sum() + EVIDENCE_KEYS)) for d, c in counts.items()}


# the window arrays Scalers.fit reads beyond the features
_FIT_KEYS = (
    "features", "step_mask", "track_kind", "targets", "target_valid", "keyframe", "keyframe_valid",
    "interpolation", "interp_valid",
)  # fmt: skip


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
    def fit(cls, raw: dict[str, np.ndarray], chunk: int = 256) -> Scalers:
        """Fit on training windows: features over real steps, targets over their valid positions.

        ``chunk`` windows at a time (sums, counts and moments combined across chunks), so memory holds one chunk's
        selections, not the whole set's: the windows are memory-mapped from the prepared cache
        (core.data.store), and a corpus ten times the shared ones would otherwise need gigabytes here."""
        fmean, fstd = _feature_moments(raw["features"], raw["step_mask"], chunk)
        fstd = np.where(fstd < FEATURE_STD_MIN, 1.0, fstd)
        R, K = len(REGRESSION_TARGETS), len(TRACK_KINDS)
        n, total, squares = np.zeros((3, R))  # valid positions per target: count, sum, sum of squares (float64)
        n_kind, total_kind = np.zeros((R, K)), np.zeros((R, K))
        keys_kind, valid_kind = np.zeros(K), np.zeros(K)  # key positions per track kind: keys, valid positions
        interp_counts = np.zeros(len(INTERPOLATIONS))
        by_dialect = {d: np.zeros(len(INTERPOLATIONS)) for d in DIALECTS}
        steps = 0
        for at in range(0, len(raw["step_mask"]), chunk):
            c = {k: raw[k][at : at + chunk] for k in _FIT_KEYS}
            steps += int(c["step_mask"].sum())
            kind = np.broadcast_to(c["track_kind"][:, :, None], c["step_mask"].shape)  # (n, K, T)
            of_kind = [kind == k for k in range(K)]  # once per chunk, for every target and the keys
            targets, valid = c["targets"], c["target_valid"]
            for i in range(R):
                y, v = targets[..., i], valid[..., i]
                yv = y[v].astype(np.float64)
                n[i] += len(yv)
                total[i] += yv.sum()
                squares[i] += (yv * yv).sum()
                for k in range(K):
                    yk = y[v & of_kind[k]].astype(np.float64)
                    n_kind[i, k] += len(yk)
                    total_kind[i, k] += yk.sum()
            kv, kf = c["keyframe_valid"], c["keyframe"]
            for k in range(K):
                sel = kv & of_kind[k]
                keys_kind[k] += kf[sel].sum()
                valid_kind[k] += sel.sum()
            interp_counts += np.bincount(c["interpolation"][c["interp_valid"]], minlength=len(INTERPOLATIONS))
            for d, counts in _dialect_key_counts(c).items():
                by_dialect[d] += counts
        tmean, tstd, reg = [], [], {}
        for i, name in enumerate(REGRESSION_TARGETS):
            m = float(total[i] / n[i]) if n[i] else 0.0
            var = float(squares[i] / n[i] - m * m) if n[i] else 0.0
            s = max(float(np.sqrt(max(var, 0.0))), STD_FLOOR[name])
            tmean.append(m)
            tstd.append(s)
            reg[name] = {
                kname: float((total_kind[i, k] / n_kind[i, k] - m) / s) if n_kind[i, k] else 0.0
                for k, kname in enumerate(TRACK_KINDS)
            }
        rates = {
            kname: float(keys_kind[k] / valid_kind[k]) if valid_kind[k] else 0.0 for k, kname in enumerate(TRACK_KINDS)
        }
        pos = int(keys_kind.sum())
        neg = int(valid_kind.sum()) - pos
        interp = (
            (interp_counts / interp_counts.sum()).tolist()
            if interp_counts.sum()
            else [1.0 / len(INTERPOLATIONS)] * len(INTERPOLATIONS)
        )
        return cls(
            feature_mean=fmean.tolist(),
            feature_std=fstd.tolist(),
            target_mean=tmean,
            target_std=tstd,
            baseline={
                "regression": reg,
                "keyframe": rates,
                "interpolation": interp,
                "interpolation_by_dialect": _shares_by_dialect(by_dialect),
                "interpolation_evidence": _evidence(by_dialect),
            },
            keyframe_pos_weight=float(np.sqrt(neg / pos)) if pos > 0 and neg > 0 else 1.0,
            counts={
                "steps": steps,
                "keyframe_valid": int(valid_kind.sum()),
                "keys": pos,
                **{f"valid_{name}": int(n[i]) for i, name in enumerate(REGRESSION_TARGETS)},
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
