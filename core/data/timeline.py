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

Besides the curves, every object carries what the export says about it (issue 6), filled by the
readers where the dialect has it. **Unknown is None** (or an empty container), never a silent 0:

* ``Timeline``: ``size_known`` (False when width/height are the 1920x1080 fallback),
  ``pixel_aspect``, ``app``/``app_version`` (the exporting application where the file names it),
  ``dialect_version`` and ``xml_path``.
* ``Track``: ``name`` and ``xml_path``.
* ``Clip``: the source (``source_width``/``source_height`` pixels, ``source_pixel_aspect``,
  ``source_rate`` frames/s, ``audio_channels``, ``source_channel`` 1-based, ``file_ext``,
  ``source_id``), retiming (``speed`` ratio, ``time_remap``), ``effects`` (names of the enabled
  effects applied), ``link_group``, ``gain_db`` (Premiere's static clip gain), ``static`` (the
  parameters the file sets to one value) and the locator for write-back (``xml_path``,
  ``xml_context``, ``param_refs``, ``outer_scale``).

Static values. A parameter the file sets to one value (a plain value, or a single key) is
*static*: ``Clip.static[p]`` holds it, default values included, so downstream can tell "set to
100 %" from "not stated". Its curve stays as before (a one-key curve, only when the value differs
from the default), so a parameter with several keys is in ``curves`` and not in ``static``.

Locator. ``xml_path`` is lxml's ``getpath`` of the element that defines the object, in the file it
was read from (``etree.ElementTree(root).xpath(path)`` finds it again). ``param_refs[p]`` says where
parameter ``p`` lives (see ``ParamRef``); a clip whose parameter has no entry has no element for
it yet, and a writer adds one under the clip's ``xml_path``.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from operator import attrgetter
from typing import NamedTuple

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
DIALECTS = ("xmeml", "fcpxml", "mlt")  # Timeline.dialect; the dialect_* features' order
LEVEL_FLOOR_DB = -60.0
# The values a parameter can take (None: unbounded): what every reader writes and every editor accepts.
PARAM_RANGES: dict[str, tuple[float | None, float | None]] = {
    "scale": (0.0, None),
    "opacity": (0.0, 100.0),
    "level_db": (LEVEL_FLOOR_DB, None),
    "pan": (-1.0, 1.0),
}


def gain_to_db(gain: float) -> float:
    """Linear audio gain (1.0 = 0 dB) to dB, floored at LEVEL_FLOOR_DB."""
    if not gain > 0.0:  # also catches NaN
        return LEVEL_FLOOR_DB
    return max(LEVEL_FLOOR_DB, 20.0 * math.log10(gain))


def add_db(a: float, b: float) -> float:
    """Two levels in dB applied one after the other (a volume and a gain, a clip's and its track's), floored at
    LEVEL_FLOOR_DB; either at the floor is silence, whatever the other adds (a -100 dB mute under a +6 dB gain is
    still silent, not -54 dB)."""
    if a <= LEVEL_FLOOR_DB or b <= LEVEL_FLOOR_DB:
        return LEVEL_FLOOR_DB
    return max(LEVEL_FLOOR_DB, a + b)


def db_to_gain(db: float) -> float:
    """dB to linear gain; the floor (-60 dB) and below map to 0 (silence)."""
    if db <= LEVEL_FLOOR_DB:
        return 0.0
    return 10.0 ** (db / 20.0)


@dataclass(frozen=True)
class Key:
    """One keyframe: timeline time (s), value (canonical unit), interpolation towards the next key.

    ``amplitude``: the segment towards the next key ramps a level's amplitude, not its dB value (the
    interpolation shapes the gain 10^(dB/20), the floor being silence): what FCP X's volume fades and MLT's
    volume ``gain`` do, half-way through a fade in from silence being -6 dB, not -30. Readers set it; the
    keyframe and interpolation targets do not depend on it, only the values between keys."""

    time: Fraction
    value: float
    interp: str = "linear"
    amplitude: bool = False

    def __post_init__(self) -> None:
        if self.interp not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {self.interp!r}")


