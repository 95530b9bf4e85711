"""FCPXML reader (Final Cut Pro X 1.2-1.13, also written by DaVinci Resolve).

One ``Timeline`` per ``<project>``'s ``<sequence>`` (sequences under ``<media>`` are compound
clips, not timelines; a document without a project, an export of browser clips, gives one per compound
clip that no other compound holds, named after it). The traps handled are those of ``xml-dialects.md`` section 2.

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
picks for audio (all/audio; without mc-source, the first angle; with mc-sources that pick none for a
kind, none), within the mc-clip's own ``srcEnable``; a multicam's picture adjustments are in the
mc-source that picks its video angle, its sound's on the mc-clip itself and its audio angle's roles
(whose volumes add: volume stages add in dB, as a clip's and its audio components' do). Their contents
become clips of the timeline in the container's place: timed by the container's shift (``offset -
start``; a multicam's angles start at its ``tcStart`` of multicam time, so they shift by that more), cut to
its range (its sound to ``audioStart``/``audioDuration``, a split edit; source in moved on by what is cut),
on lanes container lane + their own lane, filtered by the container's ``srcEnable``, disabled with it,
with ``Clip.xml_context`` naming the container(s) and ``xml_path`` their own element inside the resource
(shared by every use of that resource). The container's own adjustments combine with each content's: scale and opacity
multiply, rotation adds, the centre is the container's plus its scale times the content's (it
scales the frame the content sits in; ``Clip.outer_scale`` keeps that scale, and a writer writing the
content's own centre divides by it), levels add in dB (silence stays silent), pan is the
content's when it has one; combined curves have a key at every key time of either side. A
resource that is missing keeps the container as one ``sequence`` clip; one that contains itself
is a TimelineError. A container that shows one clip of a kind gives it its own name (what the timeline
shows: "Clip 3", not the media's "Media Clip"); contents of several clips keep their names.

An ``audition`` plays its first clip (the active pick) in its place: at its offset, on its lane; the
other clips are alternatives and not on the timeline. A ``sync-clip`` whose ``sync-source``s switch
audio roles off (a camera's scratch sound under a recorder's) sounds like its first content whose roles
are not all off (its source, channel and adjustments), and has no sound when all are
(``SourceReading.sync_audio``).

Media kinds: ``title`` and effect-backed ``video`` -> generator; an unresolved
``ref-clip``/``mc-clip`` -> sequence; an asset with video and no frame rate
(``FFVideoFormatRateUndefined``) or zero duration -> still. Gaps give no clip; their connected
clips do.

Units (canonical, see ``core.data.timeline``):

* ``adjust-transform scale "x y"`` -> scale = x * 100.
* ``position "x y"`` is in percent of the frame *height* (TimelineSample: ``0 2.77778`` in a
  1280x720 sequence is exactly 20 px), y up. center_x = x * H / (100 * W) and
  center_y = -y / 100, i.e. frame-normalised with y down like xmeml and MLT.
* ``rotation`` degrees, negated: FCP X (as Motion, in its y-up space) turns a positive angle counter-clockwise,
  where the canonical angle, as Premiere's, Kdenlive's and Shotcut's, turns clockwise.
* ``adjust-crop``: Crop mode (a rectangle of the frame's shape, edges in percent of the conformed picture's
  height, scaled to fill the frame) is a scale and a centre, Ken Burns (``mode="pan"``) eased keys from its
  first rectangle at the clip's start to its second at the end; the Transform applies on top
  (``EffectReading.crop_stage``). Trim mode moves nothing.
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
* A ``<mute start duration>`` range of an ``audio-channel-source``/``audio-role-source`` (FCP writes one where a
  range of a clip's audio is disabled) is silence there: the level steps to the floor and back, or ramps the
  gain over the mute's ``fadeIn``/``fadeOut``, on top of the clip's own level.
* ``adjust-*`` elements with ``enabled="0"`` do nothing and are skipped.

Interpolation: ``curve="linear"`` -> linear, ``curve="smooth"`` -> smooth; ``interp`` ease* ->
smooth. With neither, smooth: the FCPXML DTD's default for ``curve``. FCPXML 1.2
``keyTimes``/``keyValues`` lists carry no interpolation and get the same default. Fades: linear
type -> linear, the ease types -> smooth.

Static values (attributes, params without keys) give a one-key curve at the clip start only when
they differ from the canonical default; they, and a param with one key, are ``Clip.static``
(defaults included). Keys outside the clip are kept (the curve holds its end values).

Retiming is not an effect: a ``timeMap`` gives ``Clip.speed`` (source time per clip time over the
stretch the clip plays, negative when reversed) and ``time_remap`` (its speed changes there); without
one the speed is 1.0; a ``conform-rate`` (unless ``scaleEnabled`` 0) multiplies it by the rate FCP plays the
media at over its ``srcFrameRate``, for the near rates its chart conforms (25p media in a 24p project plays at
0.96, 23.98p in 50p at 25/23.98; ``fcpxml_source.CONFORMS``), and by 1 for the others (23.98p media in a 59.94p
project: FCP repeats frames). A conformed clip's local time is the media's: its ``start``, its keys' times and
its connected items' offsets count media seconds, so a local time t is at ``timeline start + (t - start) /
conform`` (FCP places the items on frames: DAWFileKit's 24p exports). A retimed clip's ``source_in`` stays its
``start``, in its own (retimed) local time as the file writes it and its keyframes count in, not mapped through
the ``timeMap`` into media time (the writer places keys by it).

Source and role: the asset (for a ``clip``/``sync-clip``, its first content's) gives
``source_width/height``, ``source_rate`` and ``source_pixel_aspect`` (its format's ``paspH/paspV``, when it
has video; the sequence's format gives the timeline's ``pixel_aspect`` the same way), ``audio_channels``
(``audioChannels``), ``file_ext`` (``src`` or ``media-rep src``) and ``source_id`` (its id); a format
without ``paspH/paspV`` leaves the pixel aspect None. ``source_channel`` is ``srcCh`` when
it names one channel (on the element, its one active ``audio-channel-source`` or its audio content).
A clip whose ``audio-channel-source``s (or ``audio-role-source``s) are all ``active="0"`` has no sound.
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

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field, replace
from fractions import Fraction

from lxml import etree

from core.data.formats._compose import compose_into
from core.data.formats._numbers import check_length
from core.data.formats._xml import DEFAULT_SIZE
from core.data.formats.fcpxml_base import STORY
from core.data.formats.fcpxml_compound import cut_to
from core.data.formats.fcpxml_effects import EffectReading
from core.data.formats.fcpxml_source import SourceReading, angle_sources, plays, sound_off
from core.data.timeline import AUDIO_PARAMS, VIDEO_PARAMS, Clip, Curve, Timeline, Track

__all__ = ["read_fcpxml"]

MAX_LANES = 10**4
DEFAULT_RATE = Fraction(25)  # a sequence format without frameDuration (never seen in real files)

MAX_NESTING = 16  # compound clips inside compound clips


@dataclass
class _Clips:
    """Clips collected per (kind, summed lane), in document order."""

    by_track: dict[tuple[str, int], list[Clip]] = field(default_factory=dict)

    def add(self, kind: str, lane: int, clip: Clip) -> None:
        self.by_track.setdefault((kind, lane), []).append(clip)


class _Reader(EffectReading, SourceReading):
    """Reads the projects of one document: the story here, effects and typed values in the base parts."""

    def __init__(self, root: etree._Element, name: str) -> None:
        super().__init__(root, name)
        self.active: list[str] = []  # compound / multicam resources being flattened (a cycle guard)

    # ---- document ----------------------------------------------------------------------------

    def read(self) -> list[Timeline]:
        if self.root.tag != "fcpxml":
            raise self.error("", f"root element is <{self.root.tag}>, not <fcpxml>")
        # Compound clips keep their sequence under <media>: those are media, not timelines, except in an export of
        # browser clips (no project), where each compound that no other one holds is an edit of its own.
        sequences = [s for s in self.root.iter("sequence") if s.getparent().tag == "project"]
        if not sequences:
            held = {r.get("ref") for m in self.root.iter("media") for r in m.iter("ref-clip")}
            media = [s for s in self.root.iter("sequence") if s.getparent().tag == "media"]
            sequences = [s for s in media if s.getparent().get("id") not in held]
        if not sequences:
            raise self.error("", "no <project><sequence> found, nor a compound clip's")
        return [self.read_sequence(seq, i) for i, seq in enumerate(sequences)]

    def read_sequence(self, seq: etree._Element, number: int) -> Timeline:
        project = seq.getparent()
        seq_name = project.get("name") or seq.get("name") or f"project {number + 1}"
        where = f"project {seq_name!r}"
        fmt = self.ids.get(seq.get("format") or "")
        rate = self.format_rate(fmt, where) or DEFAULT_RATE
        self.seq_rate = rate
        size = self.size(fmt, where) if fmt is not None else (None, None)
        self.frame_size = (size[0] or DEFAULT_SIZE[0], size[1] or DEFAULT_SIZE[1])  # what positions count in
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
        more = {"pixel_aspect": self.pixel_aspect(fmt, where), "app": self.app(project)}
        return self.timeline(seq, seq_name, rate, duration, tracks, size, **more)

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
        follows: list[int] = []  # per transition, how many items precede it in the spine
        for el in spine:
            if not isinstance(el.tag, str):
                continue
            ewhere = f"{where}, {el.tag} {el.get('name') or len(items) + 1!s}"
            offset = self.time(el.get("offset"), ewhere, "offset", position)
            if el.tag == "audition":  # its pick plays in its place
                el = _pick(el)
                if el is None:
                    continue
            duration = self.time(el.get("duration"), ewhere, "duration", Fraction(0))
            if el.tag == "transition":
                transitions.append((offset + shift, offset + shift + duration))
                follows.append(len(items))
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
        if not transitions:
            return
        near = _Spans(transitions)
        for index, (_, made, start, end) in enumerate(items):
            for clip in made:
                # the transitions whose span holds the clip's end or start, in spine order (a later one wins); one
                # that follows the item in the spine is its tail though the item starts where it does (a clip half
                # as long as a centred transition), one that precedes it its head
                for i in near.holding(clip.end, clip.start):
                    tr_start, tr_end = transitions[i]
                    if tr_start <= clip.end <= tr_end and (start < tr_start or follows[i] == index + 1):
                        clip.transition_out = tr_end - tr_start
                    if tr_start <= clip.start <= tr_end and (end > tr_end or follows[i] == index):
                        clip.transition_in = tr_end - tr_start

    def element(self, el: etree._Element, tl_start: Fraction, lane: int, clips: _Clips, where: str) -> list[Clip]:
        """Emit the clip(s) of one story element placed at ``tl_start``, then its connected items."""
        start = self.time(el.get("start"), where, "start", Fraction(0))
        duration = self.time(el.get("duration"), where, "duration", Fraction(0))
        if duration < 0:
            raise self.error(where, f"negative duration {el.get('duration')}")
        shift = tl_start - start
        made: list[Clip] = []
        flat = self.flatten(el, tl_start, start, duration, lane, where) if el.tag in ("ref-clip", "mc-clip") else None
        for kind, clip_lane, clip in flat or ():
            clips.add(kind, clip_lane, clip)
            made.append(clip)
        conform = self.conform(el) if flat is None else 1  # media seconds per timeline second of its local time
        if el.tag != "gap" and flat is None:  # a compound whose range holds nothing gives no clip
            for kind, clip in self.leaf_clips(el, tl_start, start, duration, shift, conform, where):
                clips.add(kind, lane, clip)
                made.append(clip)
        group = self.path(el)
        for child in el:
            if (child.tag not in STORY and child.tag != "audition") or child.get("lane") is None:
                continue
            cwhere = f"{where}, {child.tag} {child.get('name') or ''}".rstrip()
            try:
                child_lane = lane + int(check_length(child.get("lane")))
            except ValueError:
                raise self.error(cwhere, f"lane {child.get('lane')[:40]!r} is not an integer") from None
            if abs(child_lane) > MAX_LANES:
                raise self.error(cwhere, f"lane {child.get('lane')!r} is absurd")
            offset = self.time(child.get("offset"), cwhere, "offset", Fraction(0))
            offset = start + (offset - start) / conform  # in a conformed clip, media time
            if child.tag == "audition":  # its pick plays in its place, on its lane
                child = _pick(child)
                if child is None:
                    continue
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

    def leaf_clips(self, el, tl_start, start, duration, shift, conform, where) -> list[tuple[str, Clip]]:
        """(track kind, clip) for the video and/or audio clip of one element (xmeml's linked
        clipitems), video first; ``conform``: the element's ``conform`` (its keys move to the timeline's time)."""
        has_video, has_audio, media_kind = self.kinds(el)
        audible = self.sync_audio(el, shift, where) if el.tag == "sync-clip" else None
        has_audio = has_audio and audible is not False
        enabled = el.get("enabled", "1").strip() not in ("0", "false")
        name = el.get("name") or el.get("ref") or el.tag
        owners = self.owners(el, shift, where)
        source = self.source(el, where)
        speed, remapped = self.retiming(el, where, start, duration, conform)
        common = dict(
            name=name,
            enabled=enabled,
            clip_id=el.get("ref") or "",
            xml_path=self.path(el),
            **source.clip_fields(),
            speed=speed,
            time_remap=remapped,
        )
        made = []
        if has_video:
            clip = Clip(start=tl_start, end=tl_start + duration, source_in=start, media_kind=media_kind, **common)
            self.effects(owners, VIDEO_PARAMS, clip, where)
            self.crop_stage(owners, clip, conform, where)
            made.append(("video", clip))
        if has_audio:
            a_start = self.time(el.get("audioStart"), where, "audioStart", start)
            a_duration = self.time(el.get("audioDuration"), where, "audioDuration", duration)
            a_tl = tl_start + (a_start - start) / conform
            fields, sounding, audio_owners, muted = common, el, owners, frozenset()
            if audible:  # a sync clip whose sound is another content's: its source, channel, speed and adjustments
                sounding, sounding_shift, muted = audible
                fields = {**common, **self.source(sounding, where).clip_fields()}
                if sounding.find("timeMap") is not None:  # retimed to stay in sync (a slowed picture's sound)
                    content_speed, content_remapped = self.time_map(sounding, where, Fraction(0), Fraction(0))
                    fields.update(speed=speed * content_speed, time_remap=remapped or content_remapped)
                audio_owners = [(el, shift), (sounding, sounding_shift)]
                audio_owners += [(c, sounding_shift) for c in sounding.iterchildren("audio-channel-source")]
            clip = Clip(
                start=a_tl,
                end=a_tl + max(a_duration, Fraction(0)),
                source_in=a_start,
                media_kind="audio" if media_kind in ("video", "still") else media_kind,
                source_channel=self.source_channel(sounding, muted),
                **fields,
            )
            self.effects(audio_owners, AUDIO_PARAMS, clip, where)
            made.append(("audio", clip))
        if len(made) == 2:
            made[0][1].link_group = made[1][1].link_group = self.path(el)
        if conform != 1:  # local time runs at the media's rate: its keys move to the timeline's
            for _, clip in made:
                conformed(clip, tl_start, conform)
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
        sources: dict[str, etree._Element] = {}  # kind -> the mc-source that picks its angle
        wanted = {kind: plays(el, kind) for kind in ("video", "audio")}
        self.active.append(ident)
        try:
            if el.tag == "ref-clip":
                seq = media.find("sequence")
                if seq is None:
                    return None
                for spine in seq.iterchildren("spine"):
                    self.spine(spine, shift, 0, inner, f"{where}, compound {media.get('name') or ident}")
            else:
                multicam = media.find("multicam")
                if multicam is None:
                    return None
                angles = {a.get("angleID"): a for a in multicam.iterchildren("mc-angle")}
                sources = angle_sources(el)
                first = next(iter(angles), None)
                if "audio" in sources and sound_off(sources["audio"]):
                    wanted["audio"] = False  # the audio angle's roles are all switched off
                per_kind: dict[str, _Clips] = {}
                # the mc-clip's start counts in multicam time, whose angles start at its tcStart (FCP's Source
                # Timecode readout: angle time = multicam time - tcStart)
                angle_shift = shift + self.time(multicam.get("tcStart"), where, "tcStart", Fraction(0))
                for kind in ("video", "audio"):
                    angle = angles.get(sources[kind].get("angleID") if kind in sources else first)
                    if angle is None:
                        continue
                    per_kind[kind] = _Clips()
                    self.spine(angle, angle_shift, 0, per_kind[kind], f"{where}, angle {angle.get('name') or ''}")
                for kind, found in per_kind.items():
                    for (clip_kind, clip_lane), made in found.by_track.items():
                        if clip_kind == kind:
                            for clip in made:
                                inner.add(clip_kind, clip_lane, clip)
        finally:
            self.active.pop()
        outer = Clip(name=el.get("name") or ident, start=tl_start, end=tl_start + duration, source_in=start)
        # a split edit: the sound plays its own range (audioStart/audioDuration, in the container's time)
        a_start = self.time(el.get("audioStart"), where, "audioStart", start)
        a_duration = max(self.time(el.get("audioDuration"), where, "audioDuration", duration), Fraction(0))
        sound = (shift + a_start, shift + a_start + a_duration)
        owners = [(el, shift)] + [(c, shift) for c in el.iterchildren("audio-channel-source", "audio-role-source")]
        # a multicam's picture adjustments are its video angle's mc-source's (the DTD gives the mc-clip none),
        # its sound's the mc-clip's own and its audio angle's roles'
        video_owners, audio_owners = list(owners), list(owners)
        if "video" in sources:
            video_owners.append((sources["video"], shift))
        if "audio" in sources:
            audio_owners += [(c, shift) for c in sources["audio"].iterchildren("audio-role-source")]
        outer_video = Clip(outer.name, outer.start, outer.end, outer.source_in)
        outer_audio = Clip(outer.name, sound[0], sound[1], a_start)
        self.effects(video_owners, VIDEO_PARAMS, outer_video, where)
        self.effects(audio_owners, AUDIO_PARAMS, outer_audio, where)
        enabled = el.get("enabled", "1").strip() not in ("0", "false")
        context = self.path(el)
        out = []
        for (kind, clip_lane), made in inner.by_track.items():
            if not wanted[kind]:
                continue
            container = outer_video if kind == "video" else outer_audio
            for clip in made:
                if not cut_to(clip, container.start, container.end):
                    continue
                compose_into(clip, container)
                clip.enabled = clip.enabled and enabled
                clip.xml_context = (context, *clip.xml_context)
                if clip.link_group is not None:  # the resource is shared: links are per placement
                    clip.link_group = f"{context} {clip.link_group}"
                out.append((kind, lane + clip_lane, clip))
        if el.get("name"):
            # A container that shows one clip of a kind is what the editor sees on the timeline: its name
            # ("Clip 3"), not its content's (often the media's, "Media Clip"); several keep their own names.
            for kind in ("video", "audio"):
                alone = [clip for k, _, clip in out if k == kind]
                if len(alone) == 1:
                    alone[0].name = outer.name
        return out


def _pick(audition: etree._Element) -> etree._Element | None:
    """The clip an ``audition`` plays, its first (the active pick); the others are alternatives, not on the timeline."""
    return next(
        (c for c in audition if isinstance(c.tag, str) and c.tag in STORY and c.tag not in ("spine", "gap")), None
    )


class _Spans:
    """Which of a spine's transitions may hold a time, without comparing it with every one of them: a long
    spine has thousands of clips and transitions, and each comparison of two Fractions costs a microsecond."""

    def __init__(self, spans: list[tuple[Fraction, Fraction]]) -> None:
        self.order = sorted(range(len(spans)), key=lambda i: spans[i][0])
        self.starts = [spans[i][0] for i in self.order]
        self.longest = max(max(end - start for start, end in spans), Fraction(0))

    def holding(self, *times: Fraction) -> list[int]:
        """Indices (ascending) of the spans that start at most ``longest`` before one of ``times`` and not after
        it: every span that holds one, and maybe a few that end before it (the caller checks)."""
        found: set[int] = set()
        for t in times:
            lo, hi = bisect_left(self.starts, t - self.longest), bisect_right(self.starts, t)
            found.update(self.order[lo:hi])
        return sorted(found)


def read_fcpxml(root: etree._Element, name: str) -> list[Timeline]:
    """Read every project's sequence of an FCPXML document (``root`` from ``safe_parse``)."""
    return _Reader(root, name).read()


def conformed(clip: Clip, tl_start: Fraction, conform: Fraction) -> None:
    """A rate-conformed clip's keys, read as if its local time ran at the timeline's, at their timeline times:
    ``tl_start + (t - tl_start) / conform`` (25p media in a 24p project: a key 10 s into the media, 10.42 s in)."""
    for name, curve in clip.curves.items():
        clip.curves[name] = Curve([replace(k, time=tl_start + (k.time - tl_start) / conform) for k in curve.keys])
