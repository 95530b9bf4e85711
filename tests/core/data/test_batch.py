"""Model-space features and per-batch track trimming."""

from __future__ import annotations

import numpy as np
import torch

from core.data.batch import FEATURES, MODEL_FEATURES, transform_features, trim_tracks


def test_transform_features_log_and_edge_distances():
    F = {n: i for i, n in enumerate(FEATURES)}
    x = np.zeros((3, len(FEATURES)), np.float32)
    x[:, F["active"]] = [1, 1, 0]
    x[:, F["elapsed_s"]] = [0.0, 3.0, 0.0]  # clip start, 3 s in, no clip
    x[:, F["remaining_s"]] = [5.0, 0.0, 0.0]
    x[:, F["seq_remaining_s"]] = [60.0, 0.0, 1.0]
    y = transform_features(x)
    M = {n: i for i, n in enumerate(MODEL_FEATURES)}
    assert y.shape == (3, len(MODEL_FEATURES))
    np.testing.assert_allclose(y[:, M["elapsed_s"]], np.log1p([0.0, 3.0, 0.0]), rtol=1e-6)
    np.testing.assert_allclose(y[:, M["near_start_0.3s"]], [1.0, np.exp(-10.0), 0.0], rtol=1e-5)
    np.testing.assert_allclose(y[:, M["near_end_1s"]], [np.exp(-5.0), 1.0, 0.0], rtol=1e-5)
    np.testing.assert_allclose(y[:, M["near_seq_end_5s"]], [np.exp(-12.0), 1.0, np.exp(-0.2)], rtol=1e-5)
    assert x[1, F["elapsed_s"]] == 3.0  # the input is not modified


def test_trim_tracks_keeps_every_real_track():
    B, K, T = 3, 8, 5
    tm = torch.zeros(B, K, dtype=torch.bool)
    tm[0, :2] = True
    tm[1, :5] = True  # the widest window of the batch
    tm[2, :1] = True
    batch = {"track_mask": tm, "features": torch.randn(B, K, T, 4), "keyframe": torch.zeros(B, K, T)}
    out = trim_tracks(batch)
    assert out["features"].shape == (B, 5, T, 4) and out["track_mask"].sum() == tm.sum()
    torch.testing.assert_close(out["features"], batch["features"][:, :5])
    full = {**batch, "track_mask": torch.ones(B, K, dtype=torch.bool)}
    assert trim_tracks(full)["features"].shape[1] == K
