"""The contract between windows, dataset, model, loss and evaluation: array names and shapes.

Raw windows (``core.data.windows.make_windows``) are dicts of numpy arrays with a leading window axis N.
K = max_tracks, T = window steps, F = len(FEATURES), R = len(REGRESSION_TARGETS) (always all 7;
a model picks its own targets by name).

raw window arrays (N = windows)                       dtype    shape
  features        structural features, raw units      float32  (N, K, T, F)
  targets         regression targets, native units    float32  (N, K, T, R)
  target_valid    target defined here (active clip     bool     (N, K, T, R)
                  of the matching track kind)
  keyframe        1 if a key of any parameter is here  int64    (N, K, T)
  keyframe_valid  active clip step                     bool     (N, K, T)
  interpolation   0 linear / 1 smooth / 2 hold         int64    (N, K, T)
  interp_valid    a key is here                        bool     (N, K, T)
  clip_id         the clip's index in its track,       int32    (N, K, T)
                  -1 where no clip is active
  source_id       core.data.context.source_id of the   int64    (N, K, T)
                  clip's media, 0 where none/unknown
  track_kind      0 video / 1 audio (0 on padding)     int64    (N, K)
  track_index     position of the track in its group   int64    (N, K)
  track_row       row of the track in its timeline     int64    (N, K)
                  (all track groups), -1 on padding
  track_mask      real track                           bool     (N, K)
  step_mask       real step of a real track            bool     (N, K, T)
  timeline        timeline number in the prepared set  int64    (N,)
  start_step      first step of the window             int64    (N,)

A batch (``core.data.dataset``; collate adds B in front of each per-window shape) holds:
  features (B,K,T,F) standardised; track_kind, track_index, track_mask, step_mask as above;
  targets (B,K,T,R) standardised; target_mask (B,K,T,R) = target_valid and not given;
  keyframe, keyframe_mask (B,K,T) = keyframe_valid and not given;
  interpolation, interpolation_mask (B,K,T) = interp_valid and not given;
  context_values (B,K,T,R) standardised true values where given, else 0;
  context_given (B,K,T,R) float 1.0 where given; context_key (B,K,T) float 1.0 where a given
  clip has a key at this step; context_summary (B,K,T,S) the timeline-wide summary of the given
  clips (core.data.context.SUMMARY_FEATURES), 0 on padding; target_weight (B,K,R) float the weight of
  each regression target's squared error in the training loss (1, or loss.programme_floor's).
  The given clips are drawn per timeline: a clip given in one window is given in all of them.

Model outputs: {regression target: (B,K,T) standardised prediction,
                "keyframe": (B,K,T,2) logits, "interpolation": (B,K,T,3) logits}.
"""

import numpy as np

from core.config import CLASSIFICATION_TARGETS, REGRESSION_TARGETS
from core.data.timeline import DIALECTS

FEATURES = (
    "active",  # a clip covers this step
    "progress",  # 0..1 through the clip
    "elapsed_s",  # seconds since the clip's start
    "remaining_s",  # seconds to the clip's end
    "clip_duration_s",
    "kind_video",  # media kind one-hot (core.data.timeline.MEDIA_KINDS order)
    "kind_still",
    "kind_audio",
    "kind_generator",
    "kind_sequence",
    "transition_in_s",
    "transition_out_s",
    "n_video_active",  # enabled video clips active at this moment, all tracks
    "n_audio_active",
    "seq_position",  # t / timeline duration
    "seq_remaining_s",  # seconds to the timeline's end
    "clip_enabled",
    "track_enabled",
)

