"""Frame table -> fixed-length multi-track windows (the raw arrays of core.data.batch.RAW_KEYS).

A timeline with more tracks than ``max_tracks`` is cut into track groups of ``max_tracks``
consecutive tracks (video then audio, the timeline's order); every group gets the same windows in
time, so no real (track, step) is lost. Window starts are every ``window - overlap`` steps; when
that grid does not reach the end, one more window is aligned to the end (full, unpadded). A timeline
shorter than a window gives one window padded at the end.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.config import REGRESSION_TARGETS, DataConfig
from core.data.batch import FEATURES, RAW_KEYS
from core.data.frames import timeline_to_frames

F, R = len(FEATURES), len(REGRESSION_TARGETS)


def window_starts(n_steps: int, window: int, overlap: int) -> np.ndarray:
    """First step of each window: every ``window - overlap`` steps, the last one ending at the end."""
    if n_steps <= 0:
        return np.zeros(0, dtype=np.int64)
    if n_steps <= window:
        return np.zeros(1, dtype=np.int64)
    stride = window - overlap
    starts = np.arange(0, n_steps - window + 1, stride, dtype=np.int64)
    if starts[-1] + window < n_steps:
        starts = np.append(starts, n_steps - window)
    return starts


def empty_windows(window: int, max_tracks: int) -> dict[str, np.ndarray]:
    """Zero windows with the right trailing shapes and dtypes (for files without timelines)."""
    K, T = max_tracks, window
    return {
        "features": np.zeros((0, K, T, F), np.float32),
        "targets": np.zeros((0, K, T, R), np.float32),
        "target_valid": np.zeros((0, K, T, R), bool),
        "keyframe": np.zeros((0, K, T), np.int64),
        "keyframe_valid": np.zeros((0, K, T), bool),
        "interpolation": np.zeros((0, K, T), np.int64),
        "interp_valid": np.zeros((0, K, T), bool),
        "clip_id": np.zeros((0, K, T), np.int32),
        "source_id": np.zeros((0, K, T), np.int64),
        "track_kind": np.zeros((0, K), np.int64),
        "track_index": np.zeros((0, K), np.int64),
        "track_row": np.zeros((0, K), np.int64),
        "track_mask": np.zeros((0, K), bool),
        "step_mask": np.zeros((0, K, T), bool),
        "timeline": np.zeros(0, np.int64),
        "start_step": np.zeros(0, np.int64),
    }


def make_windows(
    frames: pd.DataFrame, window: int, overlap: int, max_tracks: int, timeline: int = 0
) -> dict[str, np.ndarray]:
    """Cut one timeline's frame table into windows: dict of RAW_KEYS arrays with leading axis N."""
    if not 0 <= overlap < window:
        raise ValueError(f"overlap must be in [0, window), got overlap={overlap} window={window}")
    if len(frames) == 0:
        return empty_windows(window, max_tracks)
    K, T = max_tracks, window

    # Dense (n_tracks, S, ...) arrays from the long table; tracks keep their order.
    track_ids, tpos = np.unique(frames["track"].to_numpy(), return_inverse=True)
    spos = frames["step"].to_numpy().astype(np.int64)
    n_tracks, S = len(track_ids), int(spos.max()) + 1
    n_groups = -(-n_tracks // K)
    nk, ns = n_groups * K, S + T  # tracks padded to whole groups; steps padded so every slice fits

    def dense(cols, dtype, fill=0):
        out = np.full((nk, ns) + ((len(cols),) if isinstance(cols, list) else ()), fill, dtype=dtype)
        out[tpos, spos] = frames[cols].to_numpy().astype(dtype)
        return out

    feats = dense(list(FEATURES), np.float32)  # (nk, ns, F)
    targets = dense(list(REGRESSION_TARGETS), np.float32)  # (nk, ns, R)
    tvalid = dense(["valid_" + r for r in REGRESSION_TARGETS], bool, False)  # (nk, ns, R)
    keyframe = dense("keyframe", np.int64)
    kvalid = dense("keyframe_valid", bool, False) if "keyframe_valid" in frames else dense("active", bool, False)
    interp = dense("interpolation", np.int64)
    ivalid = dense("interp_valid", bool, False)
    clip_id = dense("clip_id", np.int32, -1)
    source = dense("source_id", np.int64) if "source_id" in frames else np.zeros((nk, ns), np.int64)
    real = np.zeros((nk, ns), bool)
    real[tpos, spos] = True

    kind = np.zeros(nk, np.int64)
    kind[tpos] = frames["track_kind"].to_numpy()
    tmask = np.zeros(nk, bool)
    tmask[:n_tracks] = True
    tindex = np.where(tmask, np.arange(nk) % K, 0)
    trow = np.where(tmask, np.arange(nk), -1)  # the track's row in the timeline (all groups)

    starts = window_starts(S, T, overlap)  # (W,)
    W = len(starts)
    g = np.repeat(np.arange(n_groups), W)  # window n -> track group, group-major
    st = np.tile(starts, n_groups)  # window n -> first step
    rows = (g[:, None] * K + np.arange(K))[:, :, None]  # (N, K, 1)
    cols = (st[:, None] + np.arange(T))[:, None, :]  # (N, 1, T)

    return {
        "features": feats[rows, cols],  # (N, K, T, F)
        "targets": targets[rows, cols],  # (N, K, T, R)
        "target_valid": tvalid[rows, cols],  # (N, K, T, R)
        "keyframe": keyframe[rows, cols],  # (N, K, T)
        "keyframe_valid": kvalid[rows, cols],
        "interpolation": interp[rows, cols],
        "interp_valid": ivalid[rows, cols],
        "clip_id": clip_id[rows, cols],
        "source_id": source[rows, cols],  # (N, K, T)
        "track_kind": kind[rows[:, :, 0]],  # (N, K)
        "track_index": tindex[rows[:, :, 0]],
        "track_row": trow[rows[:, :, 0]],
        "track_mask": tmask[rows[:, :, 0]],
        "step_mask": real[rows, cols],  # (N, K, T)
        "timeline": np.full(len(st), timeline, np.int64),  # (N,)
        "start_step": st.astype(np.int64),
    }


def concat_windows(
    parts: list[dict[str, np.ndarray]], window: int | None = None, max_tracks: int | None = None
) -> dict[str, np.ndarray]:
    """Concatenate window dicts along N. An empty list needs ``window`` and ``max_tracks`` for the shapes.
    (A corpus's files are concatenated on disk instead, part by part: core.data.store.)"""
    parts = [p for p in parts if p is not None]
    if not parts:
        if window is None or max_tracks is None:
            raise ValueError("concat_windows of nothing needs window and max_tracks")
        return empty_windows(window, max_tracks)
    return {k: np.concatenate([p[k] for p in parts], axis=0) for k in RAW_KEYS}


def n_windows(raw: dict[str, np.ndarray]) -> int:
    return int(raw["timeline"].shape[0])


def windows_of(timelines, cfg: DataConfig) -> dict[str, np.ndarray]:
    """All timelines of one file -> one set of windows (``timeline`` = index within the file)."""
    parts = [
        make_windows(timeline_to_frames(tl, cfg.step_s), cfg.window, cfg.overlap, cfg.max_tracks, timeline=i)
        for i, tl in enumerate(timelines)
    ]
    return concat_windows(parts, cfg.window, cfg.max_tracks)
