"""FCPXML reader (Final Cut Pro X 1.2-1.13, also written by DaVinci Resolve).

One ``Timeline`` per ``<project>``'s ``<sequence>`` (sequences under ``<media>`` are compound
clips, not timelines). The traps handled are those of ``xml-dialects.md`` section 2.

Time. Every element maps its *local* time to timeline time by one shift:
``timeline = local + shift``, with ``shift = timeline start - start`` (``start`` defaults to 0).
A child's ``offset`` is in its parent's local time, so the shift composes down the tree; the
primary spine starts at the sequence's ``tcStart`` (Occlusion3: 3590 s; Resolve: 3600 s), which
becomes timeline 0. Keyframe times are in the owning element's local time, so they go through
the same shift. All arithmetic is exact ``Fraction`` (Resolve writes unreduced ``56/5s``).

Structure. A story element's children *with* a ``lane`` are connected clips or secondary
storylines and become clips of their own; children *without* a lane are its content (the
``video``/``audio`` inside a ``clip``, the angles of a ``sync-clip``) and only decide what the
element holds. Lanes add up along the tree and give the track: video tracks ordered by lane
(lowest first, as xmeml's V1 is the bottom layer), audio tracks lane 0, then -1, -2, ..., then
positive lanes. An element holding both picture and sound gives a video clip and an audio clip
(xmeml's linked clipitems), the audio one timed by ``audioStart``/``audioDuration`` when present
(split edits). Overlapping clips on one lane stay on that track.

Compound and multicam clips are flattened: a ``ref-clip`` plays its media's sequence, an
``mc-clip`` the angle its ``mc-source`` picks for video (srcEnable all/video) and the one it
picks for audio (all/audio; without mc-source, the first angle). Their contents become clips of
the timeline in the container's place: timed by the container's shift (``offset - start``), cut
to its range (source in moved on by what is cut), on lanes container lane + their own lane,
filtered by the container's ``srcEnable``, disabled with it, with ``Clip.xml_context`` naming
the container(s) and ``xml_path`` their own element inside the resource (shared by every use of
that resource). The container's own adjustments combine with each content's: scale and opacity
multiply, centre and rotation add, levels add in dB (silence stays silent), pan is the
content's when it has one; combined curves have a key at every key time of either side. A
resource that is missing keeps the container as one ``sequence`` clip; one that contains itself
is a TimelineError.

Media kinds: ``title`` and effect-backed ``video`` -> generator; an unresolved
``ref-clip``/``mc-clip`` -> sequence; an asset with video and no frame rate
(``FFVideoFormatRateUndefined``) or zero duration -> still. Gaps give no clip; their connected
clips do.

Units (canonical, see ``core.data.timeline``):

* ``adjust-transform scale "x y"`` -> scale = x * 100.
* ``position "x y"`` is in percent of the frame *height* (TimelineSample: ``0 2.77778`` in a
  1280x720 sequence is exactly 20 px), y up. center_x = x * H / (100 * W) and
  center_y = -y / 100, i.e. frame-normalised with y down like xmeml and MLT.
* ``rotation`` degrees, as written.
* ``adjust-blend amount`` 0..1 -> opacity percent.
* ``adjust-volume amount "NdB"`` -> level_db (floored at -60), also under
  ``audio-channel-source``/``audio-role-source``.
* ``adjust-panner``: in Stereo Left/Right mode (``mode`` "1 ..." or none) ``amount`` -100..100
  -> pan = amount / 100; surround modes use ``left_right_mix`` the same way; the other presets
  (Dialogue, Create Space, ...) spread rather than place sound and give no pan.
* Fades. ``fadeIn``/``fadeOut`` on a parameter without keys become two keys from/to the floor
  (volume) or 0 (opacity). On a parameter with keys, FCP X applies the fade on top of them:
  a key at the clip edge (the floor), one where the fade ends with the key curve's value there,
  and keys inside the fade scaled by its progress g (opacity times g, volume plus 20*log10 g).
* ``adjust-*`` elements with ``enabled="0"`` do nothing and are skipped.

Interpolation: ``curve="linear"`` -> linear, ``curve="smooth"`` -> smooth; ``interp`` ease* ->
smooth. With neither, smooth: the FCPXML DTD's default for ``curve``. FCPXML 1.2
``keyTimes``/``keyValues`` lists carry no interpolation and get the same default. Fades: linear
type -> linear, the ease types -> smooth.

Static values (attributes, params without keys) give a one-key curve at the clip start only when
they differ from the canonical default; they, and a param with one key, are ``Clip.static``
(defaults included). Keys outside the clip are kept (the curve holds its end values).

Retiming is not an effect: a ``timeMap`` gives ``Clip.speed`` (source time per clip time, first
to last point, negative when reversed) and ``time_remap`` (its segments differ in speed); without
one the speed is 1.0. ``conform-rate`` is ignored.

Source and role: the asset (for a ``clip``/``sync-clip``, its first content's) gives
``source_width/height`` and ``source_rate`` (its format, when it has video), ``audio_channels``
(``audioChannels``), ``file_ext`` (``src`` or ``media-rep src``) and ``source_id`` (its id); an
FCPXML format carries no pixel aspect, so that stays None. ``source_channel`` is ``srcCh`` when
it names one channel (on the element, its one ``audio-channel-source`` or its audio content).
The video and audio clips of one element share ``link_group`` (its path), and so do a clip's
connected items that play the same asset (BRENNER's audio lanes of a video). ``effects`` lists
the enabled ``adjust-*`` tags (``adjust-conform (fit|fill|none)``) and ``filter-*`` names. The
application is DaVinci Resolve when an event or project name says "(Resolve)", Final Cut Pro
when the library is an ``.fcpbundle``, else None; ``dialect_version`` is ``<fcpxml version>``.
FCPXML tracks have no names.

Hostile numbers: every number is checked for length and magnitude before any exact arithmetic
(``core.data.formats._numbers``): ``1e999999999`` or a 10,000-digit value is a TimelineError at once,
never a hang; exact denominators stay below 10**12.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from fractions import Fraction
from urllib.parse import unquote

from lxml import etree

from core.data.formats._numbers import NumberError, check_length, exact
from core.data.timeline import LEVEL_FLOOR_DB, PARAMS, Clip, Curve, Key, ParamRef, Timeline, TimelineError, Track

MAX_SECONDS = 10**9  # about 30 years: anything larger is corrupt
MAX_LANES = 10**4
MAX_VALUE = 1e12
MAX_PIXELS = 1 << 16
DEFAULT_RATE = Fraction(25)  # a sequence format without frameDuration (never seen in real files)
DEFAULT_SIZE = (1920, 1080)

STORY = frozenset(("asset-clip", "clip", "ref-clip", "mc-clip", "sync-clip", "gap", "title", "video", "audio", "spine"))
LEAVES = ("asset-clip", "ref-clip", "mc-clip", "title", "video", "audio")
VIDEO_PARAMS = ("scale", "rotation", "center_x", "center_y", "opacity")
AUDIO_PARAMS = ("level_db", "pan")
AUDIO_ADJUSTMENTS = frozenset(
    ("adjust-volume", "adjust-panner", "adjust-loudness", "adjust-noiseReduction", "adjust-humReduction", "adjust-EQ",
     "adjust-matchEQ", "adjust-voiceIsolation")
)  # fmt: skip
MAX_NESTING = 16  # compound clips inside compound clips
_TIME = re.compile(r"([+-]?\d+)(?:/(\d+))?s?$")


@dataclass
class _Clips:
    """Clips collected per (kind, summed lane), in document order."""

    by_track: dict[tuple[str, int], list[Clip]] = field(default_factory=dict)

    def add(self, kind: str, lane: int, clip: Clip) -> None:
        self.by_track.setdefault((kind, lane), []).append(clip)


class _Reader:
    def __init__(self, root: etree._Element, name: str) -> None:
        self.root = root
        self.name = name
        self.getpath = root.getroottree().getpath  # the write-back locator (Clip.xml_path, ParamRef)
        self.ids: dict[str, etree._Element] = {}
        for res in root.iter("resources"):
            for el in res:
                ident = el.get("id")
                if ident and ident not in self.ids:
                    self.ids[ident] = el
        self.sources: dict[etree._Element, _Source] = {}
        self.active: list[str] = []

    def error(self, where: str, reason: str) -> TimelineError:
        return TimelineError(self.name, f"{where}: {reason}" if where else reason)

    # ---- typed attributes --------------------------------------------------------------------

    def time(self, text: str | None, where: str, what: str, default: Fraction | None = None) -> Fraction | None:
        """A rational time ``N/Ds`` or ``Ns`` (also ``N`` without the s, or decimal ``1.5s``) as
        exact seconds; length and magnitude are checked before any exact arithmetic."""
        if text is None or not text.strip():
            return default
        try:
            s = check_length(text)
            m = _TIME.match(s)
            if m is not None and len(m.group(1)) <= 18 and len(m.group(2) or "") <= 12:
                den = int(m.group(2)) if m.group(2) else 1
                if den == 0:
                    raise NumberError(f"{s!r} has a zero denominator")
                value = Fraction(int(m.group(1)), den)
            else:  # decimal seconds ("1.5s") are legal too; odd ratios take the checked path
                value = exact(s[:-1] if s.endswith("s") else s, MAX_SECONDS)
        except NumberError as e:
            raise self.error(where, f"{what} {e}") from None
        if abs(value) > MAX_SECONDS:
            raise self.error(where, f"{what} {text.strip()[:40]} is absurd")
        return value

    def numbers(self, text: str | None, where: str, what: str) -> list[float]:
        """Whitespace-separated numbers, a unit suffix such as ``dB`` dropped; [] if absent."""
        if text is None:
            return []
        out = []
        for part in text.replace(",", " ").split():
            if part.lower().endswith("db"):
                part = part[:-2]
            try:
                value = float(check_length(part))
            except NumberError as e:
                raise self.error(where, f"{what} {e}") from None
            except ValueError:
                break  # "0 0 0 0 (Use Rotation)": stop at the first word
            if not math.isfinite(value) or abs(value) > MAX_VALUE:
                raise self.error(where, f"{what} {text.strip()[:40]} is out of range")
            out.append(value)
        return out

    # ---- document ----------------------------------------------------------------------------

    def read(self) -> list[Timeline]:
        if self.root.tag != "fcpxml":
            raise self.error("", f"root element is <{self.root.tag}>, not <fcpxml>")
        # Compound clips keep their sequence under <media>: those are media, not timelines.
        sequences = [s for s in self.root.iter("sequence") if s.getparent().tag == "project"]
        if not sequences:
            raise self.error("", "no <project><sequence> found")
        return [self.read_sequence(seq, i) for i, seq in enumerate(sequences)]

    def read_sequence(self, seq: etree._Element, number: int) -> Timeline:
        project = seq.getparent()
        seq_name = project.get("name") or seq.get("name") or f"project {number + 1}"
        where = f"project {seq_name!r}"
        fmt = self.ids.get(seq.get("format") or "")
        rate = self.format_rate(fmt, where) or DEFAULT_RATE
        size = self.size(fmt, where) if fmt is not None else (None, None)
        width, height = size[0] or DEFAULT_SIZE[0], size[1] or DEFAULT_SIZE[1]
        self.frame_size = (width, height)
        self.active: list[str] = []  # compound / multicam resources being flattened (a cycle guard)
        clips = _Clips()
        tc_start = self.time(seq.get("tcStart"), where, "tcStart", Fraction(0))
        for spine in seq.iterchildren("spine"):
            self.spine(spine, -tc_start, 0, clips, where)

        tracks = self.tracks(clips)
        duration = self.time(seq.get("duration"), where, "duration", Fraction(0))
        if duration < 0:
            raise self.error(where, f"negative duration {seq.get('duration')}")
        duration = max(duration, Timeline.last_clip_end(tracks))
        return Timeline(
            name=seq_name,
            rate=rate,
            duration=duration,
            tracks=tracks,
            width=width,
            height=height,
            dialect="fcpxml",
            source=self.name,
            size_known=bool(size[0] and size[1]),
            app=self.app(project),
            dialect_version=(self.root.get("version") or "").strip() or None,
            xml_path=self.getpath(seq),
        )

    def app(self, project: etree._Element) -> str | None:
        """DaVinci Resolve names its event "... (Resolve)"; a library in an ``.fcpbundle`` is Final
        Cut Pro's. Otherwise the file does not say."""
        event = project.getparent()
        if event is not None and "(Resolve)" in (event.get("name") or "") + (project.get("name") or ""):
            return "DaVinci Resolve"
        library = event.getparent() if event is not None else None
        if library is not None and library.tag == "library" and ".fcpbundle" in (library.get("location") or ""):
            return "Final Cut Pro"
        return None

    def format_rate(self, fmt: etree._Element | None, where: str) -> Fraction | None:
        """1 / frameDuration of a ``<format>``; None without one (stills: FFVideoFormatRateUndefined)."""
        if fmt is None:
            return None
        frame = self.time(fmt.get("frameDuration"), where, "frameDuration")
        if frame is None:
            return None
        if frame <= 0:
            raise self.error(where, f"frameDuration {fmt.get('frameDuration')} is not positive")
        return 1 / frame

    def size(self, fmt: etree._Element, where: str) -> tuple[int | None, int | None]:
        """(width, height) of a ``<format>``, None where it does not say."""
        size = []
        for what in ("width", "height"):
            values = self.numbers(fmt.get(what), where, what)
            if values and not 0 < values[0] <= MAX_PIXELS:
                raise self.error(where, f"frame {what} {values[0]:g} is out of range")
            size.append(int(values[0]) if values else None)
        return size[0], size[1]

    @staticmethod
    def tracks(clips: _Clips) -> list[Track]:
        def audio_order(lane: int) -> tuple[int, int]:
            return (0, -lane) if lane <= 0 else (1, lane)  # 0, -1, -2, ..., then 1, 2, ...

        video = sorted(lane for kind, lane in clips.by_track if kind == "video")
        audio = sorted((lane for kind, lane in clips.by_track if kind == "audio"), key=audio_order)
        tracks = []
        for kind, lanes in (("video", video), ("audio", audio)):
            for index, lane in enumerate(lanes):
                track_clips = sorted(clips.by_track[(kind, lane)], key=lambda c: c.start)
                tracks.append(Track(kind=kind, index=index, clips=track_clips))
        return tracks

    # ---- story elements ----------------------------------------------------------------------

    def spine(self, spine: etree._Element, shift: Fraction, lane: int, clips: _Clips, where: str) -> None:
        """Children of a spine play one after another; each has its offset in spine time."""
        position = Fraction(0)
        items: list[tuple[etree._Element, list[Clip], Fraction, Fraction]] = []  # (el, clips, start, end)
        transitions: list[tuple[Fraction, Fraction]] = []
        for el in spine:
            if not isinstance(el.tag, str):
                continue
            ewhere = f"{where}, {el.tag} {el.get('name') or len(items) + 1!s}"
            offset = self.time(el.get("offset"), ewhere, "offset", position)
            duration = self.time(el.get("duration"), ewhere, "duration", Fraction(0))
            if el.tag == "transition":
                transitions.append((offset + shift, offset + shift + duration))
                continue
            if el.tag not in STORY:
                continue
            if el.tag == "spine":  # a lane-less nested spine: play it in place
                self.spine(
                    el, offset + shift - self.time(el.get("start"), ewhere, "start", Fraction(0)), lane, clips, ewhere
                )
                continue
            made = self.element(el, offset + shift, lane, clips, ewhere)
            items.append((el, made, offset + shift, offset + shift + duration))
            position = offset + duration
        # FCPX centres a transition on the cut: the clips abut at its middle and overlap it.
        for tr_start, tr_end in transitions:
            for _, made, start, end in items:
                for clip in made:
                    if tr_start <= clip.end <= tr_end and start < tr_start:
                        clip.transition_out = tr_end - tr_start
                    if tr_start <= clip.start <= tr_end and end > tr_end:
                        clip.transition_in = tr_end - tr_start

    def element(self, el: etree._Element, tl_start: Fraction, lane: int, clips: _Clips, where: str) -> list[Clip]:
        """Emit the clip(s) of one story element placed at ``tl_start``, then its connected items."""
        start = self.time(el.get("start"), where, "start", Fraction(0))
        duration = self.time(el.get("duration"), where, "duration", Fraction(0))
        if duration < 0:
            raise self.error(where, f"negative duration {el.get('duration')}")
        shift = tl_start - start
        made: list[Clip] = []
        if el.tag in ("ref-clip", "mc-clip"):
            flat = self.flatten(el, tl_start, start, duration, lane, where)
            if flat is not None:
                for kind, clip_lane, clip in flat:
                    clips.add(kind, clip_lane, clip)
                    made.append(clip)
        if el.tag != "gap" and not made:
            for kind, clip in self.leaf_clips(el, tl_start, start, duration, shift, where):
                clips.add(kind, lane, clip)
                made.append(clip)
        group = self.getpath(el)
        for child in el:
            if child.tag not in STORY or child.get("lane") is None:
                continue
            cwhere = f"{where}, {child.tag} {child.get('name') or ''}".rstrip()
            try:
                child_lane = lane + int(check_length(child.get("lane")))
            except ValueError:
                raise self.error(cwhere, f"lane {child.get('lane')[:40]!r} is not an integer") from None
            if abs(child_lane) > MAX_LANES:
                raise self.error(cwhere, f"lane {child.get('lane')!r} is absurd")
            offset = self.time(child.get("offset"), cwhere, "offset", Fraction(0))
            if child.tag == "spine":  # secondary storyline
                child_start = self.time(child.get("start"), cwhere, "start", Fraction(0))
                self.spine(child, offset + shift - child_start, child_lane, clips, cwhere)
                continue
            children = self.element(child, offset + shift, child_lane, clips, cwhere)
            if made and child.get("ref") is not None and child.get("ref") == el.get("ref"):
                # The same media's other channels connected to it (BRENNER: audio lanes -1/-2 of a video)
                for clip in children:
                    clip.link_group = group
                for clip in made:
                    clip.link_group = group
        return made

    def leaf_clips(self, el, tl_start, start, duration, shift, where) -> list[tuple[str, Clip]]:
        """(track kind, clip) for the video and/or audio clip of one element (xmeml's linked
        clipitems), video first."""
        has_video, has_audio, media_kind = self.kinds(el)
        enabled = el.get("enabled", "1").strip() not in ("0", "false")
        name = el.get("name") or el.get("ref") or el.tag
        owners = self.owners(el, shift, where)
        source = self.source(el, where)
        speed, remapped = self.retiming(el, where)
        common = dict(
            name=name,
            enabled=enabled,
            clip_id=el.get("ref") or "",
            xml_path=self.getpath(el),
            source_width=source.width,
            source_height=source.height,
            source_rate=source.rate,
            audio_channels=source.channels,
            file_ext=source.ext,
            source_id=source.ident,
            speed=speed,
            time_remap=remapped,
        )
        made = []
        if has_video:
            clip = Clip(start=tl_start, end=tl_start + duration, source_in=start, media_kind=media_kind, **common)
            self.effects(owners, VIDEO_PARAMS, clip, where)
            made.append(("video", clip))
        if has_audio:
            a_start = self.time(el.get("audioStart"), where, "audioStart", start)
            a_duration = self.time(el.get("audioDuration"), where, "audioDuration", duration)
            a_tl = a_start + shift
            clip = Clip(
                start=a_tl,
                end=a_tl + max(a_duration, Fraction(0)),
                source_in=a_start,
                media_kind="audio" if media_kind in ("video", "still") else media_kind,
                source_channel=self.source_channel(el),
                **common,
            )
            self.effects(owners, AUDIO_PARAMS, clip, where)
            made.append(("audio", clip))
        if len(made) == 2:
            made[0][1].link_group = made[1][1].link_group = self.getpath(el)
        return made

    # ---- compound and multicam clips ---------------------------------------------------------

    def flatten(self, el, tl_start, start, duration, lane, where) -> list[tuple[str, int, Clip]] | None:
        """The contents of a ``ref-clip`` (compound) or ``mc-clip`` (multicam: the active video and
        audio angles) as clips of this timeline, or None when the resource cannot be found.

        Contents keep their own lanes on top of the container's, are cut to the container's
        range, and take the container's own adjustments composed with theirs (``_compose``).
        """
        ident = el.get("ref") or ""
        media = self.ids.get(ident)
        if media is None or media.tag != "media":
            return None
        if ident in self.active:
            raise self.error(where, f"{el.tag} refers to media {ident!r} that contains itself")
        if len(self.active) >= MAX_NESTING:
            raise self.error(where, f"compound clips nested more than {MAX_NESTING} deep")
        shift = tl_start - start
        inner = _Clips()
        self.active.append(ident)
        try:
            if el.tag == "ref-clip":
                seq = media.find("sequence")
                if seq is None:
                    return None
                src = (el.get("srcEnable") or "all").lower()
                wanted = {"video": src in ("all", "video"), "audio": src in ("all", "audio")}
                for spine in seq.iterchildren("spine"):
                    self.spine(spine, shift, 0, inner, f"{where}, compound {media.get('name') or ident}")
            else:
                multicam = media.find("multicam")
                if multicam is None:
                    return None
                angles = {a.get("angleID"): a for a in multicam.iterchildren("mc-angle")}
                chosen = {"video": None, "audio": None}
                for source in el.iterchildren("mc-source"):
                    enable = (source.get("srcEnable") or "all").lower()
                    for kind in ("video", "audio"):
                        if enable in ("all", kind) and chosen[kind] is None:
                            chosen[kind] = source.get("angleID")
                first = next(iter(angles), None)
                wanted = {"video": True, "audio": True}
                per_kind: dict[str, _Clips] = {}
                for kind in ("video", "audio"):
                    angle = angles.get(chosen[kind] or first)
                    if angle is None:
                        continue
                    per_kind[kind] = _Clips()
                    self.spine(angle, shift, 0, per_kind[kind], f"{where}, angle {angle.get('name') or ''}")
                for kind, found in per_kind.items():
                    for (clip_kind, clip_lane), made in found.by_track.items():
                        if clip_kind == kind:
                            for clip in made:
                                inner.add(clip_kind, clip_lane, clip)
        finally:
            self.active.pop()
        outer = Clip(name=el.get("name") or ident, start=tl_start, end=tl_start + duration, source_in=start)
        owners = [(el, shift)] + [(c, shift) for c in el.iterchildren("audio-channel-source", "audio-role-source")]
        outer_video = Clip(outer.name, outer.start, outer.end, outer.source_in)
        outer_audio = Clip(outer.name, outer.start, outer.end, outer.source_in)
        self.effects(owners, VIDEO_PARAMS, outer_video, where)
        self.effects(owners, AUDIO_PARAMS, outer_audio, where)
        enabled = el.get("enabled", "1").strip() not in ("0", "false")
        context = self.getpath(el)
        out = []
        for (kind, clip_lane), made in inner.by_track.items():
            if not wanted[kind]:
                continue
            container = outer_video if kind == "video" else outer_audio
            for clip in made:
                if not _cut(clip, outer.start, outer.end):
                    continue
                _compose_into(clip, container)
                clip.enabled = clip.enabled and enabled
                clip.xml_context = (context, *clip.xml_context)
                if clip.link_group is not None:  # the resource is shared: links are per placement
                    clip.link_group = f"{context} {clip.link_group}"
                out.append((kind, lane + clip_lane, clip))
        return out

    def kinds(self, el: etree._Element) -> tuple[bool, bool, str]:
        """(has picture, has sound, media kind) of a story element from its content."""
        tag = el.tag
        if tag == "title":
            return True, False, "generator"
        if tag == "audio":
            return False, True, "audio"
        if tag in ("video", "asset-clip"):
            res = self.ids.get(el.get("ref") or "")
            if res is None:
                return tag == "video", tag == "asset-clip", "video"
            if res.tag == "effect":  # a generator placed as video
                return True, False, "generator"
            has_video = res.get("hasVideo", "0") == "1" or tag == "video"
            has_audio = tag == "asset-clip" and res.get("hasAudio", "0") == "1"
            if not has_video and not has_audio:
                has_video = True  # an asset without flags: assume picture
            src = (el.get("srcEnable") or "all").lower()
            has_video, has_audio = has_video and src != "audio", has_audio and src != "video"
            return has_video, has_audio, "still" if has_video and self.is_still(res) else "video"
        if tag in ("ref-clip", "mc-clip"):
            src = {(s.get("srcEnable") or "all").lower() for s in el.iterchildren("mc-source")}
            src.add((el.get("srcEnable") or ("all" if not src else "")).lower())
            has_video = bool(src & {"all", "video"})
            has_audio = bool(src & {"all", "audio"})
            return has_video or not has_audio, has_audio, "sequence"
        # clip, sync-clip: whatever their lane-less content holds, at any depth
        has_video = has_audio = False
        kind = "video"
        for child in el:
            if child.tag not in STORY or child.get("lane") is not None:
                continue
            for sub in child.iter(*LEAVES):  # nested clips and spines are walked through
                v, a, k = self.kinds(sub)
                if v and not has_video:
                    kind = k
                has_video, has_audio = has_video or v, has_audio or a
        if not has_video and not has_audio:
            return True, False, "video"
        return has_video, has_audio, kind

    def is_still(self, asset: etree._Element) -> bool:
        fmt = self.ids.get(asset.get("format") or "")
        if fmt is not None and fmt.get("frameDuration") is None:
            return True  # FFVideoFormatRateUndefined
        return (asset.get("duration") or "").strip() in ("0s", "0/1s", "0")

    # ---- effects -----------------------------------------------------------------------------

    def owners(self, el: etree._Element, shift: Fraction, where: str) -> list[tuple[etree._Element, Fraction]]:
        """Elements whose adjust-* children apply to ``el``, with their time shift: ``el`` first,
        then its channel sources, then its lane-less content (document order)."""
        out = [(el, shift)]
        for child in el.iterchildren("audio-channel-source", "audio-role-source"):
            out.append((child, shift))
        stack = [(c, shift) for c in reversed(el) if c.tag in STORY and c.get("lane") is None]
        while stack:
            child, parent_shift = stack.pop()
            offset = self.time(child.get("offset"), where, "offset", Fraction(0))
            start = self.time(child.get("start"), where, "start", Fraction(0))
            child_shift = offset + parent_shift - start
            out.append((child, child_shift))
            for c in child.iterchildren("audio-channel-source", "audio-role-source"):
                out.append((c, child_shift))
            stack.extend((c, child_shift) for c in reversed(child) if c.tag in STORY and c.get("lane") is None)
        return out

    def effects(self, owners, params: tuple[str, ...], clip: Clip, where: str) -> None:
        """Fill ``clip``'s curves, static values, parameter locations and effect names from the
        owners' enabled ``adjust-*`` and ``filter-*`` elements; for each parameter the first owner
        that has it wins."""
        curves, static, refs = clip.curves, clip.static, clip.param_refs
        audio = "level_db" in params
        for owner, shift in owners:
            found: dict[str, list[Key]] = {}
            stat: dict[str, float] = {}
            orefs: dict[str, ParamRef] = {}
            for adj in owner:
                tag = adj.tag
                if not isinstance(tag, str) or not (tag.startswith("adjust-") or tag.startswith("filter-")):
                    continue
                if adj.get("enabled", "1").strip() in ("0", "false"):
                    continue
                if (tag in AUDIO_ADJUSTMENTS or tag == "filter-audio") != audio:
                    continue
                clip.effects.append(self.effect_name(adj))
                ctx = _Param(shift, clip, found, stat, orefs, where)
                if tag == "adjust-transform":
                    self.transform(adj, ctx)
                elif tag == "adjust-blend":
                    self.param(adj, "amount", _scalar("opacity", lambda v: v * 100.0), ctx, fade=0.0)
                elif tag == "adjust-volume":
                    self.param(adj, "amount", _scalar("level_db", _db), ctx, fade=LEVEL_FLOOR_DB)
                elif tag == "adjust-panner":
                    self.panner(adj, ctx)
            for canon, ref in orefs.items():
                if canon not in refs or (found.get(canon) and canon not in curves):
                    refs[canon] = ref  # the first owner that has it, or the one whose curve wins
            for canon, keys in found.items():
                if keys and canon not in curves:
                    curves[canon] = Curve(keys)
                    if canon in stat:
                        static[canon] = stat[canon]
                    else:
                        static.pop(canon, None)
            for canon, value in stat.items():
                if canon not in curves:
                    static.setdefault(canon, value)

    def effect_name(self, adj: etree._Element) -> str:
        if adj.tag.startswith("filter-"):
            effect = self.ids.get(adj.get("ref") or "")
            return adj.get("name") or (effect.get("name") if effect is not None else None) or adj.tag
        if adj.tag == "adjust-conform" and adj.get("type"):
            return f"adjust-conform ({adj.get('type')})"  # fit / fill / none: it decides the scale seen
        return adj.tag

    def transform(self, adj, ctx: _Param) -> None:
        width, height = self.frame_size

        def scale(vals):
            return [("scale", vals[0] * 100.0)] if vals else []

        def position(vals):
            if len(vals) < 2:
                return []
            return [("center_x", vals[0] * height / (100.0 * width)), ("center_y", 0.0 - vals[1] / 100.0)]

        def rotation(vals):
            return [("rotation", vals[0])] if vals else []

        self.param(adj, "scale", (scale, {"scale": None}), ctx)
        self.param(adj, "position", (position, {"center_x": "0", "center_y": "1"}), ctx)
        self.param(adj, "rotation", (rotation, {"rotation": None}), ctx)

    def panner(self, adj, ctx: _Param) -> None:
        """Stereo Left/Right mode (or no mode): ``amount`` -100 (left) .. 100 (right) is the pan.
        Surround modes pan with ``left_right_mix``; the other presets (Dialogue, Create Space, ...)
        spread sound rather than place it and give no pan."""
        mode = (adj.get("mode") or "").strip().lower()
        if not mode or mode.startswith("1") or "stereo left/right" in mode:
            pname = "amount"
        elif adj.get("left_right_mix") is not None or any(
            p.get("name") == "left_right_mix" for p in adj.iterchildren("param")
        ):
            pname = "left_right_mix"
        else:
            return
        self.param(adj, pname, _scalar("pan", lambda v: max(-1.0, min(1.0, v / 100.0))), ctx)

    def param(self, adj, pname: str, conversion, ctx: _Param, fade: float | None = None) -> None:
        """Keys of one parameter: ``<param>`` keyframes, 1.2 key lists, fades, or the static value.

        ``conversion`` is (values -> [(canonical, value)], {canonical: component}). Where the
        parameter lives goes to ``ctx.refs``, its one value (a plain value or a single key) to
        ``ctx.static``, its keys to ``ctx.found``. ``fade`` is the floor a fadeIn/fadeOut starts
        from or ends at (None: the parameter has no fades).
        """
        convert, canons = conversion
        where = f"{ctx.where}, {adj.tag}/{pname}"
        param = next((p for p in adj.iterchildren("param") if p.get("name") == pname), None)
        if param is not None:
            animated = param.find("keyframeAnimation") is not None or param.get("keyTimes") is not None
            path, attr = self.getpath(param), None if animated or param.get("value") is None else "value"
        elif adj.get(pname) is not None:
            path, attr = self.getpath(adj), pname
        else:
            path = None
        if path is not None:
            for canon, component in canons.items():
                ctx.refs.setdefault(canon, ParamRef(path, attr, component, self.getpath(adj)))
        rows: list[tuple[Fraction, list[tuple[str, float]], str]] = []
        if param is not None:
            anim = param.find("keyframeAnimation")
            if anim is not None:
                for kf in anim.iterchildren("keyframe"):
                    t = self.time(kf.get("time"), where, "keyframe time")
                    if t is None:
                        raise self.error(where, "keyframe without time")
                    rows.append((t + ctx.shift, convert(self.numbers(kf.get("value"), where, "value")), _interp(kf)))
            elif param.get("keyTimes") is not None:
                times = [x for x in param.get("keyTimes").split(";") if x.strip()]
                values = [x for x in (param.get("keyValues") or "").split(";") if x.strip()]
                if len(times) != len(values):
                    raise self.error(where, f"{len(times)} keyTimes but {len(values)} keyValues")
                for t, v in zip(times, values):
                    rows.append(
                        (
                            self.time(t, where, "keyTimes") + ctx.shift,
                            convert(self.numbers(v, where, "value")),
                            "smooth",
                        )
                    )
        keys: dict[str, list[Key]] = {}
        for t, values, interp in rows:
            for canon, value in values:
                keys.setdefault(canon, []).append(Key(t, value, interp))
        static: list[tuple[str, float]] = []
        if not rows:
            text = param.get("value") if param is not None and param.get("value") is not None else adj.get(pname)
            static = convert(self.numbers(text, where, "value"))
        fades = []
        if param is not None and fade is not None:
            for f in param.iterchildren("fadeIn", "fadeOut"):
                length = self.time(f.get("duration"), where, "fade duration", Fraction(0))
                interp = "linear" if (f.get("type") or "").lower() == "linear" else "smooth"
                fades.append((f.tag, length, interp))
        if fades:
            (canon,) = canons
            base = static[0][1] if static else PARAMS[canon][0]
            ctx.found[canon] = _faded(keys.get(canon, []), base, fades, canon, fade, ctx.clip.start, ctx.clip.end)
            return
        for canon, value in static:
            ctx.stat.setdefault(canon, value)
            if abs(value - PARAMS[canon][0]) > 1e-9:  # untouched parameters give no curve
                ctx.found.setdefault(canon, [Key(ctx.clip.start, value, "smooth")])
        for canon, canon_keys in keys.items():
            ctx.found.setdefault(canon, canon_keys)
            if len(canon_keys) == 1:
                ctx.stat.setdefault(canon, canon_keys[0].value)

    # ---- source and retiming -----------------------------------------------------------------

    def source(self, el: etree._Element, where: str) -> _Source:
        """What the element's asset (for a clip or sync-clip, its first content's) says about the
        media; a compound or multicam that is not flattened reports its sequence's format."""
        ref_el = el
        if el.tag in ("clip", "sync-clip"):
            ref_el = next((s for s in el.iter("asset-clip", "video", "audio") if s.get("ref")), None)
            if ref_el is None:
                return _NO_SOURCE
        res = self.ids.get(ref_el.get("ref") or "")
        if res is None:
            return _NO_SOURCE
        if res.tag == "media":
            inner = res.find("sequence")
            if inner is None:
                inner = res.find("multicam")
            fmt = self.ids.get(inner.get("format") or "") if inner is not None else None
            width, height = self.size(fmt, where) if fmt is not None else (None, None)
            return _Source(width, height, self.format_rate(fmt, where), None, None, res.get("id"))
        if res.tag != "asset":
            return _NO_SOURCE
        found = self.sources.get(res)
        if found is not None:
            return found
        fmt = self.ids.get(res.get("format") or "")
        width = height = rate = None
        if fmt is not None and res.get("hasVideo", "0") == "1":
            width, height = self.size(fmt, where)
            rate = self.format_rate(fmt, where)
        channels = None
        if res.get("hasAudio") is not None or res.get("audioChannels") is not None:
            count = self.numbers(res.get("audioChannels"), where, "audioChannels")
            channels = int(count[0]) if count and 0 <= count[0] <= 1024 else (0 if res.get("hasAudio") == "0" else None)
        src = res.get("src")
        if src is None:
            rep = res.find("media-rep")
            src = rep.get("src") if rep is not None else None
        found = self.sources[res] = _Source(width, height, rate, channels, _extension(src or ""), res.get("id"))
        return found

    def source_channel(self, el: etree._Element) -> int | None:
        """``srcCh`` of the element, of its one ``audio-channel-source`` or of its audio content,
        when it names one channel."""
        sources = list(el.iterchildren("audio-channel-source"))
        for sub in (el, *sources[: 1 if len(sources) == 1 else 0], *el.iter("audio")):
            text = (sub.get("srcCh") or "").strip()
            if text:
                return int(text) if text.isdigit() and 0 < len(text) <= 4 else None
        return None

    def retiming(self, el: etree._Element, where: str) -> tuple[float, bool]:
        """(speed, variable): a ``timeMap``'s slope (source time per clip time), 1.0 without one."""
        tm = el.find("timeMap")
        if tm is None:
            return 1.0, False
        points = []
        for pt in tm.iterchildren("timept"):
            t = self.time(pt.get("time"), where, "timept time")
            v = self.time(pt.get("value"), where, "timept value")
            if t is not None and v is not None:
                points.append((t, v))
        slopes = {(v2 - v1) / (t2 - t1) for (t1, v1), (t2, v2) in zip(points, points[1:]) if t2 != t1}
        if not slopes:
            return 1.0, False
        overall = (points[-1][1] - points[0][1]) / (points[-1][0] - points[0][0])
        return float(overall), len(slopes) > 1