_key_time = attrgetter("time")  # Curve's sort key


def _smoothstep(u: float) -> float:
    return u * u * (3.0 - 2.0 * u)


@dataclass
class Curve:
    """A keyframed parameter. Keys are kept sorted by time; the curve holds its end values."""

    keys: list[Key] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.keys = sorted(self.keys, key=_key_time)

    def __len__(self) -> int:
        return len(self.keys)

    def map_values(self, fn) -> Curve:
        """The same keys (times, interpolations, shapes) with each value ``fn(value)``: a gain added, a scale
        converted."""
        return Curve([Key(k.time, fn(k.value), k.interp, k.amplitude) for k in self.keys])

    def key_at(self, t: float | Fraction) -> Key | None:
        """The key whose interpolation governs time ``t``: the last at or before it (None before the first)."""
        i = bisect.bisect_right([k.time for k in self.keys], t)
        return self.keys[i - 1] if i else None

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
        if a.amplitude:
            ga, gb = db_to_gain(a.value), db_to_gain(b.value)
            return gain_to_db(ga + (gb - ga) * u)
        return a.value + (b.value - a.value) * u


class ParamRef(NamedTuple):
    """Where a canonical parameter of a clip lives in the document it was read from.

    ``path``: lxml ``getpath`` of the element holding the value or the keyframes (xmeml
    ``<parameter>``; fcpxml ``<param>``, or the ``adjust-*`` element for a static attribute; MLT
    ``<property>``). ``attr``: the attribute holding a static value (fcpxml ``amount``, ``scale``,
    ``position``, ``rotation`` on ``adjust-*``, or ``value`` on ``<param>``), None where values are
    element text or keyframe children. ``component``: the part of a multi-valued parameter
    (xmeml ``horiz``/``vert``; fcpxml ``0``/``1`` of ``"x y"``; MLT ``rect`` for the values derived
    from ``x y w h [opacity]``), None for a scalar. ``filter_path``: the effect element that owns
    the parameter (xmeml/MLT ``<filter>``, fcpxml ``adjust-*``), to enable or extend it.
    A NamedTuple: readers make thousands, and it is immutable and cheap to build.
    """

    path: str
    attr: str | None = None
    component: str | None = None
    filter_path: str | None = None

    def to_json(self) -> dict:
        return {"path": self.path, "attr": self.attr, "component": self.component, "filter_path": self.filter_path}


