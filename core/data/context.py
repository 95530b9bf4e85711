"""Timeline-wide context: which clips are given, and what every window learns from them.

DESIGN.md "Model, loss, objective": a track's pan, a music track's level, a picture-in-picture's
corner are set once per track, source or timeline, and the given clips that reveal them usually lie
outside a 10-second window. So the given set is drawn **per timeline** (a clip given anywhere is
given in every window that shows it; the loss counts only the others), and every token of a window
gets a summary of its timeline's given clips, broadcast per track, per source and per track kind.

``ClipTable`` derives one row per clip (timeline, track row, clip index) from the raw windows alone
(``track_row``, ``clip_id``, ``source_id`` and the targets), de-duplicating the steps that
overlapping windows share, so the summaries are the same whichever engine prepared the windows.

Summary layout per token (``SUMMARY_FEATURES``, standardised target units, 0 where unknown with a 0
flag beside it, never a silent value):

- track block: mean over the given clips of the token's track of each target's clip mean, a flag
  per target (some given clip on the track has it), the given share of the track's clips,
  log1p(given clips), the logit of the given clips' key rate and the log shares of their keys'
  interpolations, each shrunk towards the same figure over the timeline's given clips of the track's
  kind, which is shrunk in turn towards the training prior (key habits are the editor's; for the
  interpolation, the training shares of the timeline's dialect, ``Scalers`` ``interpolation_by_dialect``);
- source block: the same means and flags over the given clips of the token's source (same media),
  plus log1p(given clips of the source);
- kind block: means and flags over every given clip on tracks of the token's kind;
- robust track block: the median and the spread (standard deviation) of the given clips' means on the
  token's track, per target (0 where the track has no given clip with it, or only one for the spread).
  One odd clip among the given (a single rotated shot on a track of sixteen) moves the mean but not
  the median; the spread says how uniform the track is;
- geometry block (video tracks): means and flags over the timeline's given video clips whose source
  has the token's frame size relative to the sequence (``geometry_of``), plus log1p(given clips).
  Scale and position follow the source size by the editor's habit (one programme fits 720x576 into
  1080p at 133 %, another fills at 187.5 %), and a size's given clips often sit on other tracks.

Blocks are only ever appended: weights written with fewer summary columns load with zero weights for
the new ones (core.learn.model), and exported TorchScript files get the columns of their day
(``N_SUMMARY_MEAN_ONLY`` for those written before the robust block).

The track block is also the "same-track rule" of core.learn.rules (mean of the given clips on the
same track), so model and rule see exactly the same information.
"""

from __future__ import annotations

import math
import zlib

import numpy as np

from core.config import REGRESSION_TARGETS
from core.data.batch import dialect_of, geometry_of
from core.data.timeline import DIALECTS, INTERPOLATIONS, TRACK_KINDS

R = len(REGRESSION_TARGETS)
NI = len(INTERPOLATIONS)
KEY_PRIOR_STEPS = 100.0  # the given clips' key rate is shrunk towards the prior as if it had this many steps
INTERP_PRIOR_KEYS = 5.0  # same for the interpolation shares, in keys