@dataclass
class _Param:
    """Where one owner's parameters go while they are read (see ``_Reader.param``)."""

    shift: Fraction
    clip: Clip
    found: dict[str, list[Key]]
    stat: dict[str, float]
    refs: dict[str, ParamRef]
    where: str


@dataclass(frozen=True)
class _Source:
    """What an asset (or a compound's sequence) says about a clip's media; None = not said."""

    width: int | None
    height: int | None
    rate: Fraction | None
    channels: int | None
    ext: str | None
    ident: str | None


_NO_SOURCE = _Source(None, None, None, None, None, None)


def _scalar(canon: str, convert):
    return (lambda vals: [(canon, convert(vals[0]))] if vals else []), {canon: None}


def _faded(keys: list[Key], base: float, fades, canon: str, floor: float, start: Fraction, end: Fraction) -> list[Key]:
    """A parameter's keys with FCP X's fades applied on top (issue 7.3).

    Without keys the fade ramps between the floor and the static value ``base``. With keys the
    fade scales them: within a fade the value is the key curve times the fade's progress g
    (opacity) or plus 20*log10(g) dB (volume), with a key at each end of the fade.
    """
    spans = {tag: (length, interp) for tag, length, interp in fades}
    if not keys:
        out = []
        if "fadeIn" in spans:
            length, interp = spans["fadeIn"]
            out += [Key(start, floor, interp), Key(start + length, base, interp)]
        if "fadeOut" in spans:
            length, interp = spans["fadeOut"]
            out += [Key(end - length, base, interp), Key(end, floor, interp)]
        return out
    curve = Curve(keys)
    in_end = start + spans["fadeIn"][0] if "fadeIn" in spans else None
    out_start = end - spans["fadeOut"][0] if "fadeOut" in spans else None

    def scaled(value: float, g: float) -> float:
        if canon == "level_db":
            return floor if g <= 0 or value <= floor else max(floor, value + 20.0 * math.log10(g))
        return value * g

    def gain(t: Fraction) -> float:
        g = 1.0
        if in_end is not None and t < in_end:
            g *= max(0.0, float((t - start) / (in_end - start))) if in_end > start else 1.0
        if out_start is not None and t > out_start:
            g *= max(0.0, float((end - t) / (end - out_start))) if end > out_start else 1.0
        return g

    out = []
    if in_end is not None:
        out.append(Key(start, floor, spans["fadeIn"][1]))
        out.append(Key(in_end, curve.value_at(in_end), _interp_at(curve, in_end)))
    for k in keys:
        if (in_end is not None and k.time <= in_end) or (out_start is not None and k.time >= out_start):
            if start < k.time < end and k.time not in (in_end, out_start):
                out.append(Key(k.time, scaled(k.value, gain(k.time)), k.interp))
            continue
        out.append(k)
    if out_start is not None:
        out.append(Key(out_start, curve.value_at(out_start), spans["fadeOut"][1]))
        out.append(Key(end, floor, spans["fadeOut"][1]))
    return sorted(out, key=lambda k: k.time)