@dataclass
class Clip:
    """One item on a track: media clip, still, audio, generator/title or nested sequence.

    ``start``/``end`` are timeline seconds, ``end`` exclusive, with edges inside transitions
    resolved to the transition's cut point. ``source_in``/``source_out`` are media seconds; for a retimed
    clip (``speed`` not 1) they count in the clip's own retimed time, as every dialect writes them (an xmeml
    clipitem's in/out, an FCPXML clip's start, an MLT timewarp producer's frames): media seconds are
    ``source_in * speed`` at a constant speed, but for an FCPXML ``conform-rate``, whose local time is the media's.
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
    # ---- what the export says about the source and role (None = the file does not say) ----
    static: dict[str, float] = field(default_factory=dict)  # parameter -> its one value (canonical unit)
    gain_db: float | None = None  # Premiere Audio Gain (dB), already included in level_db
    source_width: int | None = None  # source frame size in pixels (stored, not square-corrected)
    source_height: int | None = None
    source_pixel_aspect: float | None = None  # pixel width / height (1.0 square, 1.333 HDV 1440)
    source_rate: Fraction | None = None  # source media frame rate (frames/s)
    audio_channels: int | None = None  # channels of the source's audio (all streams together)
    source_channel: int | None = None  # 1-based source channel / track the clip plays
    file_ext: str | None = None  # lower-case extension of the media file, with the dot (".mov")
    source_id: str | None = None  # identifies the media (file id, asset id, resource) within the file
    speed: float | None = None  # playback speed ratio (1.0 normal, 0 freeze frame, negative = reversed)
    time_remap: bool | None = None  # a variable-speed retiming curve is applied
    effects: list[str] = field(default_factory=list)  # names of the enabled effects applied, in order
    link_group: str | None = None  # clips with the same value are linked (picture + sound, stereo pairs)
    # ---- locator for write-back (see ParamRef) ----
    xml_path: str | None = None  # getpath of the element that defines the clip
    xml_context: tuple[str, ...] = ()  # containers it plays through (fcpxml ref-clip/mc-clip), outermost first
    param_refs: dict[str, ParamRef] = field(default_factory=dict)
    # the scale (percent) of the containers it plays in (an FCPXML compound clip, a Kdenlive composition), which
    # scales its own centre offset: a writer writing the clip's own centre divides by it; None = 100 %
    outer_scale: Curve | None = None

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
    name: str | None = None  # the track's name where the file gives one
    xml_path: str | None = None  # getpath of the element that defines the track (None: fcpxml lanes)

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
    size_known: bool = True  # False: the file gives no frame size and width/height are the fallback
    pixel_aspect: float | None = None  # the sequence's pixel width / height
    app: str | None = None  # exporting application where the file says it ("Premiere Pro", "Kdenlive")
    app_version: str | None = None
    dialect_version: str | None = None  # the format's version attribute (xmeml 4, fcpxml 1.9, MLT 7.4.0)
    xml_path: str | None = None  # getpath of the element that defines the timeline

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
        """The ``inspect_timeline.py --json`` shape: plain JSON types only, times in timeline seconds."""
        return {
            "name": self.name,
            "dialect": self.dialect,
            "fps": float(self.rate),
            "duration_s": float(self.duration),
            "width": self.width,
            "height": self.height,
            "size_known": self.size_known,
            "pixel_aspect": _opt_float(self.pixel_aspect),
            "app": self.app,
            "app_version": self.app_version,
            "dialect_version": self.dialect_version,
            "xml_path": self.xml_path,
            "tracks": [
                {
                    "kind": t.kind,
                    "index": t.index,
                    "enabled": t.enabled,
                    "name": t.name,
                    "xml_path": t.xml_path,
                    "clips": [_clip_json(c) for c in t.clips],
                }
                for t in self.tracks
            ],
        }


def _opt_float(v) -> float | None:
    return None if v is None else float(v)


def _clip_json(c: Clip) -> dict:
    return {
        "name": c.name,
        "clip_id": c.clip_id,
        "start_s": float(c.start),
        "end_s": float(c.end),
        "source_in_s": float(c.source_in),
        "source_out_s": _opt_float(c.source_out),
        "media_kind": c.media_kind,
        "enabled": c.enabled,
        "transition_in_s": float(c.transition_in),
        "transition_out_s": float(c.transition_out),
        "curves": {p: [[float(k.time), float(k.value), k.interp] for k in curve.keys] for p, curve in c.curves.items()},
        "static": {p: float(v) for p, v in c.static.items()},
        "gain_db": _opt_float(c.gain_db),
        "source_width": c.source_width,
        "source_height": c.source_height,
        "source_pixel_aspect": _opt_float(c.source_pixel_aspect),
        "source_rate": _opt_float(c.source_rate),
        "audio_channels": c.audio_channels,
        "source_channel": c.source_channel,
        "file_ext": c.file_ext,
        "source_id": c.source_id,
        "speed": _opt_float(c.speed),
        "time_remap": c.time_remap,
        "effects": list(c.effects),
        "link_group": c.link_group,
        "xml_path": c.xml_path,
        "xml_context": list(c.xml_context),
        "param_refs": {p: r.to_json() for p, r in c.param_refs.items()},
    }


class TimelineError(ValueError):
    """A file that cannot be read as a timeline. The message names the file and what is wrong."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
