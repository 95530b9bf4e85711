"""The style stage of a built-in timeline: one editor's habits and the jitter of their hands.

``Animator(structure, rng).run()`` adds curves (and Premiere clip gains) to the clips of a
``Structure``; everything it draws comes from ``rng`` (the style stream), so other draws of the
same structure give the noise floor (``core.data.noise_floor``). What it draws is what the real
exports show (``scripts/corpus_stats.py``): most parameters are static values (one key on the
clip's first frame), few are animated, and the values follow the clip's source and track:

- **scale follows the source frame size**: camera files in another format than the sequence get
  the editor's scale for that format (720x576 at 182.8-188 % or 266.7 %, 1280x720 at 150 %,
  1440x1080 at 133.3 %, UHD at 50 %, phone portrait at 163 % or 325 %, photos filling the frame),
  unless the editor lets Premiere scale to frame size (100 %); a few same-size clips are punched in;
- **level and pan belong to the track**: each audio track has a level habit (camera sound kept,
  lowered under the story or muted on one channel; voice near 0 dB; music -24..-10 dB), clips
  scatter around it, Premiere's clip gain adds its own dB to some clips; the camera's dual-mono
  pair (and sometimes a music pair) is panned hard left / right by track;
- **animation is rare**: music fades and ducks, picture fades at the ends, title fades, a Ken
  Burns on some photos, a softened dialogue edge; audio keys are mostly smooth (Premiere's bezier
  keys), video keys smooth or linear by editor.

Noise: key times jitter by 0-3 frames and edge keys move 0-2 frames inward (40 %), levels scatter
+-1 dB around the track's habit, scales are rounded to Premiere's UI and sometimes nudged, keys
and whole fades are sometimes left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from core.data.synth.structure import Structure, fr
from core.data.timeline import LEVEL_FLOOR_DB, PARAMS, Clip, Curve, Key

# Per source format: (rule, probability) of the scale an editor gives it (see ``_format_scale``).
SCALE_RULES: dict[str, list[tuple[str, float]]] = {
    "pal169": [("fit_px", 0.7), ("fill_px", 0.3)],
    "pal43": [("fit_px", 0.6), ("fill_px", 0.2), ("fill_par", 0.2)],
    "hdv": [("fill_px", 0.85), ("none", 0.15)],
    "hd720": [("fill_px", 1.0)],
    "uhd": [("fit_px", 0.8), ("none", 0.2)],
    "portrait": [("portrait_163", 0.6), ("portrait_325", 0.4)],
    "hd": [("fit_px", 1.0)],
}
# Audio track level habits: (kind, probability, low, high) in dB; "unset" leaves 0 dB, "mute" is -60.
LEVEL_HABITS: dict[str, list[tuple[str, float, float, float]]] = {
    "camera": [("unset", 0.45, 0, 0), ("set", 0.3, -24, -8), ("set", 0.15, -3, 6), ("mute", 0.1, 0, 0)],
    "voice": [("unset", 0.5, 0, 0), ("set", 0.5, -6, 6)],
    "music": [("unset", 0.2, 0, 0), ("set", 0.8, -26, -10)],
    "sfx": [("unset", 0.3, 0, 0), ("set", 0.7, -15, -3)],
}


def _pick(rng: np.random.Generator, options: list) -> object:
    return options[int(rng.choice(len(options), p=[o[1] for o in options]))]


@dataclass
class Style:
    """One editor's habits for one timeline (drawn from the style stream)."""

    smooth_video: float  # probability animated video keys are smooth (Bezier handles in xmeml)
    smooth_audio: float
    frame_size: bool  # Premiere's "scale to frame size": foreign formats keep 100 %
    scale_rules: dict[str, str]  # source format -> rule
    reframe_p: float  # same-size camera clips punched in
    photo_kb_p: float  # photos with a Ken Burns
    graphic_scale: float | None
    graphic_corner: tuple[float, float] | None
    overlay_opacity: float | None  # cutaways on V2 set to one opacity
    title_fade_p: float
    title_fade_s: float
    fade_in_s: float | None  # picture from black
    fade_out_s: float | None  # picture to black
    pan_camera: bool  # the camera's dual-mono pair panned hard left/right
    pan_music: bool
    sfx_pan: bool
    gain_p: float  # share of audio clips with a Premiere clip gain
    gain_base: float
    ducks: bool
    duck_db: float
    duck_ramp_s: float
    music_fade_out_s: float | None
    music_fade_in_s: float | None
    edge_fade_p: float  # dialogue clips with softened edges

    @classmethod
    def draw(cls, rng: np.random.Generator) -> Style:
        corner = [(-1, -1), (1, -1), (-1, 1), (1, 1)][int(rng.integers(4))]
        off = rng.uniform(0.28, 0.4)
        return cls(
            smooth_video=float(rng.choice([1.0, 0.5, 0.0], p=[0.45, 0.15, 0.4])),
            smooth_audio=float(rng.choice([1.0, 0.0], p=[0.85, 0.15])),
            frame_size=bool(rng.random() < 0.12),
            scale_rules={fmt: str(_pick(rng, rules)[0]) for fmt, rules in SCALE_RULES.items()},
            reframe_p=0.0 if rng.random() < 0.4 else rng.uniform(0.03, 0.15),
            photo_kb_p=rng.uniform(0.0, 0.6),
            graphic_scale=round(rng.uniform(40, 100)) if rng.random() < 0.7 else None,
            graphic_corner=(corner[0] * off, corner[1] * off) if rng.random() < 0.4 else None,
            overlay_opacity=float(rng.choice([50.0, 68.0, 80.0])) if rng.random() < 0.25 else None,
            title_fade_p=0.0 if rng.random() < 0.75 else 0.7,
            title_fade_s=rng.uniform(0.4, 1.0),
            fade_in_s=rng.uniform(0.5, 1.5) if rng.random() < 0.2 else None,
            fade_out_s=rng.uniform(0.5, 2.0) if rng.random() < 0.25 else None,
            pan_camera=bool(rng.random() < 0.2),
            pan_music=bool(rng.random() < 0.1),
            sfx_pan=bool(rng.random() < 0.2),
            gain_p=0.0 if rng.random() < 0.55 else rng.uniform(0.2, 0.8),
            gain_base=rng.uniform(-20, 8),
            ducks=bool(rng.random() < 0.3),
            duck_db=rng.uniform(-15, -6),
            duck_ramp_s=rng.uniform(0.3, 0.8),
            music_fade_out_s=rng.uniform(2, 6) if rng.random() < 0.6 else None,
            music_fade_in_s=rng.uniform(0.5, 2) if rng.random() < 0.2 else None,
            edge_fade_p=0.0 if rng.random() < 0.6 else rng.uniform(0.03, 0.15),
        )