def _interp_at(curve: Curve, t: Fraction) -> str:
    """The interpolation governing time ``t`` of ``curve`` (that of the last key at or before it)."""
    before = [k for k in curve.keys if k.time <= t]
    return (before[-1] if before else curve.keys[0]).interp


def _cut(clip: Clip, lo: Fraction, hi: Fraction) -> bool:
    """Cut ``clip`` to [lo, hi) (a compound's range); False when nothing of it is left."""
    if clip.end <= lo or clip.start >= hi:
        return False
    if clip.start < lo:
        clip.source_in += lo - clip.start
        clip.start, clip.transition_in = lo, Fraction(0)
    if clip.end > hi:
        clip.end, clip.transition_out = hi, Fraction(0)
    clip.source_out = clip.source_in + (clip.end - clip.start)
    return True


# How a container's adjustment combines with its content's (canonical units): picture scale and
# opacity multiply, offsets and angles add, levels add in dB; pan is the content's if it has one.
_COMBINE = {
    "scale": lambda a, b: a * b / 100.0,
    "opacity": lambda a, b: a * b / 100.0,
    "rotation": lambda a, b: a + b,
    "center_x": lambda a, b: a + b,
    "center_y": lambda a, b: a + b,
    "level_db": lambda a, b: LEVEL_FLOOR_DB if min(a, b) <= LEVEL_FLOOR_DB else max(LEVEL_FLOOR_DB, a + b),
}


