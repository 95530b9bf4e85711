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

Media kinds: ``title`` and effect-backed ``video`` -> generator; ``ref-clip``/``mc-clip`` ->
sequence; an asset with video and no frame rate (``FFVideoFormatRateUndefined``) or zero
duration -> still. Gaps give no clip; their connected clips do.

Units (canonical, see ``core.timeline``):

* ``adjust-transform scale "x y"`` -> scale = x * 100.
* ``position "x y"`` is in percent of the frame *height* (TimelineSample: ``0 2.77778`` in a
  1280x720 sequence is exactly 20 px), y up. center_x = x * H / (100 * W) and
  center_y = -y / 100, i.e. frame-normalised with y down like xmeml and MLT.
* ``rotation`` degrees, as written.
* ``adjust-blend amount`` 0..1 -> opacity percent.
* ``adjust-volume amount "NdB"`` -> level_db (floored at -60), also under
  ``audio-channel-source``/``audio-role-source``; ``fadeIn``/``fadeOut`` on a parameter without
  keys become two keys from/to the floor (volume) or 0 (opacity).

Interpolation: ``curve="linear"`` -> linear, ``curve="smooth"`` -> smooth; ``interp`` ease* ->
smooth. With neither, smooth: the FCPXML DTD's default for ``curve``. FCPXML 1.2
``keyTimes``/``keyValues`` lists carry no interpolation and get the same default. Fades: linear
type -> linear, the ease types -> smooth.

Static values (attributes, params without keys) give a one-key curve at the clip start only when
they differ from the canonical default. Retiming (``timeMap``, ``conform-rate``) is not an effect
and is ignored. Keys outside the clip are kept (the curve holds its end values).

Hostile numbers: every number is checked for length and magnitude before any exact arithmetic
(``core.formats._numbers``): ``1e999999999`` or a 10,000-digit value is a TimelineError at once,
never a hang; exact denominators stay below 10**12.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction

from lxml import etree

