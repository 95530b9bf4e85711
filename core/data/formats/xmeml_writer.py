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
- ``<interpolation><name>FCPCurve`` marks a parameter whose keys are smooth (xmeml has one
  interpolation per parameter, so a curve's keys share one);
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

import math
from collections.abc import Iterable
from fractions import Fraction
from urllib.parse import quote

from lxml import etree

from core.data.formats._source import STILL_EXTENSIONS
from core.data.timeline import LEVEL_FLOOR_DB, PARAMS, Clip, Curve, Timeline, Track, db_to_gain

TICKS_PER_SECOND = 254_016_000_000  # Premiere's pproTicks clock
BOM = b"\xef\xbb\xbf"

_AV_EXTS = (".mov", ".mp4", ".mxf", ".avi")
_STILL_DURATION_FRAMES = 1_080_000  # Premiere gives stills a 12 h (at 25 fps) media duration
_GENERATOR_DURATION_FRAMES = 1_035_764  # what Premiere writes for synthetic media (slugs, mattes)
GAIN_EFFECT_ID = "{61756678, 4761696e, 4b657947}"  # Premiere's Audio Gain, as Premiere writes it
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


# --- small helpers -------------------------------------------------------------------------------


def _num(v: float) -> str:
    """Shortest exact text for a float: integers without a dot (as Premiere), else ``repr``."""
    v = float(v)
    if not math.isfinite(v):
        raise ValueError(f"cannot write non-finite value {v!r}")
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def _frames(t: Fraction, rate: Fraction) -> int:
    """Seconds -> nearest integer frame at ``rate`` (exact when ``t`` is on the frame grid)."""
    return round(Fraction(t) * rate)


def _ticks(frames: int, rate: Fraction) -> int:
    return round(Fraction(frames) / rate * TICKS_PER_SECOND)


def _sub(parent: etree._Element, tag: str, text: object = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, tag, {k.replace("__", "."): v for k, v in attrs.items()})
    if text is not None:
        el.text = str(text)
    return el


def _bool(b: bool) -> str:
    return "TRUE" if b else "FALSE"


def _rate(parent: etree._Element, rate: Fraction) -> None:
    timebase, ntsc = _timebase(rate)
    r = _sub(parent, "rate")
    _sub(r, "timebase", timebase)
    _sub(r, "ntsc", _bool(ntsc))


def _timebase(rate: Fraction) -> tuple[int, bool]:
    """xmeml (timebase, ntsc) for an exact rate; 30000/1001 -> (30, True)."""
    rate = Fraction(rate)
    if rate.denominator == 1:
        return rate.numerator, False
    tb = rate * Fraction(1001, 1000)
    if tb.denominator != 1:
        raise ValueError(f"rate {rate} is neither integral nor NTSC (n*1000/1001)")
    return tb.numerator, True


def _timecode(parent: etree._Element, rate: Fraction) -> None:
    tc = _sub(parent, "timecode")
    _rate(tc, rate)
    _, ntsc = _timebase(rate)
    _sub(tc, "string", "00;00;00;00" if ntsc else "00:00:00:00")
    _sub(tc, "frame", 0)
    _sub(tc, "displayformat", "DF" if ntsc else "NDF")


# --- curves -> filters ---------------------------------------------------------------------------


def _interp_tag(param: etree._Element, curves: Iterable[Curve]) -> None:
    if any(k.interp == "smooth" for c in curves for k in c.keys):
        _sub(_sub(param, "interpolation"), "name", "FCPCurve")


def _is_static(curve: Curve | None, cf: _ClipFrames, default: float) -> bool:
    """One key on the clip's first frame with a non-default value: a reader gives it back from <value>."""
    if curve is None or len(curve.keys) != 1:
        return False
    k = curve.keys[0]
    return k.interp == "linear" and cf.when(k.time) == cf.source_in and abs(k.value - default) > 1e-9


class _ClipFrames:
    """Frame arithmetic of one clipitem: where timeline time t lands in source frames (``when``)."""

    def __init__(self, clip: Clip, rate: Fraction) -> None:
        self.rate = rate
        self.start = _frames(clip.start, rate)
        self.source_in = _frames(clip.source_in, rate)

    def when(self, t: Fraction) -> int:
        # Premiere measures keyframes in source frames: when = in + (t - start) * rate, with
        # in/start of the *resolved* (cut point) edge; the -1 edges shift both by the same amount.
        return self.source_in + _frames(t, self.rate) - self.start


def _scalar_param(
    effect: etree._Element,
    pid: str,
    name: str,
    vmin: float,
    vmax: float,
    default: float,
    curve: Curve | None,
    cf: _ClipFrames,
    to_file=lambda v: v,
) -> None:
    p = _sub(effect, "parameter", authoringApp="PremierePro")
    _sub(p, "parameterid", pid)
    _sub(p, "name", name)
    _sub(p, "valuemin", _num(vmin))
    _sub(p, "valuemax", _num(vmax))
    keys = curve.keys if curve is not None else []
    _sub(p, "value", _num(to_file(keys[0].value if keys else default)))
    if _is_static(curve, cf, default):
        keys = []  # Premiere writes a set-but-not-animated parameter as a bare <value>
    for k in keys:
        kf = _sub(p, "keyframe")
        _sub(kf, "when", cf.when(k.time))
        _sub(kf, "value", _num(to_file(k.value)))
    if curve is not None:
        _interp_tag(p, [curve])


def _center_param(effect: etree._Element, cx: Curve | None, cy: Curve | None, cf: _ClipFrames) -> None:
    p = _sub(effect, "parameter", authoringApp="PremierePro")
    _sub(p, "parameterid", "center")
    _sub(p, "name", "Center")
    curves = [c for c in (cx, cy) if c is not None and c.keys]
    times = sorted({k.time for c in curves for k in c.keys})
    static = len(curves) == 2 and all(_is_static(c, cf, 0.0) for c in curves)

    def point(parent: etree._Element, t: Fraction | None) -> None:
        v = _sub(parent, "value")
        _sub(v, "horiz", _num(cx.value_at(t) if cx is not None and cx.keys and t is not None else 0.0))
        _sub(v, "vert", _num(cy.value_at(t) if cy is not None and cy.keys and t is not None else 0.0))

    point(p, times[0] if times else None)
    for t in [] if static else times:
        kf = _sub(p, "keyframe")
        _sub(kf, "when", cf.when(t))
        point(kf, t)
    if curves:
        _interp_tag(p, curves)


def _effect(filt_parent: etree._Element, name: str, effectid: str, category: str, mediatype: str) -> etree._Element:
    effect = _sub(_sub(filt_parent, "filter"), "effect")
    _sub(effect, "name", name)
    _sub(effect, "effectid", effectid)
    _sub(effect, "effectcategory", category)
    _sub(effect, "effecttype", category if mediatype == "audio" else "motion")
    _sub(effect, "mediatype", mediatype)
    return effect


def _video_filters(item: etree._Element, clip: Clip, cf: _ClipFrames) -> None:
    c = clip.curves
    if any(p in c for p in ("scale", "rotation", "center_x", "center_y")):
        e = _effect(item, "Basic Motion", "basic", "motion", "video")
        _scalar_param(e, "scale", "Scale", 0, 1000, PARAMS["scale"][0], c.get("scale"), cf)
        _scalar_param(e, "rotation", "Rotation", -8640, 8640, PARAMS["rotation"][0], c.get("rotation"), cf)
        _center_param(e, c.get("center_x"), c.get("center_y"), cf)
        p = _sub(e, "parameter", authoringApp="PremierePro")
        _sub(p, "parameterid", "centerOffset")
        _sub(p, "name", "Anchor Point")
        v = _sub(p, "value")
        _sub(v, "horiz", 0)
        _sub(v, "vert", 0)
    if "opacity" in c:
        e = _effect(item, "Opacity", "opacity", "motion", "video")
        _scalar_param(e, "opacity", "opacity", 0, 100, PARAMS["opacity"][0], c["opacity"], cf)


def _audio_filters(item: etree._Element, clip: Clip, cf: _ClipFrames) -> None:
    c = clip.curves
    gain = clip.gain_db or 0.0
    if clip.gain_db is not None:
        # Premiere's Audio Gain; a reader adds it to the volume, so Audio Levels get level - gain.
        p = _sub(_effect(item, "Gain", GAIN_EFFECT_ID, "filter", "audio"), "parameter", authoringApp="PremierePro")
        for tag, text in (("parameterid", "Gain(dB)"), ("name", "Gain(dB)"), ("valuemin", -96), ("valuemax", 96)):
            _sub(p, tag, text)
        _sub(p, "value", _num(gain))
    if "level_db" in c:
        e = _effect(item, "Audio Levels", "audiolevels", "audiolevels", "audio")
        _scalar_param(
            e,
            "level",
            "Level",
            0,
            3.98109,
            PARAMS["level_db"][0],
            c["level_db"],
            cf,
            to_file=lambda v: db_to_gain(v if v <= LEVEL_FLOOR_DB else v - gain),
        )
    if "pan" in c:
        e = _effect(item, "Audio Pan", "audiopan", "audiopan", "audio")
        _scalar_param(e, "pan", "Pan", -1, 1, PARAMS["pan"][0], c["pan"], cf)


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
        dur = _frames(tl.duration, rate)
        ticks = str(_ticks(dur, rate))
        seq = _sub(
            parent,
            "sequence",
            id=f"sequence-{self.n_seq}",
            TL__SQAudioVisibleBase="0",
            TL__SQVideoVisibleBase="0",
            TL__SQVisibleBaseTime="0",
            TL__SQAVDividerPosition="0.5",
            TL__SQHideShyTracks="0",
            TL__SQHeaderWidth="184",
            Monitor__ProgramZoomOut=ticks,
            Monitor__ProgramZoomIn="0",
            MZ__EditLine="0",
            MZ__Sequence__PreviewFrameSizeHeight=str(tl.height),
            MZ__Sequence__PreviewFrameSizeWidth=str(tl.width),
            MZ__Sequence__AudioTimeDisplayFormat="200",
            MZ__Sequence__VideoTimeDisplayFormat="101",
            MZ__Sequence__EditingModeGUID="795454d9-d3c2-429d-9474-923ab13b7018",
            MZ__WorkOutPoint=ticks,
            MZ__WorkInPoint="0",
            explodedTracks="true",
        )
        _sub(seq, "uuid", f"00000000-0000-4000-8000-{self.n_seq:012d}")
        _sub(seq, "duration", dur)
        _rate(seq, rate)
        _sub(seq, "name", tl.name)
        media = _sub(seq, "media")
        video = _sub(media, "video")
        sc = _sub(_sub(video, "format"), "samplecharacteristics")
        _rate(sc, rate)
        _sub(sc, "width", tl.width)
        _sub(sc, "height", tl.height)
        _sub(sc, "anamorphic", "FALSE")
        _sub(sc, "pixelaspectratio", "square")
        _sub(sc, "fielddominance", "none")
        _sub(sc, "colordepth", 24)
        for track in tl.video_tracks:
            self.track(video, track, rate, tl)
        audio = _sub(media, "audio")
        _sub(audio, "numOutputChannels", 2)
        asc = _sub(_sub(audio, "format"), "samplecharacteristics")
        _sub(asc, "depth", 16)
        _sub(asc, "samplerate", 48000)
        atracks = tl.audio_tracks
        pair_of = _stereo_pairs(atracks)
        for i, track in enumerate(atracks):
            self.track(audio, track, rate, tl, exploded=pair_of.get(i), audio_index=i)
        _timecode(seq, rate)
        _sub(_sub(seq, "labels"), "label2", "Forest")

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
        _sub(el, "enabled", _bool(track.enabled))
        _sub(el, "locked", "FALSE")
        if track.kind == "audio":
            _sub(el, "outputchannelindex", (exploded or 0) + 1)

    def transition(self, parent: etree._Element, cut: Fraction, length: int, rate: Fraction, kind: str) -> None:
        half = length // 2
        c = _frames(cut, rate)
        tr = _sub(parent, "transitionitem")
        _sub(tr, "start", c - half)
        _sub(tr, "end", c - half + length)
        _sub(tr, "alignment", "center")
        _sub(tr, "cutPointTicks", _ticks(half, rate))
        _rate(tr, rate)
        e = _sub(tr, "effect")
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
                _sub(e, tag, text)
        else:
            for tag, text in (
                ("name", "Cross Fade (+3dB)"),
                ("effectid", "KGAudioTransCrossFade3dB"),
                ("effectcategory", "Dissolve"),
                ("effecttype", "transition"),
                ("mediatype", "audio"),
            ):
                _sub(e, tag, text)

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
        start, end = _frames(clip.start, rate), _frames(clip.end, rate)
        src_in = _frames(clip.source_in, rate)
        src_out = src_in + (end - start)
        # Inside a centre-aligned transition Premiere writes -1 and extends in/out to the
        # transition's edge; the cut point sits half a transition away.
        x_in = src_in - head // 2 if head else src_in
        x_out = src_out + (tail - tail // 2) if tail else src_out
        if x_in < 0:
            raise ValueError(f"clip {clip.name!r}: source in {src_in} frames leaves no handle for its transition")
        cf = _ClipFrames(clip, rate)
        mk = clip.media_kind
        if mk == "generator":
            item = _sub(parent, "generatoritem", id=self.clip_id())
            _sub(item, "name", clip.name)
            _sub(item, "enabled", _bool(clip.enabled))
            _sub(item, "duration", max(_GENERATOR_DURATION_FRAMES, x_out))
            _sub(item, "start", -1 if head else start)
            _sub(item, "end", -1 if tail else end)
            _sub(item, "in", x_in)
            _sub(item, "out", x_out)
            _rate(item, rate)
            title = any(w in clip.name.lower() for w in ("title", "text", "lower third"))
            e = _sub(item, "effect")
            _sub(e, "name", "Text" if title else "Color")
            _sub(e, "effectid", "Text" if title else "Color")
            _sub(e, "effectcategory", "Text" if title else "Matte")
            _sub(e, "effecttype", "generator")
            _sub(e, "mediatype", "video")
            _video_filters(item, clip, cf)
            return
        item = _sub(parent, "clipitem", id=self.clip_id(), frameBlend="FALSE")
        if kind == "audio":
            item.set("premiereChannelType", "stereo" if exploded is not None else "mono")
        _sub(item, "masterclipid", f"masterclip-{self._file_key_index(clip, kind)}")
        _sub(item, "name", clip.name)
        _sub(item, "enabled", _bool(clip.enabled))
        media_frames = self._media_frames(clip, kind, x_out)
        _sub(item, "duration", media_frames)
        _rate(item, rate)
        _sub(item, "start", -1 if head else start)
        _sub(item, "end", -1 if tail else end)
        _sub(item, "in", x_in)
        _sub(item, "out", x_out)
        _sub(item, "pproTicksIn", _ticks(x_in, rate))
        _sub(item, "pproTicksOut", _ticks(x_out, rate))
        if kind == "video":
            _sub(item, "alphatype", "straight" if mk == "still" else "none")
            _sub(item, "pixelaspectratio", "square")
            _sub(item, "anamorphic", "FALSE")
        if mk == "sequence":
            self.nested(item, clip, rate, media_frames)
        else:
            self.file(item, clip, kind, rate, media_frames)
        if kind == "audio":
            st = _sub(item, "sourcetrack")
            _sub(st, "mediatype", "audio")
            _sub(st, "trackindex", (exploded or 0) + 1)
            _audio_filters(item, clip, cf)
        else:
            _video_filters(item, clip, cf)
        li = _sub(item, "logginginfo")
        for tag in ("description", "scene", "shottake", "lognote"):
            _sub(li, tag, "")
        _sub(_sub(item, "labels"), "label2", "Iris" if kind == "video" else "Caribbean")

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
            _sub(item, "file", id=fid)
            return
        self.defined.add(fid)
        f = _sub(item, "file", id=fid)
        _sub(f, "name", clip.name)
        _sub(f, "pathurl", "file://localhost/Volumes/Media/Project/" + quote(_path_name(clip, key[1])))
        _rate(f, rate)
        if clip.media_kind != "still":
            _sub(f, "duration", media_frames)
        _timecode(f, rate)
        fm = _sub(f, "media")
        if clip.media_kind in ("video", "still") or key[1] == "av":
            v = _sub(fm, "video")
            sc = _sub(v, "samplecharacteristics")
            _rate(sc, clip.source_rate or rate)
            par, anamorphic = _PIXEL_ASPECTS.get(round(clip.source_pixel_aspect or 1.0, 6), ("square", False))
            _sub(sc, "width", clip.source_width or 1920)
            _sub(sc, "height", clip.source_height or 1080)
            _sub(sc, "anamorphic", _bool(anamorphic))
            _sub(sc, "pixelaspectratio", par)
            _sub(sc, "fielddominance", "none")
        if clip.media_kind != "still":
            a = _sub(fm, "audio")
            asc = _sub(a, "samplecharacteristics")
            _sub(asc, "depth", 16)
            _sub(asc, "samplerate", 48000)
            _sub(a, "channelcount", clip.audio_channels or 2)

    def nested(self, item: etree._Element, clip: Clip, rate: Fraction, media_frames: int) -> None:
        self.n_seq += 1
        seq = _sub(item, "sequence", id=f"sequence-{self.n_seq}")
        _sub(seq, "duration", media_frames)
        _rate(seq, rate)
        _sub(seq, "name", clip.name)
        _sub(_sub(seq, "media"), "video")

    def prepass(self, timelines: list[Timeline]) -> None:
        """Assign file ids in document order and find how long each file's media must be."""
        for tl in timelines:
            rate = Fraction(tl.rate)
            for track, clip in tl.iter_clips():
                if clip.media_kind in ("generator", "sequence"):
                    continue
                self._file_key_index(clip, track.kind)
                key = self._file_key(clip, track.kind)
                out = _frames(clip.source_out, rate) + _frames(max(clip.transition_out, Fraction(0)), rate)
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
    la, lb = _frames(a.transition_out, rate), _frames(b.transition_in, rate)
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
        project = _sub(root, "project")
        _sub(project, "name", tls[0].name)
        children = _sub(project, "children")
        for tl in tls:
            w.sequence(children, tl)
    etree.indent(root, space="\t")
    body = etree.tostring(root, encoding="UTF-8", xml_declaration=False)
    return BOM + b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE xmeml>\n' + body + b"\n"