# What the export says about the timeline, the clip's source and its role (issue 6; Timeline/Clip
# fields filled by the readers). Every value the file may not state comes with a ``*_known`` flag and
# is 0 (a neutral value: ratio 1, same rate, normal speed) where unknown, never a silent guess.
# Computed in core.data.frames.metadata_features. Premiere's clip gain is not an input: the readers
# add it to the heard level_db, which is a target. Nor are the effects applied: exporters write the
# Motion / Opacity / Levels / Pan filters only on clips where those parameters were changed, so the
# effect list tells which targets are set (the built-in corpus scored under its own noise floor with it)
# and would say "nothing set" on every clip of a timeline still to annotate.
METADATA_FEATURES = (
    *(f"dialect_{d}" for d in DIALECTS),  # one-hot of Timeline.dialect
    "app_known",  # Timeline.app one-hot (Final Cut Pro 7 and X told apart by the dialect)
    "app_premiere",
    "app_fcp7",
    "app_fcpx",
    "app_resolve",
    "seq_size_known",
    "seq_aspect_log",  # log(width * pixel aspect / height) of the sequence
    "src_size_known",  # the clip's source frame size is known
    "src_w_log_ratio",  # log(source width / sequence width), pixels
    "src_h_log_ratio",  # log(source height / sequence height)
    "fit_log",  # log of the scale (1 = 100 %) that fits the source into the frame, pixel aspects applied
    "fill_log",  # ... that fills the frame
    "fit_px_log",  # the same in square pixels (what Premiere's 100 % means for anamorphic media)
    "fill_px_log",
    "src_portrait",  # 1 portrait, 0 landscape or unknown
    "src_rate_known",
    "src_rate_log_ratio",  # log(source fps / sequence fps)
    "channels_known",  # audio channel count of the source is known
    "channels_log",  # log(audio channels)
    "channel_known",  # the source channel the clip plays is known
    "channel_odd",  # it plays an odd (left of a pair) channel: 1, 3, ...
    "channel_even",  # an even (right) channel: 2, 4, ...
    "channel_index",  # 0-based source channel, capped at 8
    "speed_known",
    "speed_log",  # log(|speed|)
    "reversed",
    "time_remap",  # a variable-speed retiming is applied (unknown = 0)
    "ext_known",  # the media file's extension, grouped
    "ext_video",
    "ext_image",
    "ext_audio",
    "ext_graphic",
    "linked",  # the clip is linked to others (picture + sound, stereo pair)
    "track_of_kind_pos",  # the track's position among the tracks of its kind, 0 first .. 1 last
    "tracks_of_kind_log",  # log(number of tracks of this kind)
)
FEATURES = FEATURES + METADATA_FEATURES

# Durations in seconds span 0.1 s to hours, yet what editors do depends on the first and last
# second of a clip (fades, ducking ramps, key placement). The model therefore sees the
# second-valued features as log1p, plus decaying distances to the clip's and the timeline's edges
# at a few time scales (1 at the edge, ~0 a few scales away): without them a 0.3 s fade is a
# 0.05-sigma change of the input and neither an MLP nor the transformer learns it in minutes.
LOG_FEATURES = ("elapsed_s", "remaining_s", "clip_duration_s", "transition_in_s", "transition_out_s", "seq_remaining_s")
EDGE_SCALES_S = (0.3, 1.0, 3.0)
SEQ_END_SCALES_S = (1.0, 5.0)
MODEL_FEATURES = (
    FEATURES
    + tuple(f"{edge}_{tau:g}s" for edge in ("near_start", "near_end") for tau in EDGE_SCALES_S)
    + tuple(f"near_seq_end_{tau:g}s" for tau in SEQ_END_SCALES_S)
)
_LOG_IDX = [FEATURES.index(f) for f in LOG_FEATURES]
_ACTIVE, _ELAPSED, _REMAINING, _SEQ_REM = (
    FEATURES.index(f) for f in ("active", "elapsed_s", "remaining_s", "seq_remaining_s")
)


_DIALECT = FEATURES.index(f"dialect_{DIALECTS[0]}")  # the one-hots are consecutive, in DIALECTS order


