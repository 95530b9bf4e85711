"""MLT XML reader (Kdenlive ``.kdenlive`` and Shotcut ``.mlt``).

One ``Timeline`` per top-level tractor (one no track or entry refers to). Kdenlive's project
tractor plays the active sequence through a single track: that sequence is the timeline. The
traps handled are those of ``xml-dialects.md`` section 3.

Time. Rate = ``profile frame_rate_num/den``. Every position is an integer frame: clock strings
``HH:MM:SS.mmm`` are converted as ``mlt_property.c`` does, in doubles:
``floor(fps*h*3600) + floor(fps*m*60) + lrint(fps*s)`` (so 29.97 rounds like MLT, not exactly);
SMPTE ``HH:MM:SS:FF`` gives ``floor(fps*h*3600) + floor(fps*m*60) + ceil(fps*s) + FF`` (MLT 7);
plain numbers are frames. Entry ``out`` is inclusive. Seconds are exact ``Fraction(frames) / rate``.

Tracks. The main tractor's tracks, in order; the background (Kdenlive's black track, a bare
producer, or before 19.08 the ``black_track`` playlist; Shotcut's ``background`` playlist) is
skipped. A Kdenlive track is a tractor of two playlists (the second holds same-track mixes): both
are read into one track. A mix (a ``transition``
of the track tractor with ``kdenlive:mixcut``, from the second clip's start to the first clip's end) is
resolved to its cut, ``mixcut`` frames before that end: the clips meet there, the second one's source in
moves on by as much, and both get the mix's length as transition_out/transition_in. Audio when
``kdenlive:audio_track`` is 1, ``shotcut:audio`` is 1, or every track element hides video (and Shotcut
does not say ``shotcut:video``: a hidden Shotcut video track is ``hide="video"`` too). A track is disabled
when every track element hides what it plays (``both``, or ``video`` for a video track and ``audio`` for
an audio one). Kdenlive's timeline preview playlists are not tracks.
Shotcut transitions are small tractors placed as playlist entries: they give no clip; the two
neighbours meet at the transition's middle (the first one's source out and the second one's source in
move with it: the transition plays the first after its out and the second before its in) and get its
length as transition_out/transition_in.

Media kinds: color/colour, kdenlivetitle, qtext, count, noise -> generator; qimage/pixbuf or an
image extension -> still, but a numbered image sequence (``%05d``, ``?begin=``) is video; a tractor
(Kdenlive sequence, ``kdenlive:producer_type`` 17) or an ``xml`` producer -> sequence; else video or
audio by the track.

Keyframes. An animation is ``key;key`` with ``key = TIME[marker]=VALUE``; no marker = linear,
``|``/``!`` = hold, every other marker (``~ $ -`` and the easing letters) = smooth. MLT measures
TIME from the filter's own ``in`` (0 if absent), in the domain of what the filter is attached to:
source frames for an entry, producer or chain filter (Kdenlive clip effects: the same domain as
the entry's ``in``), track frames for a playlist or track-tractor filter. A negative TIME counts
back from the filter's length (``out - in + 1``; without ``out``, the length of what it is
attached to, as MLT does: the producer's for source filters; a track's ``out - in + 1`` or else
its longest playlist for track filters; the tractor's ``out - in + 1`` or else its longest track,
the black/background track included, for timeline filters). Track and timeline filters apply to
every clip of the track (a zoned one in its zone only, as compositions below); a clip's own filter
wins over the track's for the same parameter.

Numbers are read as MLT reads them, in the document's ``LC_NUMERIC`` locale: Shotcut in a Czech or
German locale writes "0,5" and "00:00:01,500" in keys, rects and levels.

Units (canonical, see ``core.data.timeline``):

* volume ``level`` (dB) -> level_db; volume ``gain`` (linear, or with a ``dB`` suffix).
* panner ``split`` (Shotcut's Balance) or else ``start``, 0..1 (0.5 = centre) -> pan = 2*value - 1; a panner
  with ``channel`` 0 or 1 moves one input channel (Shotcut's Pan) and is not read.
* rects ``x y w h [opacity]`` (affine ``transition.rect``/``rect``, qtblend ``rect``, in pixels
  or ``%``): without ``distort`` MLT fits the picture in the rect keeping its aspect ``a`` (the source's
  width / height in profile pixels, the profile's where the producer does not say, and for track and
  timeline filters and compositions), so scale = min(h, w/a) / min(H, W/a) * 100, the shown picture
  against the same picture fitted to the frame (w / W for a rect of the profile's shape, whatever the
  source; a portrait page in Shotcut's rect of its own shape is at h / H). It sits in the rect as
  ``halign``/``valign`` say (centred unless told; composite: top-left). With ``distort`` the picture
  fills the rect: scale = w / W. center_x = (x' + w'/2)/W - 0.5, center_y = (y' + h'/2)/H - 0.5 of the
  shown picture (frame-normalised, 0 = centre, y down), opacity = the fifth value * 100 (or its percent).
* qtblend ``rotation``, affine ``transition.fix_rotate_x`` (+ ``rotate_x`` degrees a frame; ``rotate_x`` alone
  with ``transition.keyed`` 1) -> rotation (degrees, clockwise). A qtblend without
  ``rotate_center`` 1 (MLT's default) turns the picture about the rect's top-left corner, which moves its
  centre on an arc (``FilterReading.turn_about_corner``); the writer writes ``rotate_center`` 1.
* frei0r.scale0tilt (Kdenlive's Crop, Scale and Tilt): scale = 200 * Scale X, centre = 2 * Tilt + Scale - 1.5.
* brightness ``alpha`` 0..1 -> opacity percent (keyed, or one value below 1: Shotcut's Opacity; Kdenlive's
  fades write ``-1``, "as the level"); brightness ``level`` only for fades (Shotcut
  ``fadeIn/OutBrightness``, Kdenlive ``fade_from_black``/``fade_to_black``; older Kdenlive writes the
  fade as ``start`` ramping to ``end`` over the filter, as MLT reads it without a level): a plain
  brightness effect goes above 1 (2.03 in kdenlive_example_v191180) and is not an opacity.

Compositions. A Kdenlive composition that moves a picture (a ``qtblend``, ``affine`` or ``composite``
transition of the main tractor with a rect or a rotation) transforms the clips of its upper track
(``b_track``) that overlap its zone, keys in timeline frames from its ``in`` (negative ones from its end). It
acts on top of a clip's own transform, as a compound clip's adjustments do in FCPXML: scale and opacity
multiply, rotation adds, the centre is the composition's plus its scale times the clip's (``_compose``),
with a key at every key time of either side. MLT runs it only from its
``in`` through its ``out``, as it runs a zoned track or timeline filter: on a clip that reaches beyond the
zone, the parameter is at its default (no change) up to the zone, held, then the composition's or
filter's values, the last one held through the zone's last frame, then the default again
(``mlt_filters.within_zone``). Kdenlive's automatic compositing
transitions (``internal_added``), blends and wipes move nothing and are not read; same-track mixes are
transitions, not curves.

Static values (one key) give a one-key curve only when they differ from the canonical default;
they are ``Clip.static`` either way (defaults included).

Source and role come from the producer's ``meta.media.*`` properties (what MLT probed):
``width``/``height``, ``sample_aspect_num/den`` (else ``aspect_ratio``), ``frame_rate_num/den``,
and the channels of the ``audio_index`` stream (0 when ``audio_index`` is -1); ``file_ext`` from
``resource``; ``source_id`` is Kdenlive's bin id (``kdenlive:id``) or the resource. A
``timewarp`` producer gives ``speed`` (``warp_speed``, negative = reversed), a chain with a
``timeremap`` link ``time_remap``; otherwise the speed is 1.0. ``effects`` lists the enabled
filters (``kdenlive_id``, ``shotcut:filter`` or ``mlt_service``; Kdenlive's ``audiolevel``
meter is left out) of the entry, its producer, its track and the timeline. Kdenlive's AVSplit
groups (``kdenlive:sequenceproperties.groups`` or ``docproperties.groups``: JSON leaves
``TRACK:FRAME`` with TRACK counted among the real tracks) give ``link_group``. Track names are
``kdenlive:track_name`` or ``shotcut:name``. The application is Shotcut (root ``title``
"Shotcut version X") or Kdenlive (``kdenlive:docproperties.kdenliveversion``);
``dialect_version`` is the root's MLT ``version``; the profile gives ``pixel_aspect``.

Hostile numbers: every number is checked for length and magnitude before any exact arithmetic
(``core.data.formats._numbers``): ``1e999999999`` or a 10,000-digit value is a TimelineError at once,
never a hang; exact denominators stay below 10**12.
"""

