"""The structure of a built-in timeline: what ``seed`` alone decides (see ``core.data.synth``).

Tracks, clips, their sources (frame size, pixel aspect, audio channels, the source channel a clip
plays) and each clip's role. No curves: those come from the style stage (``style.py``), so every
style draw of one seed shares this structure exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from core.data.timeline import Clip, Track

RATES = (Fraction(25), Fraction(30000, 1001), Fraction(24000, 1001), Fraction(30))
RATE_WEIGHTS = (0.6, 0.15, 0.15, 0.1)  # the real exports are mostly 25 fps
SEQ_SIZES = ((1920, 1080), (1280, 720), (3840, 2160))
SEQ_SIZE_WEIGHTS = (0.88, 0.07, 0.05)

# Video source formats that differ from the sequence's (width, height, pixel aspect), as in the
# real exports: SD PAL 16:9 and 4:3, HDV, 720p, UHD, phone portrait, HD in a non-HD sequence.
FORMATS: dict[str, tuple[int, int, float]] = {
    "pal169": (720, 576, 64 / 45),
    "pal43": (720, 576, 16 / 15),
    "hdv": (1440, 1080, 4 / 3),
    "hd720": (1280, 720, 1.0),
    "uhd": (3840, 2160, 1.0),
    "portrait": (1080, 1920, 1.0),
    "hd": (1920, 1080, 1.0),
}
FORMAT_WEIGHTS = {"pal169": 0.15, "pal43": 0.1, "hdv": 0.2, "hd720": 0.3, "uhd": 0.15, "portrait": 0.1}
PHOTO_SIZES = ((3000, 2000), (4000, 3000), (5472, 3648), (2592, 1936), (1200, 800), (1920, 1080))
GRAPHIC_SIZES = ((400, 400), (600, 600), (800, 450), (1200, 300), (1920, 1080))


@dataclass
class Structure:
    """What ``seed`` alone decides. Clips carry no curves yet; roles say what each track and clip is for."""

    rate: Fraction
    frames: int  # sequence length in frames
    width: int
    height: int
    tracks: list[Track]
    roles: list[str]  # per track: main, overlay, titles, camera, voice, music, sfx, empty
    clip_role: dict[int, str] = field(default_factory=dict)  # id(clip) -> its format or role
    dialogue_runs: list[tuple[int, int]] = field(default_factory=list)  # frame spans of speech

    def role_of(self, clip: Clip) -> str:
        return self.clip_role.get(id(clip), "")


def lognormal_frames(
    rng: np.random.Generator, median_s: float, sigma: float, lo_s: float, hi_s: float, rate: Fraction
) -> int:
    s = float(np.clip(median_s * math.exp(sigma * rng.standard_normal()), lo_s, hi_s))
    return max(1, round(s * float(rate)))


def place(
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


def fr(t: Fraction, rate: Fraction) -> int:
    """Seconds -> frames (exact on the grid)."""
    return round(t * rate)


class _Builder:
    """Draws one structure; holds the stream, the rate and the source pools."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = rng = np.random.default_rng([seed, 0x5EED])
        self.rate = RATES[int(rng.choice(len(RATES), p=RATE_WEIGHTS))]
        self.fps = float(self.rate)
        self.total = round(rng.uniform(30, 180) * self.fps)
        self.width, self.height = SEQ_SIZES[int(rng.choice(len(SEQ_SIZES), p=SEQ_SIZE_WEIGHTS))]
        self.n_sources = 0
        self.formats: dict[str, tuple[str, int, int, float]] = {}  # source name -> (format, w, h, par)
        self.clip_role: dict[int, str] = {}
        # Share of the camera sources in another format than the sequence's (a timeline habit).
        self.p_foreign = float(rng.choice([0.0, 0.05, 0.15, 0.4], p=[0.45, 0.25, 0.2, 0.1]))

    def f(self, n: int) -> Fraction:
        return Fraction(n) / self.rate

    def src_in(self, max_s: float = 60.0) -> Fraction:
        # At least 2 s of handle, so a dissolve always has source material before the cut.
        return self.f(round(self.rng.uniform(2.0, max_s) * self.fps))

    def new_name(self, prefix: str, ext: str) -> str:
        self.n_sources += 1
        return f"{prefix}{self.n_sources:03d}{ext}"

    def camera_source(self, pool: list[str], reuse: float) -> str:
        """A camera file (reused with other in-points), with its frame format drawn once."""
        rng = self.rng
        if pool and rng.random() < reuse:
            return pool[int(rng.integers(len(pool)))]
        name = self.new_name("A001_C", ".mov" if rng.random() < 0.6 else ".mxf")
        if rng.random() < self.p_foreign:
            names = list(FORMAT_WEIGHTS)
            fmt = names[int(rng.choice(len(names), p=list(FORMAT_WEIGHTS.values())))]
        else:
            fmt = "same"
        w, h, par = (self.width, self.height, 1.0) if fmt == "same" else FORMATS[fmt]
        if fmt != "same" and (w, h) == (self.width, self.height):
            fmt = "same"
        self.formats[name] = (fmt, w, h, par)
        pool.append(name)
        return name

    def video_clip(self, name: str, a: int, b: int, enabled: bool = True) -> Clip:
        fmt, w, h, par = self.formats[name]
        clip = Clip(name, self.f(a), self.f(b), source_in=self.src_in(), media_kind="video", enabled=enabled)
        clip.source_width, clip.source_height, clip.source_pixel_aspect = w, h, par
        clip.audio_channels = 2
        self.clip_role[id(clip)] = fmt
        return clip

    def image_clip(self, a: int, b: int, role: str) -> Clip:
        rng = self.rng
        sizes = PHOTO_SIZES if role == "photo" else GRAPHIC_SIZES
        w, h = sizes[int(rng.integers(len(sizes)))]
        ext = ".jpg" if role == "photo" else (".png" if rng.random() < 0.7 else ".psd")
        clip = Clip(self.new_name("IMG_" if role == "photo" else "GFX_", ext), self.f(a), self.f(b))
        clip.media_kind, clip.source_in = "still", self.f(90000)
        clip.source_out = clip.source_in + clip.duration
        clip.source_width, clip.source_height, clip.source_pixel_aspect = w, h, 1.0
        self.clip_role[id(clip)] = role
        return clip

    def audio_clip(self, name: str, a: int, b: int, source_in: Fraction, channels: int, channel: int) -> Clip:
        clip = Clip(name, self.f(a), self.f(b), source_in=source_in, media_kind="audio")
        clip.audio_channels, clip.source_channel = channels, channel
        return clip

    # ---- tracks ---------------------------------------------------------------------------------

    def main_track(self) -> list[Clip]:
        """V1: a contiguous cut of camera clips (some photos), some dissolves."""
        rng, total, fps = self.rng, self.total, self.fps
        p_photo = float(rng.choice([0.0, 0.05, 0.2], p=[0.6, 0.3, 0.1]))
        p_dissolve = 0.0 if rng.random() < 0.55 else rng.uniform(0.05, 0.3)
        pool: list[str] = []
        clips: list[Clip] = []
        t = 0
        while t < total:
            photo = rng.random() < p_photo
            n = lognormal_frames(rng, 5.0 if photo else 4.0, 0.6, 1.0, 15.0, self.rate)
            if total - (t + n) < fps:  # never leave a sliver at the end
                n = total - t
            if photo:
                clips.append(self.image_clip(t, t + n, "photo"))
            else:
                clips.append(self.video_clip(self.camera_source(pool, 0.3), t, t + n, rng.random() > 0.015))
            t += n
        for a, b in zip(clips, clips[1:]):
            if rng.random() < p_dissolve:
                length = 2 * int(rng.integers(5, 16))  # even, so the centre cut is a whole frame
                if min(a.duration, b.duration) * fps > 2 * length:
                    a.transition_out = b.transition_in = self.f(length)
        self.camera_pool = pool
        return clips

    def titles(self, taken: list[tuple[int, int]]) -> list[Clip]:
        rng = self.rng
        n = int(rng.integers(1, 4)) + round(self.total / self.fps / 60)
        spans = place(rng, n, (2.0, 6.0), self.total, self.rate, taken, round(self.fps))
        names = ["Title", "Lower third", "Text", "Color Matte"]
        out = []
        for i, (a, b) in enumerate(spans):
            name = f"{names[int(rng.choice(4, p=[0.4, 0.35, 0.15, 0.1]))]} {i + 1}"
            clip = Clip(name, self.f(a), self.f(b), source_in=self.f(86313), media_kind="generator")
            self.clip_role[id(clip)] = "title"
            out.append(clip)
        return out

    def overlay_track(self, with_titles: bool) -> list[Clip]:
        """V2: cutaways at full frame, graphics (logos, lower-third art) and, without a V3, titles."""
        rng, fps = self.rng, self.fps
        n = max(1, round(self.total / fps / 15 * rng.uniform(0.5, 1.5)))
        spans = place(rng, n, (2.0, 8.0), self.total, self.rate, [], round(fps))
        p_graphic = float(rng.choice([0.0, 0.3, 0.7], p=[0.4, 0.35, 0.25]))
        clips = []
        for a, b in spans:
            if rng.random() < p_graphic:
                clips.append(self.image_clip(a, b, "graphic"))
            else:
                clips.append(self.video_clip(self.camera_source(self.camera_pool, 0.2), a, b, rng.random() > 0.02))
        if with_titles:
            clips += self.titles([(fr(c.start, self.rate), fr(c.end, self.rate)) for c in clips])
        return sorted(clips, key=lambda c: c.start)

    def camera_pair(self, main: list[Clip]) -> tuple[list[Clip], list[Clip]]:
        """A1/A2: the camera's dual-mono sound under V1's camera clips (channel 1 and 2 of the file)."""
        keep = self.rng.uniform(0.5, 1.0)
        left, right = [], []
        for c in main:
            if c.media_kind != "video" or self.rng.random() > keep:
                continue
            a, b = fr(c.start, self.rate), fr(c.end, self.rate)
            for ch, out in ((1, left), (2, right)):
                clip = self.audio_clip(c.name, a, b, c.source_in, 2, ch)
                clip.source_width, clip.source_height = c.source_width, c.source_height
                clip.source_pixel_aspect = c.source_pixel_aspect
                out.append(clip)
        return left, right

    def voice_track(self) -> list[Clip]:
        """Interview or voice-over (mono files) in runs of sentences with short pauses."""
        rng, fps, total = self.rng, self.fps, self.total
        pool: list[str] = []
        clips: list[Clip] = []
        t = round(rng.uniform(0.5, 8.0) * fps)
        while t < total - 2 * fps:
            for _ in range(int(rng.integers(1, 5))):
                n = min(lognormal_frames(rng, 4.5, 0.5, 1.5, 15.0, self.rate), total - t)
                if n < fps:
                    break
                name = pool[int(rng.integers(len(pool)))] if pool and rng.random() < 0.6 else None
                if name is None:
                    name = self.new_name("VO_" if rng.random() < 0.5 else "INT_", ".wav")
                    pool.append(name)
                clip = self.audio_clip(name, t, t + n, self.src_in(300), 1, 1)
                clip.enabled = rng.random() > 0.01
                clips.append(clip)
                t += n + round(rng.uniform(0.1, 1.0) * fps)  # pause between sentences
            t += round(rng.uniform(3.0, 15.0) * fps)  # b-roll stretch with music up
        self.dialogue_runs = [(fr(c.start, self.rate), fr(c.end, self.rate)) for c in clips if c.enabled]
        return clips

    def music(self, stereo: bool) -> list[list[Clip]]:
        """A music bed (sometimes cut in two): one exploded stereo pair, or one channel on a mono track."""
        rng, fps, total = self.rng, self.fps, self.total
        m0 = 0 if rng.random() < 0.6 else round(rng.uniform(0.2, 3.0) * fps)
        m1 = total if rng.random() < 0.7 else total - round(rng.uniform(0.5, 4.0) * fps)
        cuts = [m0, m1]
        if rng.random() < 0.3 and m1 - m0 > 40 * fps:
            cuts.insert(1, m0 + round(rng.uniform(0.35, 0.65) * (m1 - m0)))
        spans = list(zip(cuts, cuts[1:]))
        ins = [self.f(round(rng.uniform(0, 20) * fps)) for _ in spans]
        name = f"Music_{self.seed % 97:02d}_{{}}.wav"
        return [
            [self.audio_clip(name.format(i + 1), a, b, s, 2, ch) for i, ((a, b), s) in enumerate(zip(spans, ins))]
            for ch in ((1, 2) if stereo else (1,))
        ]

    def sfx(self) -> list[Clip]:
        rng = self.rng
        spans = place(rng, max(1, round(self.total / self.fps / 15)), (0.5, 3.0), self.total, self.rate, [], 1)
        pool: list[str] = []
        out = []
        for a, b in spans:
            name = pool[int(rng.integers(len(pool)))] if pool and rng.random() < 0.3 else self.new_name("SFX_", ".wav")
            pool.append(name)
            out.append(self.audio_clip(name, a, b, self.src_in(10), 2, 1))
        return out