SUMMARY_FEATURES = (
    tuple(f"track_mean_{t}" for t in REGRESSION_TARGETS)
    + tuple(f"track_has_{t}" for t in REGRESSION_TARGETS)
    + ("track_given_share", "track_given_log1p", "track_key_logit")
    + tuple(f"track_interp_log_{c}" for c in INTERPOLATIONS)
    + tuple(f"source_mean_{t}" for t in REGRESSION_TARGETS)
    + tuple(f"source_has_{t}" for t in REGRESSION_TARGETS)
    + ("source_given_log1p",)
    + tuple(f"kind_mean_{t}" for t in REGRESSION_TARGETS)
    + tuple(f"kind_has_{t}" for t in REGRESSION_TARGETS)
    + tuple(f"track_median_{t}" for t in REGRESSION_TARGETS)
    + tuple(f"track_spread_{t}" for t in REGRESSION_TARGETS)
    + tuple(f"geometry_mean_{t}" for t in REGRESSION_TARGETS)
    + tuple(f"geometry_has_{t}" for t in REGRESSION_TARGETS)
    + ("geometry_given_log1p",)
)
N_SUMMARY = len(SUMMARY_FEATURES)
_S = {name: i for i, name in enumerate(SUMMARY_FEATURES)}
N_SUMMARY_MEAN_ONLY = _S[f"track_median_{REGRESSION_TARGETS[0]}"]  # the layout before the robust block
TRACK_MEAN = slice(_S[f"track_mean_{REGRESSION_TARGETS[0]}"], _S[f"track_mean_{REGRESSION_TARGETS[-1]}"] + 1)
TRACK_HAS = slice(_S[f"track_has_{REGRESSION_TARGETS[0]}"], _S[f"track_has_{REGRESSION_TARGETS[-1]}"] + 1)
TRACK_KEY_LOGIT = _S["track_key_logit"]
TRACK_INTERP_LOG = slice(_S[f"track_interp_log_{INTERPOLATIONS[0]}"], _S[f"track_interp_log_{INTERPOLATIONS[-1]}"] + 1)
TRACK_GIVEN_SHARE = _S["track_given_share"]
TRACK_MEDIAN = slice(_S[f"track_median_{REGRESSION_TARGETS[0]}"], _S[f"track_median_{REGRESSION_TARGETS[-1]}"] + 1)
TRACK_SPREAD = slice(_S[f"track_spread_{REGRESSION_TARGETS[0]}"], _S[f"track_spread_{REGRESSION_TARGETS[-1]}"] + 1)
GEOMETRY_MEAN = slice(_S[f"geometry_mean_{REGRESSION_TARGETS[0]}"], _S[f"geometry_mean_{REGRESSION_TARGETS[-1]}"] + 1)
GEOMETRY_HAS = slice(_S[f"geometry_has_{REGRESSION_TARGETS[0]}"], _S[f"geometry_has_{REGRESSION_TARGETS[-1]}"] + 1)

_VIDEO = TRACK_KINDS.index("video")
_TL_SHIFT, _TRACK_SHIFT = 2**40, 2**24  # key = (timeline * 2**16 + track) * 2**24 + step (or clip)


def source_id(clip) -> int:
    """A stable 31-bit id of the media a clip plays: the readers' source path/id where the export has one,
    else the clip's name (xmeml and fcpxml name clips after their file). 0 = no source known."""
    for attr in ("source_id", "source_path"):
        v = getattr(clip, attr, None)
        if v:
            return zlib.crc32(str(v).encode()) & 0x7FFFFFFF or 1
    name = (getattr(clip, "name", "") or "").strip()
    return (zlib.crc32(name.encode()) & 0x7FFFFFFF or 1) if name else 0


def _logit(p: np.ndarray | float) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p) - np.log1p(-p)