def dialect_of(features: np.ndarray) -> np.ndarray:
    """(..., F) raw features -> (...) index into DIALECTS of the timeline's dialect one-hot, -1 where none is set."""
    hot = np.asarray(features)[..., _DIALECT : _DIALECT + len(DIALECTS)]
    return np.where(hot.max(axis=-1) > 0.5, hot.argmax(axis=-1), -1)


_SRC_KNOWN, _SRC_W, _SRC_H = (FEATURES.index(c) for c in ("src_size_known", "src_w_log_ratio", "src_h_log_ratio"))


def geometry_of(features: np.ndarray) -> np.ndarray:
    """(..., F) raw features -> (...) int64 key of the source frame size relative to the sequence's (clips of
    one size in one timeline share it; log ratios to 0.001), 0 where the file does not say the size."""
    f = np.asarray(features)
    w = np.round(f[..., _SRC_W].astype(np.float64) * 1000).astype(np.int64) + 2**20
    h = np.round(f[..., _SRC_H].astype(np.float64) * 1000).astype(np.int64) + 2**20
    return np.where(f[..., _SRC_KNOWN] > 0.5, w * 2**21 + h + 1, 0)


def transform_features(x):
    """(..., F) raw features (frame-table units) -> (..., len(MODEL_FEATURES)) model-space features."""
    x = np.asarray(x, dtype=np.float32)
    active = x[..., _ACTIVE : _ACTIVE + 1]
    elapsed = np.maximum(x[..., _ELAPSED : _ELAPSED + 1], 0.0)
    remaining = np.maximum(x[..., _REMAINING : _REMAINING + 1], 0.0)
    seq_rem = np.maximum(x[..., _SEQ_REM : _SEQ_REM + 1], 0.0)
    taus = np.asarray(EDGE_SCALES_S, np.float32)
    base = x.copy()
    base[..., _LOG_IDX] = np.log1p(np.maximum(base[..., _LOG_IDX], 0.0))
    return np.concatenate(
        [
            base,
            active * np.exp(-elapsed / taus),  # (..., 3) near the clip's start
            active * np.exp(-remaining / taus),  # (..., 3) near the clip's end
            np.exp(-seq_rem / np.asarray(SEQ_END_SCALES_S, np.float32)),  # (..., 2) near the timeline's end
        ],
        axis=-1,
    ).astype(np.float32)


RAW_KEYS = (
    "features",
    "targets",
    "target_valid",
    "keyframe",
    "keyframe_valid",
    "interpolation",
    "interp_valid",
    "clip_id",
    "source_id",
    "track_kind",
    "track_index",
    "track_row",
    "track_mask",
    "step_mask",
    "timeline",
    "start_step",
)

BATCH_KEYS = (
    "features",
    "track_kind",
    "track_index",
    "track_mask",
    "step_mask",
    "targets",
    "target_mask",
    "keyframe",
    "keyframe_mask",
    "interpolation",
    "interpolation_mask",
    "context_values",
    "context_given",
    "context_key",
    "context_summary",
    "target_weight",
)

__all__ = [
    "dialect_of",
    "geometry_of",
    "FEATURES",
    "METADATA_FEATURES",
    "MODEL_FEATURES",
    "transform_features",
    "trim_tracks",
    "RAW_KEYS",
    "BATCH_KEYS",
    "REGRESSION_TARGETS",
    "CLASSIFICATION_TARGETS",
]


def trim_tracks(batch: dict) -> dict:
    """Drop the track rows that are padding in every window of the batch (K -> the batch's widest).

    Every batch key has K on axis 1; padded tracks never influence real tokens, so the outputs at
    real positions are unchanged and a batch of 5-track timelines costs 5/8 of a padded one.
    """
    tm = batch["track_mask"]  # (B, K)
    real = tm.any(0).nonzero()
    k = int(real.max()) + 1 if len(real) else 1
    if k == tm.shape[1]:
        return batch
    return {name: v[:, :k] for name, v in batch.items()}