def _compose_into(clip: Clip, container: Clip) -> None:
    """Apply a compound's or multicam's own adjustments on top of one of its contents.

    Curves combine key by key over the union of both key times (``_COMBINE``); a side without a
    curve counts with its static value or the default. The result is static when neither side
    is animated.
    """
    for canon in set(container.curves) | set(container.static):
        combine = _COMBINE.get(canon)
        mine, theirs = clip.curves.get(canon), container.curves.get(canon)
        mine_static = canon in clip.static or mine is None
        theirs_static = canon in container.static or theirs is None
        if combine is None:  # pan: the content's own wins
            if mine is None and theirs is not None:
                clip.curves[canon] = theirs
            if mine is None and canon not in clip.static and canon in container.static:
                clip.static[canon] = container.static[canon]
        else:
            default = PARAMS[canon][0]
            if mine is not None or theirs is not None:
                a = mine or Curve([Key(clip.start, clip.static.get(canon, default))])
                b = theirs or Curve([Key(clip.start, container.static.get(canon, default))])
                times = sorted({k.time for k in a.keys} | {k.time for k in b.keys})
                interp = {k.time: k.interp for k in b.keys} | {k.time: k.interp for k in a.keys}
                clip.curves[canon] = Curve([Key(t, combine(a.value_at(t), b.value_at(t)), interp[t]) for t in times])
            if mine_static and theirs_static:
                value = combine(clip.static.get(canon, default), container.static.get(canon, default))
                clip.static[canon] = value
                # one value: one key at the clip's start, as for any static value (none at the default)
                if abs(value - default) > 1e-9:
                    clip.curves[canon] = Curve([Key(clip.start, value, "smooth")])
                else:
                    clip.curves.pop(canon, None)
            else:
                clip.static.pop(canon, None)
        if canon not in clip.param_refs and canon in container.param_refs:
            clip.param_refs[canon] = container.param_refs[canon]
    clip.effects = clip.effects + container.effects


def _extension(path: str) -> str | None:
    """Lower-case extension (with the dot) of a path or file URL, None without one."""
    ext = os.path.splitext(unquote(path.rsplit("/", 1)[-1]))[1].lower()
    return ext if 1 < len(ext) <= 6 and ext[1:].isalnum() else None


def _db(value: float) -> float:
    return max(LEVEL_FLOOR_DB, value)


def _interp(kf: etree._Element) -> str:
    curve = (kf.get("curve") or "").strip().lower()
    if curve in ("linear", "smooth"):
        return curve
    interp = (kf.get("interp") or "").strip().lower()
    if interp == "linear":
        return "linear"
    return "smooth"  # ease, easeIn, easeOut, or nothing: the DTD's default curve is smooth


def read_fcpxml(root: etree._Element, name: str) -> list[Timeline]:
    """Read every project's sequence of an FCPXML document (``root`` from ``safe_parse``)."""
    return _Reader(root, name).read()