class ClipTable:
    """One row per clip seen in the raw windows, sorted by (timeline, track row, clip index).

    Arrays (M rows): ``timeline``, ``track``, ``index``, ``kind`` (0 video / 1 audio), ``source``,
    ``steps`` (distinct steps the clip owns in the windows), ``mean`` (M, R) standardised clip means,
    ``has`` (M, R) the target is valid on the clip, ``keys`` (key steps), ``interp`` (M, NI) counts,
    ``geometry`` the source frame size key (``geometry_of``, 0 unknown).
    """

    def __init__(self, raw: dict[str, np.ndarray], target_mean, target_std) -> None:
        N, K, T = raw["clip_id"].shape
        track_row = raw.get("track_row")
        if track_row is None:  # windows made before track rows existed: one track group per timeline
            track_row = np.where(raw["track_mask"], np.arange(K)[None, :], -1)
        source = raw.get("source_id")
        real = (raw["clip_id"] >= 0) & raw["step_mask"] & (track_row[:, :, None] >= 0)
        n, k, t = np.nonzero(real)
        tl = raw["timeline"][n].astype(np.int64)
        tr = track_row[n, k].astype(np.int64)
        cl = raw["clip_id"][n, k, t].astype(np.int64)
        step = raw["start_step"][n].astype(np.int64) + t
        base = tl * 2**16 + tr
        _, first = np.unique(base * _TRACK_SHIFT + step, return_index=True)  # overlapping windows share steps
        n, k, t, base, cl = n[first], k[first], t[first], base[first], cl[first]
        keys, inv = np.unique(base * _TRACK_SHIFT + cl, return_inverse=True)
        M = len(keys)
        self.timeline = keys // _TL_SHIFT
        self.track = (keys // _TRACK_SHIFT) % 2**16
        self.index = keys % _TRACK_SHIFT
        self.key = keys
        self.steps = np.bincount(inv, minlength=M).astype(np.int64)
        first_of = np.zeros(M, np.int64)
        first_of[inv[::-1]] = np.arange(len(inv))[::-1]  # the first token of each clip
        self.kind = raw["track_kind"][n[first_of], k[first_of]].astype(np.int64)
        self.source = source[n, k, t][first_of].astype(np.int64) if source is not None else np.zeros(M, np.int64)
        valid = raw["target_valid"][n, k, t]  # (P, R)
        y = raw["targets"][n, k, t].astype(np.float64)
        cnt = np.stack([np.bincount(inv, valid[:, r], M) for r in range(R)], 1)
        tot = np.stack([np.bincount(inv, np.where(valid[:, r], y[:, r], 0.0), M) for r in range(R)], 1)
        mean = np.asarray(target_mean, np.float64)
        std = np.asarray(target_std, np.float64)
        self.has = cnt > 0
        self.mean = np.where(self.has, (tot / np.maximum(cnt, 1) - mean) / std, 0.0).astype(np.float32)
        kv = raw["keyframe_valid"][n, k, t] & (raw["keyframe"][n, k, t] == 1)
        self.keys = np.bincount(inv, kv.astype(np.float64), M).astype(np.int64)
        iv = raw["interp_valid"][n, k, t] & kv
        ic = raw["interpolation"][n, k, t]
        self.interp = np.stack([np.bincount(inv, (iv & (ic == c)).astype(np.float64), M) for c in range(NI)], 1)
        # the clip's dialect (index into DIALECTS; -1 unknown) from the metadata one-hots
        self.dialect = np.full(M, -1, np.int64)
        self.geometry = np.zeros(M, np.int64)
        if "features" in raw:
            f = raw["features"][n[first_of], k[first_of], t[first_of]]
            self.dialect = dialect_of(f)
            self.geometry = geometry_of(f)
        bounds = np.searchsorted(self.timeline, np.arange(int(self.timeline.max(initial=-1)) + 2))
        self._bounds = bounds

    def __len__(self) -> int:
        return len(self.key)

    def rows(self, timeline: int) -> slice:
        """The rows of one timeline (an empty slice for a timeline without clips)."""
        b = self._bounds
        if timeline + 1 >= len(b):
            return slice(0, 0)
        return slice(int(b[timeline]), int(b[timeline + 1]))


def _group_means(group: np.ndarray, n_groups: int, given: np.ndarray, mean: np.ndarray, has: np.ndarray):
    """Per group: mean over given rows of each target's value (M, R) where valid -> (G, R) means, (G, R) flags."""
    w = (has & given[:, None]).astype(np.float64)  # (M, R)
    cnt = np.zeros((n_groups, R))
    tot = np.zeros((n_groups, R))
    np.add.at(cnt, group, w)
    np.add.at(tot, group, w * mean)
    flag = cnt > 0
    return np.where(flag, tot / np.maximum(cnt, 1), 0.0), flag


def _group_median_spread(group: np.ndarray, n_groups: int, given: np.ndarray, mean: np.ndarray, has: np.ndarray):
    """Per group: median and standard deviation over given rows of each target's value where valid ->
    (G, R) medians, (G, R) spreads (0 for a group without such rows; the spread is 0 for one row)."""
    med = np.zeros((n_groups, R))
    spread = np.zeros((n_groups, R))
    for r in range(R):
        rows = np.flatnonzero(given & has[:, r])
        if not len(rows):
            continue
        g, v = group[rows], mean[rows, r].astype(np.float64)
        order = np.lexsort((v, g))  # by group, then value
        g, v = g[order], v[order]
        cnt = np.bincount(g, minlength=n_groups)
        start = np.concatenate([[0], np.cumsum(cnt)[:-1]])
        ok = cnt > 0
        lo, hi = start + (cnt - 1) // 2, start + cnt // 2
        med[ok, r] = 0.5 * (v[lo[ok]] + v[hi[ok]])
        tot = np.bincount(g, v, n_groups)
        sq = np.bincount(g, v * v, n_groups)
        m = tot / np.maximum(cnt, 1)
        spread[:, r] = np.sqrt(np.maximum(sq / np.maximum(cnt, 1) - m * m, 0.0))
    return med, spread


class TimelineSummary:
    """The summary of one timeline's given clips, ready to broadcast onto window tokens."""

    def __init__(self, table: ClipTable, timeline: int, given: np.ndarray, prior: dict) -> None:
        sl = table.rows(timeline)
        self.keys = table.key[sl]  # sorted
        self.given = given
        track, kind, source = table.track[sl], table.kind[sl], table.source[sl]
        mean, has = table.mean[sl], table.has[sl]
        n_tracks = int(track.max()) + 1 if len(track) else 1
        # track block
        tm, tf = _group_means(track, n_tracks, given, mean, has)
        n_clips = np.bincount(track, minlength=n_tracks)
        n_given = np.bincount(track, given.astype(np.float64), n_tracks)
        steps = np.bincount(track, np.where(given, table.steps[sl], 0), n_tracks)
        keys = np.bincount(track, np.where(given, table.keys[sl], 0), n_tracks)
        kind_of_track = np.zeros(n_tracks, np.int64)
        kind_of_track[track] = kind
        # Two levels of shrinkage: a track's key rate and interpolation shares shrink towards those of the
        # timeline's given clips of its kind, and those towards the training prior. Key habits belong to the
        # editor (one timeline keys linear only, another smooth), so a track whose given clips have no keys
        # still gets its timeline's, not the training corpus' mixture.
        n_kinds = len(TRACK_KINDS)
        kind_steps = np.bincount(kind, np.where(given, table.steps[sl], 0), n_kinds)
        kind_keys = np.bincount(kind, np.where(given, table.keys[sl], 0), n_kinds)
        p0 = np.array([prior["keyframe"][kn] for kn in TRACK_KINDS], np.float64)  # (kinds,)
        kind_rate = (kind_keys + KEY_PRIOR_STEPS * p0) / (kind_steps + KEY_PRIOR_STEPS)
        rate = (keys + KEY_PRIOR_STEPS * kind_rate[kind_of_track]) / (steps + KEY_PRIOR_STEPS)
        given_interp = np.where(given[:, None], table.interp[sl], 0.0)  # (M_tl, NI)
        ic = np.zeros((n_tracks, NI))
        np.add.at(ic, track, given_interp)
        kc = np.zeros((n_kinds, NI))
        np.add.at(kc, kind, given_interp)
        q0 = np.asarray(prior["interpolation"], np.float64)
        dialects = table.dialect[sl]
        dialect = int(dialects[0]) if len(dialects) else -1
        by_dialect = prior.get("interpolation_by_dialect") or {}
        if dialect >= 0 and DIALECTS[dialect] in by_dialect:  # the format's habit, where training knew it
            q0 = np.asarray(by_dialect[DIALECTS[dialect]], np.float64)
        kind_q = (kc + INTERP_PRIOR_KEYS * q0) / (kc.sum(1, keepdims=True) + INTERP_PRIOR_KEYS)  # (kinds, NI)
        q = (ic + INTERP_PRIOR_KEYS * kind_q[kind_of_track]) / (ic.sum(1, keepdims=True) + INTERP_PRIOR_KEYS)
        self.track_block = np.concatenate(
            [
                tm,
                tf,
                (n_given / np.maximum(n_clips, 1))[:, None],
                np.log1p(n_given)[:, None],
                _logit(rate)[:, None],
                np.log(np.maximum(q, 1e-4)),
            ],
            axis=1,
        ).astype(np.float32)  # (n_tracks, 2R + 6)
        # source block (per row of this timeline)
        _, src_inv = np.unique(source, return_inverse=True)
        n_src = int(src_inv.max()) + 1 if len(src_inv) else 1
        sm, sf = _group_means(src_inv, n_src, given, mean, has)
        sg = np.bincount(src_inv, given.astype(np.float64), n_src)
        known = source != 0  # a clip without a known source shares nothing with others
        src_rows = np.concatenate([sm[src_inv], sf[src_inv], np.log1p(sg[src_inv])[:, None]], axis=1)
        self.source_block = np.where(known[:, None], src_rows, 0.0).astype(np.float32)  # (M_tl, 2R + 1)
        # kind block
        km, kf = _group_means(kind, len(TRACK_KINDS), given, mean, has)
        self.kind_block = np.concatenate([km, kf], axis=1).astype(np.float32)  # (2, 2R)
        self.robust_block = np.concatenate(_group_median_spread(track, n_tracks, given, mean, has), axis=1).astype(
            np.float32
        )  # (n_tracks, 2R)
        # geometry block (per row): the given video clips of the same source frame size (a picture's size
        # says nothing about a sound's level or pan, though audio taken from a video file carries it)
        geometry = np.where(kind == _VIDEO, table.geometry[sl], 0)
        _, geo_inv = np.unique(geometry, return_inverse=True)
        n_geo = int(geo_inv.max()) + 1 if len(geo_inv) else 1
        gm, gf = _group_means(geo_inv, n_geo, given, mean, has)
        gg = np.bincount(geo_inv, given.astype(np.float64), n_geo)
        geo_rows = np.concatenate([gm[geo_inv], gf[geo_inv], np.log1p(gg[geo_inv])[:, None]], axis=1)
        self.geometry_block = np.where((geometry != 0)[:, None], geo_rows, 0.0).astype(np.float32)  # (M_tl, 2R + 1)
        self.n_tracks = n_tracks

    def lookup(self, track_row: np.ndarray, clip_id: np.ndarray) -> np.ndarray:
        """Row (index into this timeline's rows) of each (track, clip); -1 where the clip is not in the table."""
        local = self.keys % _TL_SHIFT  # track * 2**24 + clip, sorted within the timeline
        if len(local) == 0:
            return np.full(np.shape(clip_id), -1, np.int64)
        ok = (clip_id >= 0) & (track_row >= 0)
        key = track_row.astype(np.int64) * _TRACK_SHIFT + np.maximum(clip_id, 0)
        pos = np.minimum(np.searchsorted(local, key), len(local) - 1)
        return np.where(ok & (local[pos] == key), pos, -1)

    def tokens(self, track_row: np.ndarray, track_kind: np.ndarray, clip_id: np.ndarray, step_mask: np.ndarray):
        """(K,) track rows and kinds, (K, T) clip ids and real steps of one window ->
        ((K, T, N_SUMMARY) summary, (K, T) given mask)."""
        K, T = clip_id.shape
        out = np.zeros((K, T, N_SUMMARY), np.float32)
        tr = np.where((track_row >= 0) & (track_row < self.n_tracks), track_row, -1)
        row = self.lookup(np.broadcast_to(tr[:, None], (K, T)), clip_id)  # (K, T)
        row = np.where(step_mask, row, -1)
        given = np.zeros((K, T), bool)
        hit = row >= 0
        given[hit] = self.given[row[hit]]
        has_track = (tr >= 0)[:, None] & step_mask  # (K, T)
        tb = self.track_block[np.maximum(tr, 0)]  # (K, 2R + 6)
        nt = tb.shape[1]
        out[..., :nt] = np.where(has_track[..., None], tb[:, None, :], 0.0)
        ns = self.source_block.shape[1]
        out[..., nt : nt + ns][hit] = self.source_block[row[hit]]
        kb = self.kind_block[np.clip(track_kind, 0, 1)]  # (K, 2R)
        nk = kb.shape[1]
        out[..., nt + ns : nt + ns + nk] = np.where(has_track[..., None], kb[:, None, :], 0.0)
        rb = self.robust_block[np.maximum(tr, 0)]  # (K, 2R)
        nr = rb.shape[1]
        o = nt + ns + nk
        out[..., o : o + nr] = np.where(has_track[..., None], rb[:, None, :], 0.0)
        out[..., o + nr :][hit] = self.geometry_block[row[hit]]
        return out, given


def draw_given(n: int, fraction: float | tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """(n,) bool: which of n clips are given. The count is p * n rounded stochastically (E = p * n)."""
    p = rng.uniform(*fraction) if isinstance(fraction, tuple) else float(fraction)
    chosen = np.zeros(n, bool)
    if n == 0 or p <= 0:
        return chosen
    k = min(n, int(math.floor(p * n + rng.random())))
    chosen[rng.permutation(n)[:k]] = True
    return chosen


__all__ = [
    "ClipTable",
    "TimelineSummary",
    "SUMMARY_FEATURES",
    "N_SUMMARY",
    "N_SUMMARY_MEAN_ONLY",
    "draw_given",
    "source_id",
]