def _format_scale(rule: str, w: int, h: int, par: float, seq_w: int, seq_h: int) -> float | None:
    """The scale (percent) a rule gives a source of w x h pixels (pixel aspect ``par``); None = 100 %."""
    if rule == "none":
        return None
    if rule.startswith("portrait_"):
        return float(rule.split("_")[1]) * seq_h / 1080
    rw, rh = seq_w / (w * (par if rule.endswith("_par") else 1.0)), seq_h / h
    return 100.0 * (min(rw, rh) if rule.startswith("fit") else max(rw, rh))


class Animator:
    """Adds curves to the clips of a structure, from one style draw."""

    def __init__(self, st: Structure, rng: np.random.Generator) -> None:
        self.st = st
        self.rng = rng
        self.fps = float(st.rate)
        self.style = Style.draw(rng)

    # frame helpers ------------------------------------------------------------------------------
    def sec(self, s: float) -> int:
        return max(1, round(s * self.fps))

    def span(self, clip: Clip) -> tuple[int, int]:
        """First and last frame of a clip (keys must lie in between)."""
        return fr(clip.start, self.st.rate), fr(clip.end, self.st.rate) - 1

    def edge(self, frame: int, inward: int) -> int:
        """A key meant for a clip edge: often exactly on it, sometimes a frame or two inside."""
        return frame + inward * int(self.rng.integers(1, 3)) if self.rng.random() < 0.4 else frame

    def jitter(self, frame: int) -> int:
        return frame + (int(self.rng.integers(-3, 4)) if self.rng.random() < 0.5 else 0)

    def interp(self, audio: bool) -> str:
        p = self.style.smooth_audio if audio else self.style.smooth_video
        return "smooth" if self.rng.random() < p else "linear"

    def static(self, clip: Clip, param: str, value: float, digits: int, keep: bool = False) -> None:
        """A set-but-not-animated value: one linear key on the clip's first frame. A value that rounds
        to the default is not set (the file would not say it), unless ``keep`` nudges it off the default."""
        v = round(float(value), digits)
        if v == PARAMS[param][0]:
            if not keep:
                return
            v += 10.0**-digits
        clip.curves[param] = Curve([Key(clip.start, v, "linear")])

    def curve(self, clip: Clip, points: list[tuple[int, float]], interp: str, digits: int) -> Curve | None:
        """Keys at frames clamped into the clip, one per frame, values rounded as Premiere's UI does."""
        a, b = self.span(clip)
        seen: dict[int, float] = {}
        for f, v in points:
            seen.setdefault(min(max(f, a), b), round(float(v), digits))
        if len(seen) < 2:
            return None  # an animation that lost its keys is no animation
        rate = self.st.rate
        return Curve([Key(Fraction(f) / rate, v, interp) for f, v in sorted(seen.items())])

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

    # video --------------------------------------------------------------------------------------
    def run(self) -> None:
        st = self.st
        levels = self.track_levels()
        for k, (track, role) in enumerate(zip(st.tracks, st.roles)):
            for i, clip in enumerate(track.clips):
                if track.kind == "video":
                    self.video_clip(clip, role, i == 0 and role == "main", i == len(track.clips) - 1 and role == "main")
                elif role in ("camera", "voice", "sfx"):
                    self.audio_clip(clip, k, role, levels[k])
            if role == "music":
                self.music(track.clips, k, levels[k])
        for track in st.tracks:
            for clip in track.clips:
                clip.curves = {p: c for p, c in clip.curves.items() if c is not None and c.keys}

    def video_clip(self, clip: Clip, track_role: str, first: bool, last: bool) -> None:
        s, rng, st = self.style, self.rng, self.st
        role = st.role_of(clip)
        cv = clip.curves
        if role == "title":
            if rng.random() < s.title_fade_p:
                cv["opacity"] = self.curve(clip, self.fade(clip, s.title_fade_s), self.interp(False), 1)
            return
        if role == "photo":
            fill = _format_scale("fill_px", clip.source_width, clip.source_height, 1.0, st.width, st.height)
            if rng.random() < s.photo_kb_p:
                a, b = self.span(clip)
                hi = fill * rng.uniform(1.08, 1.2)
                v0, v1 = (fill, hi) if rng.random() < 0.7 else (hi, fill)
                ka, kb, interp = self.edge(a, 1), self.edge(b, -1), self.interp(False)
                cv["scale"] = self.curve(clip, [(ka, v0), (kb, v1)], interp, 1)
                if rng.random() < 0.6:  # drift towards a point of interest
                    dx, dy = rng.normal(0, 0.05, 2)
                    cv["center_x"] = self.curve(clip, [(ka, 0.0), (kb, dx)], interp, 4)
                    cv["center_y"] = self.curve(clip, [(ka, 0.0), (kb, dy)], interp, 4)
            else:
                self.static(clip, "scale", fill, 1)
        elif role == "graphic":
            if s.graphic_scale is not None and (clip.source_width, clip.source_height) != (st.width, st.height):
                self.static(clip, "scale", s.graphic_scale + rng.choice([0, 0, 0, -5, 5]), 1)
            if s.graphic_corner is not None:  # x and y are one xmeml point: both set, or neither
                self.static(clip, "center_x", s.graphic_corner[0] + rng.normal(0, 0.01), 4, keep=True)
                self.static(clip, "center_y", s.graphic_corner[1] + rng.normal(0, 0.01), 4, keep=True)
        elif role == "same":
            if rng.random() < s.reframe_p:  # a punch-in, sometimes re-centred
                self.static(clip, "scale", rng.uniform(105, 135), 0)
                if rng.random() < 0.8:
                    self.static(clip, "center_x", rng.normal(0, 0.06), 4, keep=True)
                    self.static(clip, "center_y", rng.normal(0, 0.04), 4, keep=True)
        elif role and not s.frame_size:  # a camera file in another format than the sequence
            scale = _format_scale(s.scale_rules[role], *self.source(clip), st.width, st.height)
            if scale is not None and rng.random() < 0.95:
                if rng.random() < 0.3:
                    scale *= 1 + rng.normal(0, 0.012)  # the editor's eye, not the formula
                self.static(clip, "scale", scale, 1)
        if clip.media_kind == "video" and rng.random() < 0.005:
            self.static(clip, "rotation", rng.choice([-1, 1]) * rng.uniform(1, 8), 1)
        if track_role == "overlay" and role != "graphic" and s.overlay_opacity is not None and rng.random() < 0.9:
            self.static(clip, "opacity", s.overlay_opacity, 1)
        pts: list[tuple[int, float]] = []
        a, b = self.span(clip)
        if first and s.fade_in_s:
            pts += [(a, 0.0), (self.jitter(a + self.sec(s.fade_in_s)), 100.0)]
        if last and s.fade_out_s:
            pts += [(self.jitter(b - self.sec(s.fade_out_s)), 100.0), (b, 0.0)]
        if pts and all(x[0] < y[0] for x, y in zip(pts, pts[1:])):
            cv["opacity"] = self.curve(clip, pts, self.interp(False), 1)

    @staticmethod
    def source(clip: Clip) -> tuple[int, int, float]:
        return clip.source_width, clip.source_height, clip.source_pixel_aspect or 1.0

    # audio --------------------------------------------------------------------------------------
    def track_levels(self) -> list[tuple[float | None, float, float]]:
        """Per track: (the level habit in dB or None = untouched, share of clips set, pan)."""
        s, rng, st = self.style, self.rng, self.st
        out: list[tuple[float | None, float, float]] = []
        prev: tuple[str, float | None] | None = None
        pair_pos = {"camera": 0, "music": 0}
        for role in st.roles:
            if role not in LEVEL_HABITS:
                out.append((None, 0.0, 0.0))
                continue
            kind, _, lo, hi = _pick(rng, LEVEL_HABITS[role])
            level = None if kind == "unset" else LEVEL_FLOOR_DB if kind == "mute" else round(rng.uniform(lo, hi), 1)
            if role == "camera" and prev is not None and prev[0] == "camera" and rng.random() < 0.7:
                level = prev[1]  # both channels of one camera alike
            if role == "music" and prev is not None and prev[0] == "music":
                level = prev[1]  # a stereo pair is one bed
            if role == "camera" and kind == "mute" and (prev is None or prev[0] != "camera"):
                level = None  # the junk channel is the second one
            pan = 0.0
            if role in pair_pos:
                side = pair_pos[role]
                pair_pos[role] += 1
                stereo = st.roles.count(role) == 2
                if stereo and (s.pan_camera if role == "camera" else s.pan_music):
                    pan = -1.0 if side == 0 else 1.0
            out.append((level, rng.uniform(0.5, 1.0), pan))
            prev = (role, level)
        return out

    def gain(self, clip: Clip, heard: float) -> float:
        """Premiere's clip gain on some clips: the heard level moves by it (not on muted clips)."""
        if heard <= LEVEL_FLOOR_DB or self.rng.random() >= self.style.gain_p:
            return heard
        g = round(self.style.gain_base + self.rng.normal(0, 4.0), 1)
        out = round(heard + g, 1)
        if abs(g) < 0.05 or abs(out) < 0.05 or out <= LEVEL_FLOOR_DB + 12:
            return heard  # a gain that changes nothing, or one that would sink the clip to the floor
        clip.gain_db = g
        return out

    def audio_clip(self, clip: Clip, k: int, role: str, habit: tuple[float | None, float, float]) -> None:
        s, rng = self.style, self.rng
        level, p_set, pan = habit
        heard = 0.0
        if level is not None and (level <= LEVEL_FLOOR_DB or rng.random() < p_set):
            heard = level if level <= LEVEL_FLOOR_DB else round(level + rng.normal(0, 2.0), 1)
        heard = self.gain(clip, heard)
        if role in ("camera", "voice") and heard > -40 and rng.random() < s.edge_fade_p:
            a, b = self.span(clip)
            n = self.sec(rng.uniform(0.1, 0.5))
            if b - a > 4 * n:
                pts = [(a, LEVEL_FLOOR_DB), (a + n, heard), (b - n, heard), (b, LEVEL_FLOOR_DB)]
                clip.curves["level_db"] = self.curve(clip, pts, self.interp(True), 1)
        if "level_db" not in clip.curves:
            self.static(clip, "level_db", heard, 1)
        if pan and rng.random() < 0.97:
            self.static(clip, "pan", pan, 2)
        elif role == "sfx" and s.sfx_pan and rng.random() < 0.5:
            self.static(clip, "pan", rng.choice([-1, 1]) * rng.uniform(0.2, 1.0), 2)

    def music(self, clips: list[Clip], k: int, habit: tuple[float | None, float, float]) -> None:
        """One level envelope for the music bed (fades, ducks under speech), cut into keys per clip.
        It draws nothing, so both channels of a stereo pair get the same keys."""
        s = self.style
        level, _, pan = habit
        base = 0.0 if level is None else level
        if not clips:
            return
        first, _ = self.span(clips[0])
        _, last = self.span(clips[-1])
        env: list[tuple[int, float]] = []
        lo, hi = first, last
        if s.music_fade_in_s:
            lo = first + self.sec(s.music_fade_in_s)
            env += [(first, LEVEL_FLOOR_DB), (lo, base)]
        tail: list[tuple[int, float]] = []
        if s.music_fade_out_s and last - first > self.sec(s.music_fade_out_s) * 2:
            hi = last - self.sec(s.music_fade_out_s)
            tail = [(hi, base), (last, LEVEL_FLOOR_DB)]
        if s.ducks:
            ramp = self.sec(s.duck_ramp_s)
            ducks: list[list[int]] = []
            for d0, d1 in self.st.dialogue_runs:
                if ducks and d0 - ducks[-1][1] < 2 * ramp + self.sec(1.0):
                    ducks[-1][1] = max(ducks[-1][1], d1)
                else:
                    ducks.append([d0, d1])
            for d0, d1 in ducks:
                if d0 - ramp > lo + 1 and d1 + ramp < hi - 1:
                    depth = round(base + s.duck_db, 1)
                    env += [(d0 - ramp, base), (d0, depth), (d1, depth), (d1 + ramp, base)]
        env += tail
        env = sorted(dict(env).items())  # one value per frame, in time order
        interp = "smooth" if s.smooth_audio >= 0.5 else "linear"  # one habit for the whole bed
        for clip in clips:
            pts = _envelope_keys(env, *self.span(clip), base)
            if len(pts) >= 2:
                clip.curves["level_db"] = self.curve(clip, pts, interp, 1)
            elif pts:
                self.static(clip, "level_db", pts[0][1], 1)
            if pan:
                self.static(clip, "pan", pan, 2)


def _envelope_keys(env: list[tuple[int, float]], a: int, b: int, base: float) -> list[tuple[int, float]]:
    """Keys of a track-wide envelope that fall in frames [a, b], plus edge keys where a clip cuts it."""

    def at(f: int) -> float:
        if not env or f <= env[0][0]:
            return env[0][1] if env else base
        for (f0, v0), (f1, v1) in zip(env, env[1:]):
            if f0 <= f <= f1:
                return v0 + (v1 - v0) * (f - f0) / (f1 - f0)
        return env[-1][1]

    inside = [(f, v) for f, v in env if a <= f <= b]
    if not inside:
        return [(a, at(a))]
    out = list(inside)
    if inside[0][0] > a and abs(at(a) - inside[0][1]) > 1e-9:
        out.insert(0, (a, at(a)))
    if inside[-1][0] < b and abs(at(b) - inside[-1][1]) > 1e-9:
        out.append((b, at(b)))
    return out
