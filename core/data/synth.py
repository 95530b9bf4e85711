"""Deterministic generator of realistic Premiere-style timelines: the built-in corpus.

``generate_timeline(seed)`` draws a timeline in two independent stages:

1. **Structure** (from ``seed`` only): rate (25 / 29.97 / 23.976 / 30), length (30-180 s), tracks
   and clips. V1 is a contiguous cut of video clips and stills (lognormal lengths, median ~4 s,
   like the real exports) with some cross dissolves; an optional V2 holds picture-in-picture
   clips (and titles when there is no V3); an optional V3 holds titles/generators. Audio has a
   dialogue track (sentences grouped in runs with short pauses), a music bed (sometimes cut in
   two, sometimes an exploded stereo pair of identical tracks), an optional sfx track, padded with
   an empty track to at least two. A few clips are disabled; sources are reused with other
   in-points, so ``<file>`` references occur.
2. **Style + noise** (from ``seed`` and ``style_draw``): the editor's habits and the jitter of
   their hands. ``style_draw=None`` is the timeline's own draw; ``k >= 0`` is an alternative draw
   with the same structure, so the mean target over many draws is the best structure-only
   prediction (the noise floor).

Patterns (what a model can learn from structure, some only across tracks):

- *Ken Burns* on stills: scale ramp 100 -> 100+a (a ~ 10-20 %) or the reverse (direction per
  timeline, with per-clip exceptions), small centre drift, keys on the clip's first/last frames.
- *Picture-in-picture* on V2: scale 25-45 % (per timeline) and a corner centre (corner per
  timeline) set once at the clip start; opacity fades 0 -> 100 -> 0 at the clip edges.
- *Titles* (generators): opacity 0 -> 100 -> 0 with per-timeline fade lengths (0.4-1.0 s).
- *Ducking*: the music level drops by a per-timeline depth (-8..-20 dB) while dialogue is active
  on another track, with ramps of 0.3-0.8 s before/after; close sentences share one duck.
- *Music fade-out* to silence (-60 dB) over the last 2-6 s, sometimes a fade-in; the picture
  often fades to black at the end too.
- Rare: punch-in scale or a small rotation on V1 clips; dialogue clip gain; sfx level and pan
  (pan is per-timeline habit: hard to learn, on purpose).

Noise model (all drawn from the style stream, so it differs between style draws):

- key times: interior keys jitter by 0-3 frames; keys on a clip edge are moved 0-2 frames inward
  (40 %); everything stays on the frame grid and inside the clip;
- values: Ken Burns amount +-, PiP scale +-2 %, PiP centre +-0.02, duck depth +-1.5 dB per duck,
  fade plateaus sometimes short of 100, values rounded to Premiere's UI precision;
- omissions and extras: ~8 % of ducks skipped, 12 % of editors never duck, ~10 % of titles/PiPs
  unfaded, ~5 % of ramps lose a key, ~8 % of animated clips get a redundant extra key;
- interpolation: per-timeline habit of smooth (FCPCurve) keys on motion, linear on fades/levels.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from core.data.formats.xmeml_writer import write_xmeml
from core.data.timeline import LEVEL_FLOOR_DB, Clip, Curve, Key, Timeline, Track

GENERATOR_VERSION = 2  # bump when the output changes, so write_corpus rewrites stale files
RATES = (Fraction(25), Fraction(30000, 1001), Fraction(24000, 1001), Fraction(30))
RATE_WEIGHTS = (0.4, 0.25, 0.2, 0.15)
MANIFEST = "synth_manifest.json"


# --- structure -----------------------------------------------------------------------------------


@dataclass
class _Structure:
    """What ``seed`` alone decides. Clips carry no curves yet; roles say what each track is for."""

    rate: Fraction
    frames: int  # sequence length in frames
    tracks: list[Track]
    roles: list[str]  # per track: main, overlay, titles, dialogue, music, sfx, empty
    dialogue_runs: list[tuple[int, int]] = field(default_factory=list)  # frame spans of dialogue


def _lognormal_frames(
    rng: np.random.Generator, median_s: float, sigma: float, lo_s: float, hi_s: float, rate: Fraction
) -> int:
    s = float(np.clip(median_s * math.exp(sigma * rng.standard_normal()), lo_s, hi_s))
    return max(1, round(s * float(rate)))


def _place(
    rng: np.random.Generator,
    n: int,
    length_s: tuple[float, float],
    total: int,
    rate: Fraction,
    taken: list[tuple[int, int]],
    min_gap: int,
) -> list[tuple[int, int]]:
    """Up to ``n`` non-overlapping spans (frames) on one track, avoiding ``taken``."""
    spans: list[tuple[int, int]] = []
    for _ in range(n * 6):
        if len(spans) >= n:
            break
        length = round(rng.uniform(*length_s) * float(rate))
        if length >= total - 2:
            continue
        a = int(rng.integers(0, total - length))
        b = a + length
        if all(b + min_gap <= s or a >= e + min_gap for s, e in spans + taken):
            spans.append((a, b))
    return sorted(spans)


def _structure(seed: int) -> _Structure:
    rng = np.random.default_rng([seed, 0x5EED])
    rate = RATES[int(rng.choice(len(RATES), p=RATE_WEIGHTS))]
    fps = float(rate)
    total = round(rng.uniform(30, 180) * fps)
    f = lambda n: Fraction(n) / rate  # noqa: E731 - frames -> seconds, used everywhere below
    n_sources = [0]

    def source(prefix: str, ext: str, pool: list[str], reuse: float) -> str:
        # Editors cut several pieces from one source: reused names share one <file>.
        if pool and rng.random() < reuse:
            return pool[int(rng.integers(len(pool)))]
        n_sources[0] += 1
        name = f"{prefix}{n_sources[0]:03d}{ext}"
        pool.append(name)
        return name

    def src_in(max_s: float = 60.0) -> Fraction:
        # At least 2 s of handle, so a dissolve always has source material before the cut.
        return f(round(rng.uniform(2.0, max_s) * fps))

    # V1: contiguous cut of video clips and stills, some dissolves.
    p_still = float(rng.choice([0.0, 0.15, 0.3, 0.5], p=[0.15, 0.3, 0.35, 0.2]))
    p_dissolve = 0.0 if rng.random() < 0.45 else rng.uniform(0.1, 0.5)
    main: list[Clip] = []
    video_pool: list[str] = []
    t = 0
    while t < total:
        still = rng.random() < p_still
        n = _lognormal_frames(rng, 5.0 if still else 4.0, 0.6, 1.0, 15.0, rate)
        if total - (t + n) < fps:  # never leave a sliver at the end
            n = total - t
        if still:
            name, kind, sin = f"IMG_{int(rng.integers(1000, 9999))}.jpg", "still", f(90000 + 0)
        else:
            name, kind, sin = source("A001_C", ".mov", video_pool, 0.3), "video", src_in()
        main.append(Clip(name, f(t), f(t + n), source_in=sin, media_kind=kind, enabled=rng.random() > 0.015))
        t += n
    for a, b in zip(main, main[1:]):
        if rng.random() < p_dissolve:
            length = 2 * int(rng.integers(5, 16))  # even, so the centre cut is a whole frame
            if min(a.duration, b.duration) * fps > 2 * length:
                a.transition_out = b.transition_in = f(length)
    tracks = [Track("video", 0, main)]
    roles = ["main"]

    # V2 overlay (PiP, plus titles when there is no V3) and V3 titles.
    has_v2 = rng.random() < 0.75
    has_v3 = has_v2 and rng.random() < 0.35
    n_titles = int(rng.integers(2, 5)) + round(total / fps / 60)
    title_names = ["Title", "Lower third", "Text", "Color Matte"]

    def titles(taken: list[tuple[int, int]]) -> list[Clip]:
        spans = _place(rng, n_titles, (2.0, 6.0), total, rate, taken, round(fps))
        return [
            Clip(
                f"{title_names[int(rng.choice(4, p=[0.4, 0.35, 0.15, 0.1]))]} {i + 1}",
                f(a),
                f(b),
                source_in=f(86313),
                media_kind="generator",
            )
            for i, (a, b) in enumerate(spans)
        ]

    if has_v2:
        pip_pool: list[str] = []
        n_pip = max(1, round(total / fps / 20 * rng.uniform(0.6, 1.4)))
        spans = _place(rng, n_pip, (3.0, 10.0), total, rate, [], round(fps))
        pip = [
            Clip(source("PIP_", ".mp4", pip_pool, 0.2), f(a), f(b), source_in=src_in(), enabled=rng.random() > 0.02)
            for a, b in spans
        ]
        if not has_v3:
            pip += titles([(_fr(c.start, rate), _fr(c.end, rate)) for c in pip])
        tracks.append(Track("video", 1, sorted(pip, key=lambda c: c.start)))
        roles.append("overlay")
    if has_v3:
        tracks.append(Track("video", 2, titles([])))
        roles.append("titles")
    elif not has_v2 and rng.random() < 0.5:
        tracks.append(Track("video", 1, titles([])))  # titles straight over the cut
        roles.append("titles")

    # Audio: dialogue in runs of sentences, a music bed, sfx.
    audio: list[tuple[str, list[Clip]]] = []
    runs: list[tuple[int, int]] = []
    if rng.random() < 0.85:
        dpool: list[str] = []
        dia: list[Clip] = []
        t = round(rng.uniform(0.5, 8.0) * fps)
        while t < total - 2 * fps:
            n_sent = int(rng.integers(1, 5))
            for _ in range(n_sent):
                n = min(_lognormal_frames(rng, 4.5, 0.5, 1.5, 15.0, rate), total - t)
                if n < fps:
                    break
                dia.append(
                    Clip(
                        source("INT_", ".wav", dpool, 0.6),
                        f(t),
                        f(t + n),
                        source_in=src_in(300),
                        media_kind="audio",
                        enabled=rng.random() > 0.01,
                    )
                )
                t += n + round(rng.uniform(0.1, 1.0) * fps)  # pause between sentences
            t += round(rng.uniform(3.0, 15.0) * fps)  # b-roll stretch with music up
        audio.append(("dialogue", dia))
        runs = [(_fr(c.start, rate), _fr(c.end, rate)) for c in dia if c.enabled]
    if rng.random() < 0.9 or not audio:
        m0 = 0 if rng.random() < 0.7 else round(rng.uniform(0.2, 3.0) * fps)
        m1 = total if rng.random() < 0.75 else total - round(rng.uniform(0.5, 4.0) * fps)
        cuts = [m0, m1]
        if rng.random() < 0.25 and m1 - m0 > 40 * fps:
            cuts.insert(1, m0 + round(rng.uniform(0.35, 0.65) * (m1 - m0)))
        music = [
            Clip(
                f"Music_{seed % 97:02d}_{i + 1}.wav",
                f(a),
                f(b),
                source_in=f(round(rng.uniform(0, 20) * fps)),
                media_kind="audio",
            )
            for i, (a, b) in enumerate(zip(cuts, cuts[1:]))
        ]
        audio.append(("music", music))
        if rng.random() < 0.5:  # Premiere's exploded stereo: the same clips on two tracks
            audio.append(
                ("music", [Clip(c.name, c.start, c.end, source_in=c.source_in, media_kind="audio") for c in music])
            )
    if len(audio) < 4 and rng.random() < 0.45:
        spool: list[str] = []
        spans = _place(rng, max(1, round(total / fps / 20)), (0.5, 3.0), total, rate, [], 1)
        audio.append(
            (
                "sfx",
                [
                    Clip(source("SFX_", ".wav", spool, 0.3), f(a), f(b), source_in=src_in(10), media_kind="audio")
                    for a, b in spans
                ],
            )
        )
    if rng.random() < 0.3 and audio[0][0] == "dialogue" and len(audio) > 1:
        audio = audio[1:] + audio[:1]  # some editors keep music on A1
    while len(audio) < 2:
        audio.append(("empty", []))
    for i, (role, clips) in enumerate(audio):
        tracks.append(Track("audio", i, clips, enabled=not (role == "sfx" and rng.random() < 0.05)))
        roles.append(role)
    return _Structure(rate, total, tracks, roles, runs)


def _fr(t: Fraction, rate: Fraction) -> int:
    return round(t * rate)


# --- style + noise -------------------------------------------------------------------------------


@dataclass
class _Style:
    """One editor's habits for one timeline (drawn from the style stream)."""

    kb_prob: float
    kb_zoom_in: float  # probability a Ken Burns zooms in
    kb_amount: float
    smooth_motion: float  # probability motion keys are smooth (FCPCurve)
    pip_scale: float
    pip_corner: tuple[float, float]
    pip_fade_s: float
    title_fade_s: float
    ducks: bool
    duck_db: float
    duck_ramp_s: float
    duck_merge_s: float
    music_base_db: float
    music_fade_out_s: float | None
    music_fade_in_s: float | None
    video_fade_in_s: float | None
    video_fade_out_s: float | None
    dialogue_gain_p: float
    sfx_pan: float | None
    dialogue_pan: float | None

    @classmethod
    def draw(cls, rng: np.random.Generator) -> _Style:
        corner = [(-1, -1), (1, -1), (-1, 1), (1, 1)][int(rng.integers(4))]
        off = rng.uniform(0.22, 0.32)
        return cls(
            kb_prob=rng.uniform(0.7, 1.0),
            kb_zoom_in=float(rng.choice([0.15, 0.85])),
            kb_amount=rng.uniform(10, 20),
            smooth_motion=float(rng.choice([0.0, 0.5, 1.0], p=[0.5, 0.2, 0.3])),
            pip_scale=rng.uniform(25, 45),
            pip_corner=(corner[0] * off, corner[1] * off),
            pip_fade_s=rng.uniform(0.3, 0.8),
            title_fade_s=rng.uniform(0.4, 1.0),
            ducks=rng.random() > 0.12,
            duck_db=rng.uniform(-20, -8),
            duck_ramp_s=rng.uniform(0.3, 0.8),
            duck_merge_s=rng.uniform(0.8, 2.0),
            music_base_db=float(rng.choice([0.0, rng.uniform(-6, -1)])),
            music_fade_out_s=rng.uniform(2, 6) if rng.random() < 0.85 else None,
            music_fade_in_s=rng.uniform(0.5, 2) if rng.random() < 0.3 else None,
            video_fade_in_s=rng.uniform(0.5, 1.5) if rng.random() < 0.5 else None,
            video_fade_out_s=rng.uniform(0.5, 2.0) if rng.random() < 0.6 else None,
            dialogue_gain_p=rng.uniform(0.0, 0.3),
            sfx_pan=rng.uniform(0.1, 0.5) if rng.random() < 0.4 else None,
            dialogue_pan=rng.uniform(-0.2, 0.2) if rng.random() < 0.1 else None,
        )