from __future__ import annotations

import json
from fractions import Fraction

from lxml import etree

from core.data.formats._compose import compose_into
from core.data.formats.mlt_base import count, properties, property_text
from core.data.formats.mlt_filters import MOVES, ClipsByTime, FilterReading, effect_name, within_zone
from core.data.formats.mlt_mixes import MixReading
from core.data.formats.mlt_source import SourceReading
from core.data.timeline import Clip, Timeline, Track

__all__ = ["read_mlt"]


PREVIEWS = frozenset(("timeline_preview", "timeline_overlay"))  # Kdenlive playlists that render the timeline
# Background playlists: Shotcut's, and Kdenlive's black track before 19.08 (a playlist then, a bare producer since)
BACKGROUNDS = frozenset(("background", "black_track"))
COMPOSITIONS = frozenset(("qtblend", "affine", "composite", "frei0r.affine"))  # transitions that move a picture
TRANSFORM = ("scale", "center_x", "center_y", "rotation")  # a clip filter that sets one renders a frame-sized picture


class _Reader(FilterReading, MixReading, SourceReading):
    """Reads the top-level tractors of one document: tracks and playlists here; filters and positions
    in the parts it builds on."""

    # ---- document ----------------------------------------------------------------------------

    def read(self) -> list[Timeline]:
        if self.root.tag != "mlt":
            raise self.error("", f"root element is <{self.root.tag}>, not <mlt>")
        referenced = {el.get("producer") for el in self.root.iter("track", "entry")}
        tops = [t for t in self.root.iter("tractor") if t.get("id") not in referenced]
        if not tops:
            raise self.error("", "no top-level <tractor> found")
        return [self.read_tractor(t, i) for i, t in enumerate(tops)]

    def read_tractor(self, tractor: etree._Element, number: int) -> Timeline:
        # Kdenlive >= 23.04: the project tractor plays the active sequence through one track.
        seen = set()
        while id(tractor) not in seen:
            seen.add(id(tractor))
            tracks = list(tractor.iterchildren("track"))
            inner = self.ids.get(tracks[0].get("producer") or "") if len(tracks) == 1 else None
            if inner is None or inner.tag != "tractor":
                break
            tractor = inner
        name = (
            property_text(tractor, "kdenlive:clipname")
            or tractor.get("title")
            or tractor.get("id")
            or f"tractor {number + 1}"
        )
        where = f"tractor {name!r}"
        tracks: list[Track] = []
        counts = {"video": 0, "audio": 0}
        by_position: dict[int, Track] = {}  # index among the real tracks -> track (as Kdenlive's groups count)
        by_index: dict[int, Track] = {}  # index among the tractor's <track>s, the black one included (b_track)
        longest = 0
        for i, track_el in enumerate(tractor.iterchildren("track")):
            el = self.ids.get(track_el.get("producer") or "")
            if el is None:
                raise self.error(where, f"track {i + 1} refers to unknown producer {track_el.get('producer')!r}")
            if el.tag in ("producer", "chain") or el.get("id") in BACKGROUNDS:
                # Kdenlive's black track, Shotcut's background: no clips, but part of the length
                longest = max(longest, self.producer_length(el, where))
                continue
            if property_text(el, "kdenlive:playlistid") in PREVIEWS:
                continue  # Kdenlive's rendered preview of the timeline, not a track of it
            track, length = self.read_track(el, track_el, where)
            longest = max(longest, length)
            by_position[len(tracks)] = by_index[i] = track
            tracks.append(track)
        # Timeline filters (Kdenlive sequence effects, possibly zoned) reach every track. Their
        # length, which negative key times count back from, is the tractor's (as in MLT).
        filters = list(tractor.iterchildren("filter"))
        length = self.span(tractor, where, longest)
        self.apply_compositions(tractor, by_index, length, where)
        for track in tracks:
            self.apply_filters(filters, track.clips, track.kind, length, where)
        self.link_groups(tractor, by_position, where)
        # video first, then audio, each in the exporter's order (MLT lists tracks bottom-up)
        tracks.sort(key=lambda t: t.kind != "video")
        for track in tracks:
            track.index = counts[track.kind]
            counts[track.kind] += 1
        # The last clip's end: a tractor's out includes Kdenlive's 20-minute black track.
        duration = Timeline.last_clip_end(tracks)
        if not duration:
            out = self.frames(tractor.get("out"), where)
            duration = self.secs(out + 1) if out is not None else Fraction(0)
        app, version = self.app()
        return self.timeline(
            tractor,
            name,
            self.rate,
            duration,
            tracks,
            self.stated_size,
            pixel_aspect=self.pixel_aspect,
            app=app,
            app_version=version,
        )

    def apply_compositions(self, tractor: etree._Element, by_index: dict[int, Track], length: int, where: str) -> None:
        """Kdenlive's compositions that move a picture (a ``qtblend``, ``affine`` or ``composite`` transition
        between two tracks with a rect or a rotation) transform their upper track (``b_track``) during their
        zone, keys in timeline frames from the composition's ``in``, on top of each clip's own transform (as a
        compound clip's adjustments, ``_compose``). A rect fits the clip's own picture, as a clip filter's does
        (``transition_qtblend.cpp``: a square logo in a 300x300 rect is 300 px high), or the frame's shape where
        the clip has a transform filter of its own, whose output is a frame. Kdenlive's own compositing
        transitions (``internal_added``) and Shotcut's per-track blends move nothing."""
        by_time: dict[int, ClipsByTime] = {}  # id(track) -> its clips, looked up by time
        for tr in tractor.iterchildren("transition"):
            props = properties(tr)
            if props.get("internal_added") or props.get("mlt_service", "").lower() not in COMPOSITIONS:
                continue
            if not any(props.get(name) for name in MOVES):
                continue
            track = by_index.get(count(props.get("b_track")) if "b_track" in props else 1)
            if track is None or track.kind != "video":
                continue
            cwhere = f"{where}, composition {tr.get('id')}"
            name = effect_name(tr)
            effects = [name] if name is not None else []
            if id(track) not in by_time:
                by_time[id(track)] = ClipsByTime(track.clips)
            zone_in, zone_end = self.zone(tr, cwhere)
            by_aspect: dict[float | None, tuple[dict, dict, dict]] = {}  # the composition read per picture shape
            for clip in by_time[id(track)].overlapping(zone_in, zone_end):
                # MLT fits the clip's own picture in the rect; a clip that has a transform of its own hands on a
                # picture of the frame's shape (None: the profile's aspect)
                moved = any(p in clip.static or p in clip.curves for p in TRANSFORM)
                aspect = (
                    None
                    if moved
                    else self.picture_aspect(clip.source_width, clip.source_height, clip.source_pixel_aspect)
                )
                if aspect not in by_aspect:
                    refs: dict = {}
                    static: dict[str, float] = {}
                    curves = self.curves([tr], 0, length, self.secs, "video", cwhere, refs, static, aspect)
                    by_aspect[aspect] = (curves, refs, static)
                curves, refs, static = by_aspect[aspect]
                zoned, one_values = within_zone(curves, static, clip, zone_in, zone_end, self.secs(1))
                composition = Clip(
                    "", Fraction(0), Fraction(0), curves=zoned, static=one_values, param_refs=refs, effects=effects
                )
                compose_into(clip, composition, static_interp="linear")

    def app(self) -> tuple[str | None, str | None]:
        """Shotcut writes ``title="Shotcut version X"``; Kdenlive its version in the main bin."""
        title = (self.root.get("title") or "").strip()
        if title.lower().startswith("shotcut"):
            return "Shotcut", title.split("version", 1)[1].strip() or None if "version" in title else None
        bin_ = self.main_bin()
        version = property_text(bin_, "kdenlive:docproperties.kdenliveversion") if bin_ is not None else None
        if version is not None or (
            bin_ is not None and property_text(bin_, "kdenlive:docproperties.version") is not None
        ):
            return "Kdenlive", (version or "").strip() or None
        return None, None

    def span(self, el: etree._Element, where: str, default: int) -> int:
        """Frames a tractor or track plays: ``out - in + 1`` when it says, else ``default``."""
        out = self.frames(el.get("out"), where)
        if out is None:
            return default
        return max(0, out - self.frames(el.get("in"), where, 0) + 1)

    def producer_length(self, el: etree._Element, where: str) -> int:
        if el.tag == "playlist":
            return self.playlist_length(el, where)
        return self.span(el, where, 0)

    def link_groups(self, tractor: etree._Element, by_position: dict[int, Track], where: str) -> None:
        """Kdenlive's AVSplit groups (JSON ``track:frame`` leaves) link a clip's picture and sound."""
        text = property_text(tractor, "kdenlive:sequenceproperties.groups")
        if text is None:
            bin_ = self.main_bin()
            text = property_text(bin_, "kdenlive:docproperties.groups") if bin_ is not None else None
        if not text or not text.strip() or len(text) > 10**7:
            return
        try:
            groups = json.loads(text)
        except ValueError:
            return  # a damaged group list only loses the links
        starts = {
            (pos, self.mixed.get(id(clip), round(clip.start * self.rate))): clip
            for pos, track in by_position.items()
            for clip in track.clips
        }
        stack = list(groups) if isinstance(groups, list) else []
        while stack:
            node = stack.pop()
            if not isinstance(node, dict):
                continue
            children = node.get("children") if isinstance(node.get("children"), list) else []
            if node.get("type") != "AVSplit":
                stack.extend(children)
                continue
            leaves = []
            for leaf in children:
                data = leaf.get("data") if isinstance(leaf, dict) else None
                track, _, frame = (data or "").partition(":")
                if track.isdigit() and frame.lstrip("-").isdigit() and len(track) + len(frame) < 20:
                    clip = starts.get((int(track), int(frame)))
                    if clip is not None:
                        leaves.append((data, clip))
            if len(leaves) > 1:
                group = min(data for data, _ in leaves)
                for _, clip in leaves:
                    clip.link_group = group

    def read_track(self, el: etree._Element, track_el: etree._Element, where: str) -> tuple[Track, int]:
        """One timeline track and its length in frames."""
        where = f"{where}, track {el.get('id')}"
        if el.tag == "tractor":  # Kdenlive: a tractor of two playlists
            playlists = [self.ids.get(t.get("producer") or "") for t in el.iterchildren("track")]
            playlists = [p for p in playlists if p is not None and p.tag == "playlist"]
            hides = [t.get("hide") for t in el.iterchildren("track")]
            audio = property_text(el, "kdenlive:audio_track") == "1" or (
                bool(hides) and all(h == "video" for h in hides)
            )
            name = property_text(el, "kdenlive:track_name")
        else:
            playlists, hides = [el], [track_el.get("hide")]
            # Shotcut says the kind; a hidden video track is hide="video" as every audio track is
            audio = property_text(el, "shotcut:audio") == "1" or (
                property_text(el, "shotcut:video") != "1" and hides[0] == "video"
            )
            name = property_text(el, "shotcut:name")
        kind = "audio" if audio else "video"
        # MLT's hide: "video" hides the picture, "audio" mutes, "both" both (a hidden video track, a muted audio one)
        enabled = not hides or not all(h in ("both", "audio" if audio else "video") for h in hides)
        clips: list[Clip] = []
        track_end = 0
        by_playlist = []
        for playlist in playlists:
            by_playlist.append(self.read_playlist(playlist, kind, where))
            clips += by_playlist[-1]
            track_end = max(track_end, self.playlist_length(playlist, where))
        if el.tag == "tractor":
            self.resolve_mixes(el, by_playlist, where)
        # Track filters (Shotcut playlist filters, Kdenlive track-tractor filters): track time.
        track_filters = list((el if el.tag == "tractor" else playlists[0]).iterchildren("filter"))
        track_len = self.span(el, where, track_end) if el.tag == "tractor" else track_end
        self.apply_filters(track_filters, clips, kind, track_len, where)
        clips.sort(key=lambda c: c.start)
        track = Track(
            kind=kind, index=0, clips=clips, enabled=enabled, name=(name or "").strip() or None, xml_path=self.path(el)
        )
        return track, track_len

    def playlist_length(self, playlist: etree._Element, where: str) -> int:
        pos = 0
        for item in playlist:
            if item.tag == "blank":
                pos += self.frames(item.get("length"), where, 0)
            elif item.tag == "entry":
                pos += self.entry_length(item, where)
        return pos

    def entry_length(self, entry: etree._Element, where: str) -> int:
        producer = self.ids.get(entry.get("producer") or "")
        p_in = self.frames(producer.get("in"), where, 0) if producer is not None else 0
        p_out = self.frames(producer.get("out"), where, 0) if producer is not None else 0
        e_in = self.frames(entry.get("in"), where, p_in)
        e_out = self.frames(entry.get("out"), where, p_out)
        return max(0, e_out - e_in + 1)  # out is inclusive

    def read_playlist(self, playlist: etree._Element, kind: str, where: str) -> list[Clip]:
        where = f"{where}, playlist {playlist.get('id')}"
        clips: list[Clip] = []
        pos = 0
        pending: int | None = None  # length of a Shotcut transition tractor just passed
        for item in playlist:
            if item.tag == "blank":
                length = self.frames(item.get("length"), where, 0)
                if length < 0:
                    raise self.error(where, f"negative blank length {item.get('length')}")
                pos += length
                pending = None
                continue
            if item.tag != "entry":
                continue
            ewhere = f"{where}, entry {len(clips) + 1}"
            producer = self.ids.get(item.get("producer") or "")
            if producer is None:
                raise self.error(ewhere, f"unknown producer {item.get('producer')!r}")
            length = self.entry_length(item, ewhere)
            e_in = self.frames(item.get("in"), ewhere, self.frames(producer.get("in"), ewhere, 0))
            if producer.tag == "tractor" and self.prop(producer, "shotcut:transition"):
                # The transition overlaps both neighbours: they meet at its middle. Its tracks play the
                # first one's frames after its out and the second one's before its in.
                if clips and clips[-1].end == self.secs(pos):
                    clips[-1].end += Fraction(length, 2) / self.rate
                    clips[-1].source_out += Fraction(length, 2) / self.rate
                    clips[-1].transition_out = self.secs(length)
                pending = length
                pos += length
                continue
            start = pos
            source = self.source(producer, ewhere)
            clip = Clip(
                name=self.clip_name(producer, item),
                start=self.secs(start),
                end=self.secs(start + length),
                source_in=self.secs(e_in),
                media_kind=self.media_kind(producer, kind),
                clip_id=item.get("producer") or "",
                **source.clip_fields(),
                speed=source.speed,
                time_remap=source.remap,
                xml_path=self.path(item),
            )
            if pending is not None:
                clip.start -= Fraction(pending, 2) / self.rate
                clip.source_in -= Fraction(pending, 2) / self.rate
                clip.transition_in = self.secs(pending)
            pending = None
            # Source-domain filters: the entry's own (Kdenlive clip effects), then the producer's.
            filters = list(item.iterchildren("filter")) + list(producer.iterchildren("filter"))
            if filters:
                aspect = self.picture_aspect(source.width, source.height, source.pixel_aspect)
                if aspect is None and (self.prop(producer, "mlt_service") or "").lower() in ("color", "colour"):
                    aspect = self.width / self.height  # a colour clip is the frame's shape
                p_len = self.frames(producer.get("out"), ewhere, e_in + length - 1) + 1
                p_len -= self.frames(producer.get("in"), ewhere, 0)
                clip.curves = self.curves(
                    filters,
                    0,
                    p_len,
                    lambda f, s=start, i=e_in: self.secs(s + f - i),
                    kind,
                    ewhere,
                    clip.param_refs,
                    clip.static,
                    aspect,
                )
                clip.effects = [n for n in map(effect_name, filters) if n is not None]
            clips.append(clip)
            pos += length
        return clips


def read_mlt(root: etree._Element, name: str) -> list[Timeline]:
    """Read the top-level tractors of an MLT document (``root`` from ``safe_parse``)."""
    return _Reader(root, name).read()