from core.formats._numbers import NumberError, check_length, exact
from core.timeline import LEVEL_FLOOR_DB, PARAMS, Clip, Curve, Key, ParamRef, Timeline, TimelineError, Track

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
        rate, (width, height) = DEFAULT_RATE, DEFAULT_SIZE
        if fmt is not None:
            frame = self.time(fmt.get("frameDuration"), where, "frameDuration")
            if frame is not None:
                if frame <= 0:
                    raise self.error(where, f"frameDuration {fmt.get('frameDuration')} is not positive")
                rate = 1 / frame
            width, height = self.size(fmt, where)
        self.frame_size = (width, height)
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
            xml_path=self.getpath(seq),
        )

    def size(self, fmt: etree._Element, where: str) -> tuple[int, int]:
        size = []
        for what, default in zip(("width", "height"), DEFAULT_SIZE):
            values = self.numbers(fmt.get(what), where, what)
            value = values[0] if values else default
            if not 0 < value <= MAX_PIXELS:
                raise self.error(where, f"frame {what} {value:g} is out of range")
            size.append(int(value))
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
        if el.tag != "gap":
            has_video, has_audio, media_kind = self.kinds(el)
            enabled = el.get("enabled", "1").strip() not in ("0", "false")
            name = el.get("name") or el.get("ref") or el.tag
            owners = self.owners(el, shift, where)
            if has_video:
                clip = Clip(
                    name=name,
                    start=tl_start,
                    end=tl_start + duration,
                    source_in=start,
                    media_kind=media_kind,
                    enabled=enabled,
                    clip_id=el.get("ref") or "",
                    xml_path=self.getpath(el),
                )
                clip.curves = self.curves(owners, VIDEO_PARAMS, clip, where)
                clips.add("video", lane, clip)
                made.append(clip)
            if has_audio:
                a_start = self.time(el.get("audioStart"), where, "audioStart", start)
                a_duration = self.time(el.get("audioDuration"), where, "audioDuration", duration)
                a_tl = a_start + shift
                clip = Clip(
                    name=name,
                    start=a_tl,
                    end=a_tl + max(a_duration, Fraction(0)),
                    source_in=a_start,
                    media_kind="audio" if media_kind in ("video", "still") else media_kind,
                    enabled=enabled,
                    clip_id=el.get("ref") or "",
                    xml_path=self.getpath(el),
                )
                clip.curves = self.curves(owners, AUDIO_PARAMS, clip, where)
                clips.add("audio", lane, clip)
                made.append(clip)
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
            else:
                self.element(child, offset + shift, child_lane, clips, cwhere)
        return made

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

    def curves(self, owners, params: tuple[str, ...], clip: Clip, where: str) -> dict[str, Curve]:
        """Canonical curves from the owners' adjust-* elements; the first owner with a parameter wins."""
        curves: dict[str, Curve] = {}
        for owner, shift in owners:
            found: dict[str, list[Key]] = {}
            refs: dict[str, ParamRef] = {}
            for adj in owner:
                tag = adj.tag
                if tag == "adjust-transform" and "scale" in params:
                    self.transform(adj, shift, clip, found, refs, where)
                elif tag == "adjust-blend" and "opacity" in params:
                    self.scalar(adj, "amount", "opacity", lambda v: v * 100.0, 0.0, shift, clip, found, refs, where)
                elif tag == "adjust-volume" and "level_db" in params:
                    self.scalar(adj, "amount", "level_db", _db, LEVEL_FLOOR_DB, shift, clip, found, refs, where)
            for canon, ref in refs.items():
                if canon not in clip.param_refs or (found.get(canon) and canon not in curves):
                    clip.param_refs[canon] = ref  # the first owner that has it, or the one whose curve wins
            for canon, keys in found.items():
                if keys and canon not in curves:
                    curves[canon] = Curve(keys)
        return curves

    def transform(self, adj, shift, clip, found, refs, where) -> None:
        width, height = self.frame_size

        def scale(vals):
            return [("scale", vals[0] * 100.0)] if vals else []

        def position(vals):
            if len(vals) < 2:
                return []
            return [("center_x", vals[0] * height / (100.0 * width)), ("center_y", 0.0 - vals[1] / 100.0)]

        def rotation(vals):
            return [("rotation", vals[0])] if vals else []

        for pname, convert, canons in (
            ("scale", scale, {"scale": None}),
            ("position", position, {"center_x": "0", "center_y": "1"}),
            ("rotation", rotation, {"rotation": None}),
        ):
            self.param(
                adj,
                pname,
                convert,
                None,
                shift,
                clip,
                found,
                where=f"{where}, adjust-transform/{pname}",
                refs=refs,
                canons=canons,
            )

    def scalar(self, adj, pname, canon, convert, faded, shift, clip, found, refs, where) -> None:
        def conv(vals):
            return [(canon, convert(vals[0]))] if vals else []

        self.param(
            adj,
            pname,
            conv,
            (canon, faded),
            shift,
            clip,
            found,
            where=f"{where}, {adj.tag}/{pname}",
            refs=refs,
            canons={canon: None},
        )

    def param(
        self,
        adj,
        pname,
        convert,
        fade,
        shift,
        clip: Clip,
        found: dict,
        *,
        where: str,
        refs: dict,
        canons: dict[str, str | None],
    ) -> None:
        """Keys of one parameter: ``<param>`` keyframes, 1.2 key lists, fades, or the static attribute.
        ``refs`` gets where the parameter lives for each of ``canons`` (canonical name -> component)."""
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
                refs.setdefault(canon, ParamRef(path, attr, component, self.getpath(adj)))
        rows: list[tuple[Fraction, list[tuple[str, float]], str]] = []
        if param is not None:
            anim = param.find("keyframeAnimation")
            if anim is not None:
                for kf in anim.iterchildren("keyframe"):
                    t = self.time(kf.get("time"), where, "keyframe time")
                    if t is None:
                        raise self.error(where, "keyframe without time")
                    rows.append((t + shift, convert(self.numbers(kf.get("value"), where, "value")), _interp(kf)))
            elif param.get("keyTimes") is not None:
                times = [x for x in param.get("keyTimes").split(";") if x.strip()]
                values = [x for x in (param.get("keyValues") or "").split(";") if x.strip()]
                if len(times) != len(values):
                    raise self.error(where, f"{len(times)} keyTimes but {len(values)} keyValues")
                for t, v in zip(times, values):
                    rows.append(
                        (self.time(t, where, "keyTimes") + shift, convert(self.numbers(v, where, "value")), "smooth")
                    )
        if not rows:
            text = param.get("value") if param is not None and param.get("value") is not None else adj.get(pname)
            static = convert(self.numbers(text, where, "value"))
            fades = list(param.iterchildren("fadeIn", "fadeOut")) if param is not None and fade else []
            if fades:
                canon, floor = fade
                base = static[0][1] if static else PARAMS[canon][0]
                for f in fades:
                    length = self.time(f.get("duration"), where, "fade duration", Fraction(0))
                    interp = "linear" if (f.get("type") or "").lower() == "linear" else "smooth"
                    if f.tag == "fadeIn":
                        rows += [(clip.start, [(canon, floor)], interp), (clip.start + length, [(canon, base)], interp)]
                    else:
                        rows += [(clip.end - length, [(canon, base)], interp), (clip.end, [(canon, floor)], interp)]
            else:
                for canon, value in static:
                    if abs(value - PARAMS[canon][0]) > 1e-9:  # untouched parameters give no curve
                        found.setdefault(canon, [Key(clip.start, value, "smooth")])
                return
        for t, values, interp in rows:
            for canon, value in values:
                found.setdefault(canon, []).append(Key(t, value, interp))


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