class _Animator:
    """Adds curves to the clips of a structure, from one style draw."""

    def __init__(self, st: _Structure, rng: np.random.Generator) -> None:
        self.st = st
        self.rng = rng
        self.fps = float(st.rate)
        self.style = _Style.draw(rng)

    # frame helpers ------------------------------------------------------------------------------
    def sec(self, s: float) -> int:
        return max(1, round(s * self.fps))

    def span(self, clip: Clip) -> tuple[int, int]:
        """First and last frame of a clip (keys must lie in between)."""
        return _fr(clip.start, self.st.rate), _fr(clip.end, self.st.rate) - 1

    def edge(self, frame: int, inward: int) -> int:
        """A key meant for a clip edge: often exactly on it, sometimes a frame or two inside."""
        return frame + inward * int(self.rng.integers(1, 3)) if self.rng.random() < 0.4 else frame

    def jitter(self, frame: int) -> int:
        return frame + (int(self.rng.integers(-3, 4)) if self.rng.random() < 0.5 else 0)

    def curve(
        self, clip: Clip, points: list[tuple[int, float]], interp: str, digits: int, extra: bool = True
    ) -> Curve | None:
        """Keys at frames clamped into the clip, one per frame, values rounded as Premiere's UI does."""
        a, b = self.span(clip)
        seen: dict[int, float] = {}
        for fr, v in points:
            fr = min(max(fr, a), b)
            seen.setdefault(fr, round(float(v), digits))
        if not seen:
            return None
        # A redundant extra key on the way (not on centre: x and y share their key times in xmeml).
        if extra and len(seen) > 1 and self.rng.random() < 0.08:
            frs = sorted(seen)
            i = int(self.rng.integers(len(frs) - 1))
            mid = (frs[i] + frs[i + 1]) // 2
            if mid not in seen:
                u = (mid - frs[i]) / (frs[i + 1] - frs[i])
                seen[mid] = round(seen[frs[i]] + u * (seen[frs[i + 1]] - seen[frs[i]]), digits)
        rate = self.st.rate
        return Curve([Key(Fraction(fr) / rate, v, interp) for fr, v in sorted(seen.items())])

    def motion_interp(self) -> str:
        return "smooth" if self.rng.random() < self.style.smooth_motion else "linear"

    def fade(self, clip: Clip, fade_s: float, peak: float = 100.0) -> list[tuple[int, float]]:
        """Opacity 0 -> peak -> 0 at the clip edges, fade lengths jittered, clipped to half the clip."""
        a, b = self.span(clip)
        half = max(1, (b - a) // 2)
        fin = min(half, self.sec(fade_s * self.rng.uniform(0.85, 1.15)))
        fout = min(half, self.sec(fade_s * self.rng.uniform(0.85, 1.15)))
        pts = [(self.edge(a, 1), 0.0), (self.jitter(a + fin), peak), (self.jitter(b - fout), peak), (b, 0.0)]
        if self.rng.random() < 0.05:
            pts.pop(int(self.rng.integers(1, 3)))  # a plateau key the editor never set
        return pts

    # patterns -----------------------------------------------------------------------------------
    def run(self) -> None:
        st, s = self.st, self.style
        for track, role in zip(st.tracks, st.roles):
            for i, clip in enumerate(track.clips):
                if role == "main":
                    self.main_clip(clip, i == 0, i == len(track.clips) - 1)
                elif role in ("overlay", "titles") and clip.media_kind == "generator":
                    if self.rng.random() > 0.1:
                        clip.curves["opacity"] = self.curve(clip, self.fade(clip, s.title_fade_s), "linear", 1)
                elif role == "overlay":
                    self.pip(clip)
                elif role == "dialogue":
                    self.dialogue(clip)
                elif role == "sfx":
                    self.sfx(clip)
        music = [(t, r) for t, r in zip(st.tracks, st.roles) if r == "music"]
        if music:
            self.music(music[0][0].clips)
            for t, _ in music[1:]:  # exploded channels carry their own copy of the keys
                for src, dst in zip(music[0][0].clips, t.clips):
                    dst.curves = {p: Curve(list(c.keys)) for p, c in src.curves.items()}
        for track in st.tracks:
            for clip in track.clips:
                clip.curves = {p: c for p, c in clip.curves.items() if c is not None and c.keys}

    def main_clip(self, clip: Clip, first: bool, last: bool) -> None:
        s, rng = self.style, self.rng
        a, b = self.span(clip)
        if clip.media_kind == "still" and rng.random() < s.kb_prob:
            zoom_in = rng.random() < s.kb_zoom_in
            hi = 100.0 + s.kb_amount + rng.normal(0, 1.5)
            v0, v1 = (100.0, hi) if zoom_in else (hi, 100.0)
            ka, kb = self.edge(a, 1), self.edge(b, -1)
            interp = self.motion_interp()
            clip.curves["scale"] = self.curve(clip, [(ka, v0), (kb, v1)], interp, 1)
            if rng.random() < 0.6:  # drift towards a point of interest
                dx, dy = rng.normal(0, 0.04, 2)
                clip.curves["center_x"] = self.curve(clip, [(ka, 0.0), (kb, dx)], interp, 4, extra=False)
                clip.curves["center_y"] = self.curve(clip, [(ka, 0.0), (kb, dy)], interp, 4, extra=False)
        elif clip.media_kind == "video" and rng.random() < 0.04:  # punch-in on an interview
            clip.curves["scale"] = self.curve(clip, [(a, rng.uniform(105, 130))], "linear", 1)
        if clip.media_kind == "video" and rng.random() < 0.012:
            clip.curves["rotation"] = self.curve(clip, [(a, rng.choice([-1, 1]) * rng.uniform(1, 5))], "linear", 1)
        pts: list[tuple[int, float]] = []
        if first and s.video_fade_in_s:
            pts += [(a, 0.0), (self.jitter(a + self.sec(s.video_fade_in_s)), 100.0)]
        if last and s.video_fade_out_s:
            pts += [(self.jitter(b - self.sec(s.video_fade_out_s)), 100.0), (b, 0.0)]
        if pts:
            clip.curves["opacity"] = self.curve(clip, pts, "linear", 1)

    def pip(self, clip: Clip) -> None:
        s, rng = self.style, self.rng
        a, _ = self.span(clip)
        clip.curves["scale"] = self.curve(clip, [(a, s.pip_scale + rng.normal(0, 2))], "linear", 1)
        cx, cy = s.pip_corner
        clip.curves["center_x"] = self.curve(clip, [(a, cx + rng.normal(0, 0.02))], "linear", 4)
        clip.curves["center_y"] = self.curve(clip, [(a, cy + rng.normal(0, 0.02))], "linear", 4)
        if rng.random() > 0.1:
            peak = 100.0 if rng.random() < 0.85 else rng.uniform(80, 100)
            clip.curves["opacity"] = self.curve(clip, self.fade(clip, s.pip_fade_s, peak), "linear", 1)

    def dialogue(self, clip: Clip) -> None:
        s, rng = self.style, self.rng
        a, b = self.span(clip)
        if rng.random() < s.dialogue_gain_p:
            clip.curves["level_db"] = self.curve(clip, [(a, rng.uniform(-4, 4))], "linear", 1)
        elif rng.random() < 0.08:  # soften a hard audio cut
            n = self.sec(rng.uniform(0.1, 0.4))
            clip.curves["level_db"] = self.curve(
                clip, [(a, -20.0), (a + n, 0.0), (b - n, 0.0), (b, -20.0)], "linear", 1
            )
        if s.dialogue_pan is not None:
            clip.curves["pan"] = self.curve(clip, [(a, s.dialogue_pan + rng.normal(0, 0.03))], "linear", 2)

    def sfx(self, clip: Clip) -> None:
        s, rng = self.style, self.rng
        a, _ = self.span(clip)
        if rng.random() < 0.3:
            clip.curves["level_db"] = self.curve(clip, [(a, rng.uniform(-12, -3))], "linear", 1)
        if s.sfx_pan is not None:
            clip.curves["pan"] = self.curve(clip, [(a, rng.choice([-1, 1]) * s.sfx_pan)], "linear", 2)

    def music(self, clips: list[Clip]) -> None:
        """One level envelope for the whole music bed, then cut into keys per music clip."""
        s, rng = self.style, self.rng
        base = s.music_base_db
        first, _ = self.span(clips[0])
        _, last = self.span(clips[-1])
        env: list[tuple[int, float]] = []
        lo, hi = first, last
        if s.music_fade_in_s:
            lo = first + self.sec(s.music_fade_in_s)
            env += [(first, LEVEL_FLOOR_DB), (self.jitter(lo), base)]
        tail: list[tuple[int, float]] = []
        if s.music_fade_out_s and last - first > self.sec(s.music_fade_out_s) * 2:
            hi = last - self.sec(s.music_fade_out_s * rng.uniform(0.9, 1.1))
            tail = [(self.jitter(hi), base), (last, LEVEL_FLOOR_DB)]
        if s.ducks:
            ramp = self.sec(s.duck_ramp_s)
            merge = max(self.sec(s.duck_merge_s), 2 * ramp + self.sec(0.2))
            ducks: list[list[int]] = []
            for d0, d1 in self.st.dialogue_runs:
                if ducks and d0 - ducks[-1][1] < merge:
                    ducks[-1][1] = max(ducks[-1][1], d1)
                else:
                    ducks.append([d0, d1])
            for d0, d1 in ducks:
                if d0 - ramp <= lo + 1 or d1 + ramp >= hi - 1 or rng.random() < 0.08:
                    continue  # inside a fade, or the editor let this one go
                depth = base + s.duck_db + rng.normal(0, 1.5)
                pts = [
                    (self.jitter(d0 - ramp), base),
                    (self.jitter(d0), depth),
                    (self.jitter(d1), depth),
                    (self.jitter(d1 + ramp), base),
                ]
                if rng.random() < 0.05:
                    pts.pop(int(rng.choice([0, 3])))  # a ramp without its outer key
                env += pts
        env += tail
        env = sorted(dict(env).items())  # one value per frame, in time order
        for clip in clips:
            pts = _envelope_keys(env, *self.span(clip), base)
            if pts:
                clip.curves["level_db"] = self.curve(clip, pts, "linear", 1)


def _envelope_keys(env: list[tuple[int, float]], a: int, b: int, base: float) -> list[tuple[int, float]]:
    """Keys of a track-wide envelope that fall in frames [a, b], plus edge keys where a clip cuts it."""

    def at(fr: int) -> float:
        if not env or fr <= env[0][0]:
            return env[0][1] if env else base
        for (f0, v0), (f1, v1) in zip(env, env[1:]):
            if f0 <= fr <= f1:
                return v0 + (v1 - v0) * (fr - f0) / (f1 - f0)
        return env[-1][1]

    inside = [(fr, v) for fr, v in env if a <= fr <= b]
    if not inside:
        v = at(a)
        return [] if abs(v) < 1e-9 else [(a, v)]
    out = list(inside)
    if inside[0][0] > a and abs(at(a) - inside[0][1]) > 1e-9:
        out.insert(0, (a, at(a)))
    if inside[-1][0] < b and abs(at(b) - inside[-1][1]) > 1e-9:
        out.append((b, at(b)))
    return out


# --- public API ----------------------------------------------------------------------------------


def generate_timeline(seed: int, style_draw: int | None = None) -> Timeline:
    """A realistic Premiere-style timeline. Structure depends on ``seed`` only; style and noise on
    ``seed`` and ``style_draw`` (None = the timeline's own draw, k >= 0 = alternative draws)."""
    st = _structure(seed)
    stream = [seed, 0x57E1] if style_draw is None else [seed, 0xD4A3, style_draw]
    _Animator(st, np.random.default_rng(stream)).run()
    return Timeline(
        name=f"synth_{seed:05d}",
        rate=st.rate,
        duration=Fraction(st.frames) / st.rate,
        tracks=st.tracks,
        width=1920,
        height=1080,
        dialect="xmeml",
        source=f"synth:{seed}",
    )


def corpus_seed(index: int, seed: int = 0) -> int:
    """Timeline seed of file ``index`` of the corpus drawn with ``seed`` (corpora never overlap)."""
    return seed * 1_000_000 + index


def write_corpus(out_dir: str | Path, count: int, seed: int = 0) -> list[Path]:
    """Write ``count`` timelines as ``synth_{i:05d}.xml``; files whose manifest entry matches are kept."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        manifest = {}
    if manifest.get("version") != GENERATOR_VERSION or manifest.get("seed") != seed:
        manifest = {"version": GENERATOR_VERSION, "seed": seed, "files": {}}
    files: dict[str, str] = manifest["files"]
    paths = []
    changed = False
    for i in range(count):
        path = out / f"synth_{i:05d}.xml"
        paths.append(path)
        if path.name in files and path.is_file() and _sha(path.read_bytes()) == files[path.name]:
            continue
        data = write_xmeml(generate_timeline(corpus_seed(i, seed)))
        path.write_bytes(data)
        files[path.name] = _sha(data)
        changed = True
    if changed or not manifest_path.is_file():
        manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return paths


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]
