"""Write canonical timelines as Premiere-Pro-style xmeml v4.

The output imitates what Premiere Pro exports (see xml-dialects.md section 1): UTF-8 with a BOM,
``<!DOCTYPE xmeml>``, ``<sequence>`` with ``MZ.*``/``TL.*`` attributes, integer frame times in the
sequence ``<rate>`` (``<ntsc>TRUE`` for 29.97 / 23.976), ``pproTicksIn/Out``, ``<file id>`` defined
in full once and referenced by an empty ``<file id="..."/>`` afterwards, exploded stereo audio
tracks, Motion/Opacity/Audio Levels/Audio Pan filters with ``<when>`` in *source* frames, and
centre-aligned ``<transitionitem>``s whose neighbouring clip edges are written as ``-1``.

Writing is exact: every time must sit on a frame of the timeline rate (it is rounded to the
nearest frame otherwise) and values are written with ``repr`` so a reader gets back the same
float. The canonical model's one-rate-per-clip simplification is kept: every clipitem uses the
sequence rate.

Encoding choices a reader has to match (all of them are what Premiere itself does):

- a curve is written as its keyframes only (``<value>`` holds the default or the first key);
  parameters without a curve are written with their default value and no keyframe;
- a smooth key gets an outgoing Bezier handle (``<outbez>``), what makes its segment a curve in FCP 7; a key
  without one is a straight line, so each key keeps its own interpolation (``<interpolation><name>FCPCurve``
  is written too where a key is smooth, as FCP 7 writes it on keyed parameters, but says nothing by itself);
- centre is one point parameter: ``center_x`` and ``center_y`` are written together, at the
  union of their key times;
- audio level is linear gain (``core.data.timeline.db_to_gain``); -60 dB and below is written as 0;
  a clip's ``gain_db`` is written as Premiere's Audio Gain filter and Audio Levels then hold
  ``level_db - gain_db`` (the reader adds the two back; a level above the floor must stay above it);
- a ``<file>`` states its clip's ``source_width``/``source_height`` (1920x1080 where unknown),
  ``source_pixel_aspect`` by FCP7's names, ``source_rate`` and ``audio_channels`` (default 2);
- two adjacent audio tracks with identical clips are written as one exploded stereo pair;
- stills are clipitems whose ``<file>`` is an image (the ``<pathurl>`` extension says so; a still
  whose name lacks one gets ``.png`` appended, a movie named like an image gets ``.mov``);
- generators (titles, mattes) are ``<generatoritem>``s; nested sequences a clipitem holding a
  minimal ``<sequence>``.
"""

from __future__ import annotations

from fractions import Fraction
from urllib.parse import quote

from lxml import etree

from core.data.formats._source import STILL_EXTENSIONS
from core.data.formats.xmeml_elements import (
    ClipFrames,
    audio_filters,
    bool_text,
    frame_at,
    rate_element,
    sub,
    text_children,
    ticks_at,
    timecode_element,
    video_filters,
)
from core.data.timeline import Clip, Timeline, Track

BOM = b"\xef\xbb\xbf"

# Premiere's view state on every <sequence> (scroll positions, zoom start, in point): all 0 in a fresh export
SEQUENCE_VIEW_ZEROS = dict.fromkeys(
    (
        "TL__SQAudioVisibleBase",
        "TL__SQVideoVisibleBase",
        "TL__SQVisibleBaseTime",
        "TL__SQHideShyTracks",
        "Monitor__ProgramZoomIn",
        "MZ__EditLine",
        "MZ__WorkInPoint",
    ),
    "0",
)
_AV_EXTS = (".mov", ".mp4", ".mxf", ".avi")
_STILL_DURATION_FRAMES = 1_080_000  # Premiere gives stills a 12 h (at 25 fps) media duration
_GENERATOR_DURATION_FRAMES = 1_035_764  # what Premiere writes for synthetic media (slugs, mattes)
# Source pixel aspect -> (FCP7 <pixelaspectratio> name, <anamorphic>), the reader's table inverted
_PIXEL_ASPECTS = {
    1.0: ("square", False),
    round(16 / 15, 6): ("PAL-601", False),
    round(64 / 45, 6): ("PAL-601", True),
    0.9: ("NTSC-601", False),
    1.2: ("NTSC-601", True),
    round(4 / 3, 6): ("HD-(1440x1080)", False),
    1.5: ("HD-(1280x1080)", False),
}


