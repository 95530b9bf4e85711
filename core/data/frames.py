"""Timeline -> frame table: one row per track x time step on a uniform grid.

Step ``i`` sits at ``t = i * step_s`` for ``i in [0, ceil(duration / step_s))``. The grid is computed
exactly (the step as a Fraction) so a clip starting at 0.3 s owns step 3 however 0.3 rounds as a float.

Decisions (DESIGN.md "Frame table and windows" leaves them open):

- A step belongs to the clip covering it (``start <= t < end``); where clips overlap on one track
  the later-starting clip wins (same start: the later one in the track's list).
- Structural features come from the edit only (core.data.batch.FEATURES), never from keyframes.
- ``n_video_active`` / ``n_audio_active`` count enabled clips on enabled tracks (what plays).
- Disabled clips and clips on disabled tracks keep their rows, targets and keyframe labels: their
  curves are real editor data, and ``clip_enabled`` / ``track_enabled`` tell the model what they are.
- Targets: video parameters are valid on steps of a video-track clip, audio parameters on steps of
  an audio-track clip; the value is the curve at ``t`` (keys outside the clip still shape it) or the
  PARAMS default where the clip has no curve. Invalid targets are 0.
- Keyframe labels count keys of the parameters of the clip's own track kind. A key inside the clip
  (``start <= time <= end``: a key on the cut that ends a fade belongs to the clip) goes to the
  nearest step the clip owns (ties: the earlier step), so a key on the clip's first frame lands on
  the clip's first valid step and a key on its end on its last. Keys outside the clip, and keys more
  than one step away from every step the clip owns (hidden by an overlapping clip), are dropped.
- ``interpolation`` at a keyed step is that of the key nearest the step (ties: PARAMS order).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd

from core.config import REGRESSION_TARGETS
from core.data.batch import FEATURES, METADATA_FEATURES
from core.data.context import source_id
from core.data.timeline import DIALECTS, INTERPOLATIONS, LEVEL_FLOOR_DB, PARAMS, Curve, Timeline

_F = {name: i for i, name in enumerate(FEATURES)}
_R = {name: i for i, name in enumerate(REGRESSION_TARGETS)}
_INTERP = {name: i for i, name in enumerate(INTERPOLATIONS)}
_PARAM_ORDER = {name: i for i, name in enumerate(PARAMS)}


def grid_step(step_s: float) -> Fraction:
    """The exact grid step: 0.1 -> Fraction(1, 10), not the binary float."""
    if not step_s > 0:
        raise ValueError(f"step_s must be > 0, got {step_s}")
    return Fraction(step_s).limit_denominator(1_000_000)


def n_steps_of(duration: Fraction, step_s: float) -> int:
    """Number of grid steps covering ``duration`` seconds: ceil(duration / step)."""
    if duration <= 0:
        return 0
    return math.ceil(Fraction(duration) / grid_step(step_s))


def curve_values(curve: Curve, t: np.ndarray) -> np.ndarray:
    """Vectorised ``Curve.value_at`` over times ``t`` (s); same semantics (hold ends, per-key interp)."""
    times = np.array([float(k.time) for k in curve.keys])
    values = np.array([k.value for k in curve.keys], dtype=np.float64)
    if len(times) == 0:
        raise ValueError("empty curve has no value")
    i = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 1)  # segment start key
    j = np.minimum(i + 1, len(times) - 1)
    span = times[j] - times[i]
    u = np.where(span > 0, (t - times[i]) / np.where(span > 0, span, 1.0), 0.0)
    u = np.clip(u, 0.0, 1.0)
    interp = np.array([_INTERP[k.interp] for k in curve.keys])[i]
    u = np.where(interp == _INTERP["smooth"], u * u * (3.0 - 2.0 * u), u)
    u = np.where(interp == _INTERP["hold"], 0.0, u)
    out = values[i] + (values[j] - values[i]) * u
    if any(k.amplitude for k in curve.keys):  # gain ramps (Key.amplitude): interpolate 10^(dB/20), silence at the floor
        amplitude = np.array([k.amplitude for k in curve.keys])[i]
        with np.errstate(over="ignore"):
            g = np.where(values > LEVEL_FLOOR_DB, 10.0 ** (np.minimum(values, 300.0) / 20.0), 0.0)
        ramp = g[i] + (g[j] - g[i]) * u
        db = np.maximum(LEVEL_FLOOR_DB, 20.0 * np.log10(np.maximum(ramp, 1e-300)))
        out = np.where(amplitude, db, out)
    # before/at the first key wins over at/after the last, as in Curve.value_at (keys sharing one time)
    out = np.where(t >= times[-1], values[-1], out)
    return np.where(t <= times[0], values[0], out)


_VIDEO_EXT = frozenset(
    ".mov .mp4 .m4v .mxf .avi .mts .m2ts .mpg .mpeg .mkv .webm .dv .r3d .braw .wmv .3gp .mod .vob".split()
)
_IMAGE_EXT = frozenset(".png .jpg .jpeg .tif .tiff .bmp .gif .webp .tga .exr .dpx .heic".split())
_AUDIO_EXT = frozenset(".wav .aif .aiff .mp3 .m4a .aac .flac .ogg .wma .bwf .caf".split())
_GRAPHIC_EXT = frozenset(".psd .ai .eps .svg .pdf .prproj .motn .moti .aep".split())


_TIMELINE_META = METADATA_FEATURES[: METADATA_FEATURES.index("seq_aspect_log") + 1]  # same on every row


def _log(x: float) -> float:
    return math.log(x) if x > 0 else 0.0


def timeline_metadata(tl: Timeline) -> dict[str, float]:
    """The timeline-level METADATA_FEATURES (dialect, application, sequence frame)."""
    out = dict.fromkeys(METADATA_FEATURES, 0.0)
    if tl.dialect in DIALECTS:
        out["dialect_" + tl.dialect] = 1.0
    app = (getattr(tl, "app", None) or "").lower()
    if app:
        out["app_known"] = 1.0
        if "premiere" in app:
            out["app_premiere"] = 1.0
        elif "resolve" in app:
            out["app_resolve"] = 1.0
        elif "final cut" in app:
            out["app_fcpx" if tl.dialect == "fcpxml" else "app_fcp7"] = 1.0
    if getattr(tl, "size_known", True) and tl.width > 0 and tl.height > 0:
        out["seq_size_known"] = 1.0
        out["seq_aspect_log"] = _log(tl.width * (getattr(tl, "pixel_aspect", None) or 1.0) / tl.height)
    return out


def metadata_features(tl: Timeline, track, clip, base: dict[str, float] | None = None) -> dict[str, float]:
    """METADATA_FEATURES of one clip: ``base`` (``timeline_metadata(tl)``) plus the clip's source and role.
    Unknown values keep 0 and their ``*_known`` flag 0."""
    out = dict(base) if base is not None else timeline_metadata(tl)
    sw, sh = getattr(clip, "source_width", None), getattr(clip, "source_height", None)
    if sw and sh and sw > 0 and sh > 0 and out["seq_size_known"]:
        spar = getattr(clip, "source_pixel_aspect", None) or 1.0
        qpar = getattr(tl, "pixel_aspect", None) or 1.0
        out["src_size_known"] = 1.0
        out["src_w_log_ratio"] = _log(sw / tl.width)
        out["src_h_log_ratio"] = _log(sh / tl.height)
        rw, rh = (tl.width * qpar) / (sw * spar), tl.height / sh
        out["fit_log"], out["fill_log"] = _log(min(rw, rh)), _log(max(rw, rh))
        pw, ph = tl.width / sw, tl.height / sh
        out["fit_px_log"], out["fill_px_log"] = _log(min(pw, ph)), _log(max(pw, ph))
        out["src_portrait"] = float(sh > sw * spar)
    rate = getattr(clip, "source_rate", None)
    if rate and rate > 0 and tl.rate > 0:
        out["src_rate_known"] = 1.0
        out["src_rate_log_ratio"] = _log(float(rate) / float(tl.rate))
    ch = getattr(clip, "audio_channels", None)
    if ch is not None and ch > 0:
        out["channels_known"] = 1.0
        out["channels_log"] = _log(ch)
    sc = getattr(clip, "source_channel", None)
    if sc is not None and sc >= 1:
        out["channel_known"] = 1.0
        out["channel_odd" if sc % 2 == 1 else "channel_even"] = 1.0
        out["channel_index"] = float(min(sc - 1, 8))
    speed = getattr(clip, "speed", None)
    if speed is not None and speed != 0:
        out["speed_known"] = 1.0
        out["speed_log"] = _log(abs(speed))
        out["reversed"] = float(speed < 0)
    out["time_remap"] = float(bool(getattr(clip, "time_remap", None)))
    ext = (getattr(clip, "file_ext", None) or "").lower()
    if ext:
        out["ext_known"] = 1.0
        for group, exts in (
            ("video", _VIDEO_EXT),
            ("image", _IMAGE_EXT),
            ("audio", _AUDIO_EXT),
            ("graphic", _GRAPHIC_EXT),
        ):
            if ext in exts:
                out["ext_" + group] = 1.0
    out["linked"] = float(getattr(clip, "link_group", None) is not None)
    return out


def _owner(clips, n_steps: int, step: Fraction) -> np.ndarray:
    """(S,) index of the clip owning each step, -1 where none; later-starting clips win."""
    owner = np.full(n_steps, -1, dtype=np.int32)
    for j in sorted(range(len(clips)), key=lambda j: (clips[j].start, j)):
        c = clips[j]
        a = max(math.ceil(Fraction(c.start) / step), 0)
        b = min(math.ceil(Fraction(c.end) / step), n_steps)
        if b > a:
            owner[a:b] = j
    return owner


def _clip_keys(clip, params: tuple[str, ...], idx: np.ndarray, step: Fraction):
    """Keys of ``clip`` assigned to its owned steps ``idx`` -> (steps, interp classes) of the labelled keys."""
    rows = []  # (step, distance, param order, interp)
    for p in params:
        curve = clip.curves.get(p)
        if curve is None:
            continue
        for k in curve.keys:
            if not clip.start <= k.time <= clip.end:
                continue  # outside the clip: shapes the curve, never the label
            u = float(Fraction(k.time) / step)  # key position in step units, exact where it matters (ties)
            pos = int(np.searchsorted(idx, u))
            cands = [c for c in (pos - 1, pos) if 0 <= c < len(idx)]
            best = min(cands, key=lambda c: (abs(idx[c] - u), idx[c]))  # nearest; tie -> earlier step
            dist = abs(idx[best] - u)
            if dist > 1.0:
                continue  # the clip does not own the steps around the key (hidden by an overlapping clip)
            rows.append((int(idx[best]), dist, _PARAM_ORDER[p], _INTERP[k.interp]))
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    arr = np.array(rows, dtype=np.float64)
    order = np.lexsort((arr[:, 2], arr[:, 1], arr[:, 0]))  # by step, then distance, then param order
    arr = arr[order]
    first = np.unique(arr[:, 0], return_index=True)[1]
    return arr[first, 0].astype(np.int64), arr[first, 3].astype(np.int64)


def timeline_to_frames(tl: Timeline, step_s: float = 0.1) -> pd.DataFrame:
    """Sample ``tl`` into a frame table: one row per (track, step), track-major.

    Columns: track, track_kind, track_enabled, step, t, every core.data.batch.FEATURES name, clip_id, source_id,
    one column per REGRESSION_TARGETS name, valid_<target>, keyframe, keyframe_valid, interpolation,
    interp_valid. See the module docstring for the decisions.
    """
    step = grid_step(step_s)
    S, K = n_steps_of(tl.duration, step_s), len(tl.tracks)
    t = np.arange(S, dtype=np.float64) * step_s  # (S,)
    dur = float(tl.duration)

    feats = np.zeros((K, S, len(FEATURES)), dtype=np.float64)
    targets = np.zeros((K, S, len(REGRESSION_TARGETS)), dtype=np.float64)
    valid = np.zeros((K, S, len(REGRESSION_TARGETS)), dtype=bool)
    clip_id = np.full((K, S), -1, dtype=np.int32)
    source = np.zeros((K, S), dtype=np.int64)  # core.data.context.source_id of the owning clip, 0 = none
    keyframe = np.zeros((K, S), dtype=np.int64)
    interp = np.zeros((K, S), dtype=np.int64)
    plays = np.zeros((K, S), dtype=bool)  # an enabled clip on an enabled track is active

    tl_meta = timeline_metadata(tl)
    for name in _TIMELINE_META:
        feats[:, :, _F[name]] = tl_meta[name]
    kinds_list = [tr.kind for tr in tl.tracks]
    for k, track in enumerate(tl.tracks):
        n = kinds_list.count(track.kind)
        pos = kinds_list[:k].count(track.kind)  # tracks of this kind before it
        feats[k, :, _F["track_of_kind_pos"]] = pos / (n - 1) if n > 1 else 0.0
        feats[k, :, _F["tracks_of_kind_log"]] = _log(n)
    for k, track in enumerate(tl.tracks):
        owner = _owner(track.clips, S, step)
        clip_id[k] = owner
        if track.clips:
            src = np.array([source_id(c) for c in track.clips], dtype=np.int64)
            source[k] = np.where(owner >= 0, src[np.maximum(owner, 0)], 0)
        params = tuple(p for p, (_, kind) in PARAMS.items() if kind == track.kind)
        for j, c in enumerate(track.clips):
            a = max(math.ceil(Fraction(c.start) / step), 0)
            b = min(math.ceil(Fraction(c.end) / step), S)
            if b <= a:
                continue
            idx = a + np.flatnonzero(owner[a:b] == j)  # steps this clip owns
            if len(idx) == 0:
                continue
            tc = t[idx]
            start, end, cdur = float(c.start), float(c.end), float(c.duration)
            f = feats[k, idx]  # (n, F) copy, written back below
            f[:, _F["active"]] = 1.0
            f[:, _F["elapsed_s"]] = tc - start
            f[:, _F["remaining_s"]] = end - tc
            f[:, _F["progress"]] = (tc - start) / cdur if cdur > 0 else 0.0
            f[:, _F["clip_duration_s"]] = cdur
            f[:, _F["kind_" + c.media_kind]] = 1.0
            f[:, _F["transition_in_s"]] = float(c.transition_in)
            f[:, _F["transition_out_s"]] = float(c.transition_out)
            f[:, _F["clip_enabled"]] = float(c.enabled)
            for name, v in metadata_features(tl, track, c, tl_meta).items():
                f[:, _F[name]] = v
            feats[k, idx] = f
            plays[k, idx] = c.enabled and track.enabled
            for p in params:
                curve = c.curves.get(p)
                r = _R[p]
                targets[k, idx, r] = curve_values(curve, tc) if curve is not None and len(curve) else PARAMS[p][0]
                valid[k, idx, r] = True
            ks, ki = _clip_keys(c, params, idx, step)
            keyframe[k, ks] = 1
            interp[k, ks] = ki

    kinds = np.array([0 if tr.kind == "video" else 1 for tr in tl.tracks], dtype=np.int64)  # (K,)
    enabled = np.array([tr.enabled for tr in tl.tracks], dtype=bool)
    feats[:, :, _F["n_video_active"]] = plays[kinds == 0].sum(axis=0)[None, :]
    feats[:, :, _F["n_audio_active"]] = plays[kinds == 1].sum(axis=0)[None, :]
    feats[:, :, _F["seq_position"]] = (t / dur if dur > 0 else t * 0.0)[None, :]
    feats[:, :, _F["seq_remaining_s"]] = (dur - t)[None, :]
    feats[:, :, _F["track_enabled"]] = enabled[:, None].astype(np.float64)

    active = clip_id >= 0
    cols: dict[str, np.ndarray] = {
        "track": np.repeat(np.arange(K, dtype=np.int64), S),
        "track_kind": np.repeat(kinds, S),
        "step": np.tile(np.arange(S, dtype=np.int64), K),
        "t": np.tile(t, K),
    }
    for name, i in _F.items():
        cols[name] = feats[:, :, i].reshape(-1)  # includes track_enabled (0/1 float)
    cols["clip_id"] = clip_id.reshape(-1)
    cols["source_id"] = source.reshape(-1)
    for name, r in _R.items():
        cols[name] = targets[:, :, r].reshape(-1)
    for name, r in _R.items():
        cols["valid_" + name] = valid[:, :, r].reshape(-1)
    cols["keyframe"] = keyframe.reshape(-1)
    cols["keyframe_valid"] = active.reshape(-1)
    cols["interpolation"] = interp.reshape(-1)
    cols["interp_valid"] = (keyframe == 1).reshape(-1)
    return pd.DataFrame(cols)


__all__ = ["timeline_to_frames", "curve_values", "grid_step", "n_steps_of"]