def draw_structure(seed: int) -> Structure:
    """The structure of timeline ``seed``: V1 cut, optional V2 overlays and V3 titles; audio with the
    camera's dual-mono pair, a voice track, a music bed (stereo pair or mono) and sfx, at most 5 tracks."""
    b = _Builder(seed)
    rng = b.rng
    main = b.main_track()
    tracks, roles = [Track("video", 0, main)], ["main"]
    has_v2 = rng.random() < 0.6
    has_v3 = has_v2 and rng.random() < 0.3
    if has_v2:
        tracks.append(Track("video", 1, b.overlay_track(with_titles=not has_v3)))
        roles.append("overlay")
    if has_v3:
        tracks.append(Track("video", 2, b.titles([])))
        roles.append("titles")
    elif not has_v2 and rng.random() < 0.4:
        tracks.append(Track("video", 1, b.titles([])))  # titles straight over the cut
        roles.append("titles")

    audio: list[tuple[str, list[Clip]]] = []
    if rng.random() < 0.75:
        left, right = b.camera_pair(main)
        if left:
            audio += [("camera", left), ("camera", right)]
    b.dialogue_runs = []
    if rng.random() < 0.6:
        audio.append(("voice", b.voice_track()))
    if rng.random() < 0.85 or not audio:
        stereo = rng.random() < 0.6 and len(audio) <= 3
        audio += [("music", clips) for clips in b.music(stereo)]
    if len(audio) < 5 and rng.random() < 0.3:
        audio.append(("sfx", b.sfx()))
    while len(audio) < 2:
        audio.append(("empty", []))
    for i, (role, clips) in enumerate(audio):
        tracks.append(Track("audio", i, clips, enabled=not (role == "sfx" and rng.random() < 0.05)))
        roles.append(role)
    return Structure(b.rate, b.total, b.width, b.height, tracks, roles, b.clip_role, b.dialogue_runs)