# --- the document --------------------------------------------------------------------------------


class _Writer:
    """State shared by all sequences of one document: id counters and the files already defined."""

    def __init__(self) -> None:
        self.n_clip = 0
        self.n_seq = 0
        self.files: dict[tuple[str, str], str] = {}  # (name, kind) -> file id
        self.file_frames: dict[tuple[str, str], int] = {}  # media length needed by every use
        self.defined: set[str] = set()  # file ids already written in full

    # Ids are document-wide so several sequences in one <project> never collide.
    def clip_id(self) -> str:
        self.n_clip += 1
        return f"clipitem-{self.n_clip}"

    def sequence(self, parent: etree._Element, tl: Timeline) -> None:
        self.n_seq += 1
        rate = Fraction(tl.rate)
        dur = frame_at(tl.duration, rate)
        ticks = str(ticks_at(dur, rate))
        seq = sub(
            parent,
            "sequence",
            id=f"sequence-{self.n_seq}",
            **SEQUENCE_VIEW_ZEROS,
            TL__SQAVDividerPosition="0.5",
            TL__SQHeaderWidth="184",
            Monitor__ProgramZoomOut=ticks,
            MZ__Sequence__PreviewFrameSizeHeight=str(tl.height),
            MZ__Sequence__PreviewFrameSizeWidth=str(tl.width),
            MZ__Sequence__AudioTimeDisplayFormat="200",
            MZ__Sequence__VideoTimeDisplayFormat="101",
            MZ__Sequence__EditingModeGUID="795454d9-d3c2-429d-9474-923ab13b7018",
            MZ__WorkOutPoint=ticks,
            explodedTracks="true",
        )
        sub(seq, "uuid", f"00000000-0000-4000-8000-{self.n_seq:012d}")
        sub(seq, "duration", dur)
        rate_element(seq, rate)
        sub(seq, "name", tl.name)
        media = sub(seq, "media")
        video = sub(media, "video")
        sc = sub(sub(video, "format"), "samplecharacteristics")
        rate_element(sc, rate)
        text_children(sc, width=tl.width, height=tl.height, anamorphic="FALSE", pixelaspectratio="square")
        text_children(sc, fielddominance="none", colordepth=24)
        for track in tl.video_tracks:
            self.track(video, track, rate, tl)
        audio = sub(media, "audio")
        sub(audio, "numOutputChannels", 2)
        asc = sub(sub(audio, "format"), "samplecharacteristics")
        text_children(asc, depth=16, samplerate=48000)
        atracks = tl.audio_tracks
        pair_of = _stereo_pairs(atracks)
        for i, track in enumerate(atracks):
            self.track(audio, track, rate, tl, exploded=pair_of.get(i), audio_index=i)
        timecode_element(seq, rate)
        sub(sub(seq, "labels"), "label2", "Forest")

    def track(
        self,
        parent: etree._Element,
        track: Track,
        rate: Fraction,
        tl: Timeline,
        exploded: int | None = None,
        audio_index: int = 0,
    ) -> None:
        attrs = {
            "TL.SQTrackShy": "0",
            "TL.SQTrackExpandedHeight": "25",
            "TL.SQTrackExpanded": "0",
            "MZ.TrackTargeted": "1",
        }
        if track.kind == "audio":
            stereo = exploded is not None
            attrs.update(
                {
                    "TL.SQTrackAudioKeyframeStyle": "0",
                    "PannerCurrentValue": "0.5",
                    "PannerIsInverted": "true",
                    "PannerName": "Balance" if stereo else "Pan",
                    "currentExplodedTrackIndex": str(exploded or 0),
                    "totalExplodedTrackCount": "2" if stereo else "1",
                    "premiereTrackType": "Stereo" if stereo else "Mono",
                }
            )
            if not stereo:
                attrs["monotrack"] = "TRUE"
        el = etree.SubElement(parent, "track", attrs)
        clips = sorted(track.clips, key=lambda c: c.start)
        for i, clip in enumerate(clips):
            prev = clips[i - 1] if i > 0 else None
            nxt = clips[i + 1] if i + 1 < len(clips) else None
            # A transition belongs to the cut between two abutting clips; it is written once, before
            # the clip that starts at the cut, as Premiere does.
            head = _transition_frames(prev, clip, rate)
            if head:
                self.transition(el, clip.start, head, rate, track.kind)
            tail = _transition_frames(clip, nxt, rate)
            self.item(el, clip, rate, track.kind, head, tail, exploded)
        sub(el, "enabled", bool_text(track.enabled))
        sub(el, "locked", "FALSE")
        if track.kind == "audio":
            sub(el, "outputchannelindex", (exploded or 0) + 1)

    def transition(self, parent: etree._Element, cut: Fraction, length: int, rate: Fraction, kind: str) -> None:
        half = length // 2
        c = frame_at(cut, rate)
        tr = sub(parent, "transitionitem")
        sub(tr, "start", c - half)
        sub(tr, "end", c - half + length)
        sub(tr, "alignment", "center")
        sub(tr, "cutPointTicks", ticks_at(half, rate))
        rate_element(tr, rate)
        e = sub(tr, "effect")
        if kind == "video":
            for tag, text in (
                ("name", "Cross Dissolve"),
                ("effectid", "Cross Dissolve"),
                ("effectcategory", "Dissolve"),
                ("effecttype", "transition"),
                ("mediatype", "video"),
                ("wipecode", 0),
                ("wipeaccuracy", 100),
                ("startratio", 0),
                ("endratio", 1),
                ("reverse", "FALSE"),
            ):
                sub(e, tag, text)
        else:
            for tag, text in (
                ("name", "Cross Fade (+3dB)"),
                ("effectid", "KGAudioTransCrossFade3dB"),
                ("effectcategory", "Dissolve"),
                ("effecttype", "transition"),
                ("mediatype", "audio"),
            ):
                sub(e, tag, text)

    def item(
        self,
        parent: etree._Element,
        clip: Clip,
        rate: Fraction,
        kind: str,
        head: int,
        tail: int,
        exploded: int | None,
    ) -> None:
        start, end = frame_at(clip.start, rate), frame_at(clip.end, rate)
        src_in = frame_at(clip.source_in, rate)
        src_out = src_in + (end - start)
        # Inside a centre-aligned transition Premiere writes -1 and extends in/out to the
        # transition's edge; the cut point sits half a transition away.
        x_in = src_in - head // 2 if head else src_in
        x_out = src_out + (tail - tail // 2) if tail else src_out
        if x_in < 0:
            raise ValueError(f"clip {clip.name!r}: source in {src_in} frames leaves no handle for its transition")
        cf = ClipFrames(clip, rate)
        mk = clip.media_kind
        if mk == "generator":
            item = sub(parent, "generatoritem", id=self.clip_id())
            sub(item, "name", clip.name)
            sub(item, "enabled", bool_text(clip.enabled))
            sub(item, "duration", max(_GENERATOR_DURATION_FRAMES, x_out))
            sub(item, "start", -1 if head else start)
            sub(item, "end", -1 if tail else end)
            sub(item, "in", x_in)
            sub(item, "out", x_out)
            rate_element(item, rate)
            title = any(w in clip.name.lower() for w in ("title", "text", "lower third"))
            e = sub(item, "effect")
            sub(e, "name", "Text" if title else "Color")
            sub(e, "effectid", "Text" if title else "Color")
            sub(e, "effectcategory", "Text" if title else "Matte")
            sub(e, "effecttype", "generator")
            sub(e, "mediatype", "video")
            video_filters(item, clip, cf)
            return
        item = sub(parent, "clipitem", id=self.clip_id(), frameBlend="FALSE")
        if kind == "audio":
            item.set("premiereChannelType", "stereo" if exploded is not None else "mono")
        sub(item, "masterclipid", f"masterclip-{self._file_key_index(clip, kind)}")
        sub(item, "name", clip.name)
        sub(item, "enabled", bool_text(clip.enabled))
        media_frames = self._media_frames(clip, kind, x_out)
        sub(item, "duration", media_frames)
        rate_element(item, rate)
        sub(item, "start", -1 if head else start)
        sub(item, "end", -1 if tail else end)
        sub(item, "in", x_in)
        sub(item, "out", x_out)
        sub(item, "pproTicksIn", ticks_at(x_in, rate))
        sub(item, "pproTicksOut", ticks_at(x_out, rate))
        if kind == "video":
            sub(item, "alphatype", "straight" if mk == "still" else "none")
            sub(item, "pixelaspectratio", "square")
            sub(item, "anamorphic", "FALSE")
        if mk == "sequence":
            self.nested(item, clip, rate, media_frames)
        else:
            self.file(item, clip, kind, rate, media_frames)
        if kind == "audio":
            st = sub(item, "sourcetrack")
            sub(st, "mediatype", "audio")
            sub(st, "trackindex", (exploded or 0) + 1)
            audio_filters(item, clip, cf)
        else:
            video_filters(item, clip, cf)
        li = sub(item, "logginginfo")
        for tag in ("description", "scene", "shottake", "lognote"):
            sub(li, tag, "")
        sub(sub(item, "labels"), "label2", "Iris" if kind == "video" else "Caribbean")

    def _file_key(self, clip: Clip, kind: str) -> tuple[str, str]:
        """A source's identity: its name and what it holds. Audio cut from a video file shares its <file>."""
        if clip.media_kind == "still":
            return (clip.name, "still")
        if kind == "audio" and not clip.name.lower().endswith(_AV_EXTS):
            return (clip.name, "audio")
        return (clip.name, "av")

    def _file_key_index(self, clip: Clip, kind: str) -> int:
        key = self._file_key(clip, kind)
        if key not in self.files:
            self.files[key] = f"file-{len(self.files) + 1}"
        return int(self.files[key].split("-")[1])

    def _media_frames(self, clip: Clip, kind: str, out: int) -> int:
        if clip.media_kind == "still":
            return _STILL_DURATION_FRAMES
        # Every use of a file must fit in its media; the pre-pass stored the longest reach.
        return max(out, self.file_frames.get(self._file_key(clip, kind), out))

    def file(self, item: etree._Element, clip: Clip, kind: str, rate: Fraction, media_frames: int) -> None:
        key = self._file_key(clip, kind)
        fid = self.files[key]
        if fid in self.defined:
            sub(item, "file", id=fid)
            return
        self.defined.add(fid)
        f = sub(item, "file", id=fid)
        sub(f, "name", clip.name)
        sub(f, "pathurl", "file://localhost/Volumes/Media/Project/" + quote(_path_name(clip, key[1])))
        rate_element(f, rate)
        if clip.media_kind != "still":
            sub(f, "duration", media_frames)
        timecode_element(f, rate)
        fm = sub(f, "media")
        if clip.media_kind in ("video", "still") or key[1] == "av":
            v = sub(fm, "video")
            sc = sub(v, "samplecharacteristics")
            rate_element(sc, clip.source_rate or rate)
            par, anamorphic = _PIXEL_ASPECTS.get(round(clip.source_pixel_aspect or 1.0, 6), ("square", False))
            sub(sc, "width", clip.source_width or 1920)
            sub(sc, "height", clip.source_height or 1080)
            sub(sc, "anamorphic", bool_text(anamorphic))
            sub(sc, "pixelaspectratio", par)
            sub(sc, "fielddominance", "none")
        if clip.media_kind != "still":
            a = sub(fm, "audio")
            asc = sub(a, "samplecharacteristics")
            sub(asc, "depth", 16)
            sub(asc, "samplerate", 48000)
            sub(a, "channelcount", clip.audio_channels or 2)

    def nested(self, item: etree._Element, clip: Clip, rate: Fraction, media_frames: int) -> None:
        self.n_seq += 1
        seq = sub(item, "sequence", id=f"sequence-{self.n_seq}")
        sub(seq, "duration", media_frames)
        rate_element(seq, rate)
        sub(seq, "name", clip.name)
        sub(sub(seq, "media"), "video")

    def prepass(self, timelines: list[Timeline]) -> None:
        """Assign file ids in document order and find how long each file's media must be."""
        for tl in timelines:
            rate = Fraction(tl.rate)
            for track, clip in tl.iter_clips():
                if clip.media_kind in ("generator", "sequence"):
                    continue
                self._file_key_index(clip, track.kind)
                key = self._file_key(clip, track.kind)
                out = frame_at(clip.source_out, rate) + frame_at(max(clip.transition_out, Fraction(0)), rate)
                self.file_frames[key] = max(self.file_frames.get(key, 0), out + 1)


def _path_name(clip: Clip, what: str) -> str:
    """File name for <pathurl>: readers tell stills from movies by the extension, so make it say so."""
    is_image = clip.name.lower().endswith(tuple(STILL_EXTENSIONS))
    if what == "still" and not is_image:
        return clip.name + ".png"
    if what != "still" and is_image:
        return clip.name + (".wav" if what == "audio" else ".mov")
    return clip.name


def _transition_frames(a: Clip | None, b: Clip | None, rate: Fraction) -> int:
    """Frames of the transition at the cut between ``a`` and ``b``, 0 when there is none."""
    if a is None or b is None or a.end != b.start:
        return 0
    la, lb = frame_at(a.transition_out, rate), frame_at(b.transition_in, rate)
    if la != lb:
        if la and lb:
            raise ValueError(f"clips {a.name!r} and {b.name!r} disagree on their transition ({la} vs {lb} frames)")
        return 0
    return la


def _stereo_pairs(tracks: list[Track]) -> dict[int, int]:
    """Audio track position -> exploded channel (0/1) for adjacent tracks that carry identical clips."""
    out: dict[int, int] = {}
    i = 0
    while i + 1 < len(tracks):
        a, b = tracks[i], tracks[i + 1]
        same = len(a.clips) == len(b.clips) > 0 and all(
            (x.name, x.start, x.end, x.source_in) == (y.name, y.start, y.end, y.source_in)
            for x, y in zip(a.clips, b.clips)
        )
        if same:
            out[i], out[i + 1] = 0, 1
            i += 2
        else:
            i += 1
    return out


def write_xmeml(timelines: Timeline | list[Timeline]) -> bytes:
    """Timeline(s) -> xmeml v4 bytes. One timeline is a bare ``<sequence>``; several sit in a ``<project>``."""
    tls = [timelines] if isinstance(timelines, Timeline) else list(timelines)
    if not tls:
        raise ValueError("write_xmeml needs at least one timeline")
    w = _Writer()
    w.prepass(tls)
    root = etree.Element("xmeml", version="4")
    if len(tls) == 1:
        w.sequence(root, tls[0])
    else:
        project = sub(root, "project")
        sub(project, "name", tls[0].name)
        children = sub(project, "children")
        for tl in tls:
            w.sequence(children, tl)
    etree.indent(root, space="\t")
    body = etree.tostring(root, encoding="UTF-8", xml_declaration=False)
    return BOM + b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE xmeml>\n' + body + b"\n"
