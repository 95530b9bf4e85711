"""Canonical timeline model shared by every reader, the writer, the generator and the frame table.

All times are exact ``Fraction`` seconds on the timeline (never floats) until the frame table
samples them. Values are in the canonical units of DESIGN.md:

| parameter  | unit                                        | default |
|------------|---------------------------------------------|---------|
| scale      | percent                                     | 100     |
| rotation   | degrees                                     | 0       |
| center_x   | frame-normalised, 0 = centre (xmeml horiz)  | 0       |
| center_y   | frame-normalised, 0 = centre (xmeml vert)   | 0       |
| opacity    | percent                                     | 100     |
| level_db   | dB, floored at -60 (xmeml linear gain -> dB) | 0       |
| pan        | -1 .. 1                                     | 0       |
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction

# Canonical parameter name -> (default value, "video" | "audio")
PARAMS: dict[str, tuple[float, str]] = {
    "scale": (100.0, "video"),
    "rotation": (0.0, "video"),
    "center_x": (0.0, "video"),
    "center_y": (0.0, "video"),
    "opacity": (100.0, "video"),
    "level_db": (0.0, "audio"),
    "pan": (0.0, "audio"),
}
VIDEO_PARAMS = tuple(p for p, (_, k) in PARAMS.items() if k == "video")
AUDIO_PARAMS = tuple(p for p, (_, k) in PARAMS.items() if k == "audio")

INTERPOLATIONS = ("linear", "smooth", "hold")  # class index = position in this tuple
MEDIA_KINDS = ("video", "still", "audio", "generator", "sequence")  # class index = position
TRACK_KINDS = ("video", "audio")
LEVEL_FLOOR_DB = -60.0


def gain_to_db(gain: float) -> float:
    """Linear audio gain (1.0 = 0 dB) to dB, floored at LEVEL_FLOOR_DB."""
    if not gain > 0.0:  # also catches NaN
        return LEVEL_FLOOR_DB
    return max(LEVEL_FLOOR_DB, 20.0 * math.log10(gain))


def db_to_gain(db: float) -> float:
    """dB to linear gain; the floor (-60 dB) and below map to 0 (silence)."""
    if db <= LEVEL_FLOOR_DB:
        return 0.0
    return 10.0 ** (db / 20.0)


@dataclass(frozen=True)
class Key:
    """One keyframe: timeline time (s), value (canonical unit), interpolation towards the next key."""

    time: Fraction
    value: float
    interp: str = "linear"

    def __post_init__(self) -> None:
        if self.interp not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {self.interp!r}")


def _smoothstep(u: float) -> float:
    return u * u * (3.0 - 2.0 * u)


@dataclass
class Curve:
    """A keyframed parameter. Keys are kept sorted by time; the curve holds its end values."""

    keys: list[Key] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.keys = sorted(self.keys, key=lambda k: k.time)

    def __len__(self) -> int:
        return len(self.keys)

    def value_at(self, t: float | Fraction) -> float:
        """Value at time ``t`` (s). The interpolation of key i governs the segment i -> i+1."""
        keys = self.keys
        if not keys:
            raise ValueError("empty curve has no value")
        tf = float(t)
        if tf <= float(keys[0].time):
            return keys[0].value
        if tf >= float(keys[-1].time):
            return keys[-1].value
        times = [float(k.time) for k in keys]
        i = bisect.bisect_right(times, tf) - 1
        a, b = keys[i], keys[i + 1]
        span = times[i + 1] - times[i]
        u = 0.0 if span <= 0 else (tf - times[i]) / span
        if a.interp == "hold":
            return a.value
        if a.interp == "smooth":
            u = _smoothstep(u)
        return a.value + (b.value - a.value) * u


@dataclass
class Clip:
    """One item on a track: media clip, still, audio, generator/title or nested sequence.

    ``start``/``end`` are timeline seconds, ``end`` exclusive, with edges inside transitions
    resolved to the transition's cut point. ``source_in``/``source_out`` are media seconds.
    ``curves`` maps canonical parameter names (see PARAMS) to curves in timeline time.
    """

    name: str
    start: Fraction
    end: Fraction
    source_in: Fraction = Fraction(0)
    source_out: Fraction | None = None
    media_kind: str = "video"
    enabled: bool = True
    transition_in: Fraction = Fraction(0)  # length (s) of the transition at the head, 0 if none
    transition_out: Fraction = Fraction(0)  # length (s) of the transition at the tail
    curves: dict[str, Curve] = field(default_factory=dict)
    clip_id: str = ""  # the exporter's id, for error messages and links

    def __post_init__(self) -> None:
        if self.media_kind not in MEDIA_KINDS:
            raise ValueError(f"media_kind must be one of {MEDIA_KINDS}, got {self.media_kind!r}")
        if self.source_out is None:
            self.source_out = self.source_in + (self.end - self.start)

    @property
    def duration(self) -> Fraction:
        return self.end - self.start


@dataclass
class Track:
    kind: str  # "video" | "audio"
    index: int  # 0-based position among the tracks of its kind, in the exporter's order
    clips: list[Clip] = field(default_factory=list)
    enabled: bool = True

    def __post_init__(self) -> None:
        if self.kind not in TRACK_KINDS:
            raise ValueError(f"track kind must be one of {TRACK_KINDS}, got {self.kind!r}")


@dataclass
class Timeline:
    """One sequence. ``tracks`` are ordered video first, then audio, each in exporter order."""

    name: str
    rate: Fraction  # frames per second, exact (30000/1001 for 29.97)
    duration: Fraction  # seconds
    tracks: list[Track] = field(default_factory=list)
    width: int = 1920
    height: int = 1080
    dialect: str = "xmeml"
    source: str = ""  # path of the file it came from, for error messages

    @staticmethod
    def last_clip_end(tracks: list[Track]) -> Fraction:
        """When the last clip of ``tracks`` ends (0 without clips). A declared duration can be stale,
        so readers make a timeline last at least this long."""
        return max((c.end for t in tracks for c in t.clips), default=Fraction(0))

    def iter_clips(self) -> Iterator[tuple[Track, Clip]]:
        for track in self.tracks:
            for clip in track.clips:
                yield track, clip

    @property
    def video_tracks(self) -> list[Track]:
        return [t for t in self.tracks if t.kind == "video"]

    @property
    def audio_tracks(self) -> list[Track]:
        return [t for t in self.tracks if t.kind == "audio"]

    def to_json(self) -> dict:
        """The ``inspect_timeline.py --json`` shape: plain floats, timeline seconds."""
        return {
            "name": self.name,
            "dialect": self.dialect,
            "fps": float(self.rate),
            "duration_s": float(self.duration),
            "tracks": [
                {
                    "kind": t.kind,
                    "index": t.index,
                    "enabled": t.enabled,
                    "clips": [
                        {
                            "name": c.name,
                            "start_s": float(c.start),
                            "end_s": float(c.end),
                            "media_kind": c.media_kind,
                            "enabled": c.enabled,
                            "curves": {
                                p: [[float(k.time), k.value, k.interp] for k in curve.keys]
                                for p, curve in c.curves.items()
                            },
                        }
                        for c in t.clips
                    ],
                }
                for t in self.tracks
            ],
        }


class TimelineError(ValueError):
    """A file that cannot be read as a timeline. The message names the file and what is wrong."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
