"""The xmeml reader's media: what a clipitem's ``<file>`` (or nested sequence) says about its source,
and the clip's media kind (the rules are in ``xmeml.py``'s docstring).
"""

from __future__ import annotations

from lxml import etree

from core.data.formats._source import NO_SOURCE, SourceInfo, file_extension, is_still_path
from core.data.formats._xml import child_map, first_text, first_two, kid_text, xml_bool
from core.data.formats.xmeml_base import XmemlBase
from core.data.timeline import Clip

MAX_PIXELS = 1 << 16
MAX_CHANNELS = 1024
GENERATOR_SOURCES = frozenset(("slug", "graphicandtype"))  # Premiere's synthetic media


class SourceReading(XmemlBase):
    """Reads ``<file>`` and nested-sequence media (mixed into the xmeml reader)."""

    def frame_size(self, chars: dict | None, where: str) -> tuple[int | None, int | None]:
        """(width, height) of a ``<samplecharacteristics>`` (its child dict), None where it does not say."""
        if chars is None:
            return None, None
        return self.dimension(chars.get("width"), where, "width"), self.dimension(chars.get("height"), where, "height")

    def dimension(self, el: etree._Element | None, where: str, what: str) -> int | None:
        """Pixels of a ``<width>`` or ``<height>`` element (None when absent or empty)."""
        value = self.number(None if el is None else el.text, where, what)
        if value is None:
            return None
        if not 0 < value <= MAX_PIXELS:
            raise self.error(where, f"frame {what} {value:g} is out of range")
        return int(value)

    def source(self, file_el: etree._Element, where: str) -> SourceInfo:
        """What a ``<file>`` says about the media; files are shared by many clipitems (FCP7 v1
        files define one per clipitem, so this runs often: child dicts, not ElementPath)."""
        ident = file_el.get("id")
        key = ident or file_el  # repeated full definitions of one id are one file
        found = self.sources.get(key)
        if found is not None:
            return found
        kids = child_map(file_el)
        get = kids.get
        media = get("media")
        video = chars = chars_kids = None
        channels = None
        streams: list[int] = []
        source_el = get("mediaSource")
        kind = ""
        if source_el is not None and (source_el.text or "").strip().lower() in GENERATOR_SOURCES:
            kind = "generator"
        if media is not None:
            # One <audio> per source track, each with its channel count (1 when it has none).
            for child in media:
                tag = child.tag
                if tag == "video":
                    if video is None:
                        video = child
                elif tag == "audio":
                    count = self.frames(first_text(child, "channelcount"), where, "channelcount")
                    streams.append(int(count) if count is not None and 0 < count <= MAX_CHANNELS else 1)
            channels = sum(streams)
        if video is not None:
            # <samplecharacteristics> (and <stillframe>, which Premiere writes after it): one pass
            chars, still_el = first_two(video, "samplecharacteristics", "stillframe")
            if chars is not None:
                chars_kids = child_map(chars)
            if not kind and still_el is not None and xml_bool(still_el.text, False):
                kind = "still"
        width, height = self.frame_size(chars_kids, where)
        rate = self.rate(chars, where, chars_kids) if chars is not None else None
        if rate is None and video is not None:
            rate = self.rate(file_el, where, kids)
        path = (kid_text(kids, "pathurl") or kid_text(kids, "name") or "").strip()
        duration = kid_text(kids, "duration")
        if not kind and ((duration is not None and duration.strip() in ("0", "0.0")) or is_still_path(path)):
            kind = "still"  # a zero duration, or an image file
        # Positional: a NamedTuple's keywords cost more than the rest of the call.
        found = self.sources[key] = SourceInfo(
            width,
            height,
            pixel_aspect(chars_kids),
            rate,
            channels,
            file_extension(path),
            ident or path or None,
            kind,
            1.0,
            False,
            tuple(streams) if len(streams) > 1 else (),
        )
        return found

    def sequence_source(self, seq: etree._Element | None, where: str) -> SourceInfo:
        """A nested sequence as a clip's source: its frame size and rate."""
        if seq is None or not len(seq):
            return NO_SOURCE
        chars = seq.find("media/video/format/samplecharacteristics")
        chars = child_map(chars) if chars is not None else None
        width, height = self.frame_size(chars, where)
        return SourceInfo(
            width=width,
            height=height,
            pixel_aspect=pixel_aspect(chars),
            rate=self.rate(seq, where),
            ident=seq.get("id"),
        )

    def media(self, tag: str, kids: dict, track_kind: str, where: str) -> tuple[str, etree._Element | None, SourceInfo]:
        """(media kind, <file> child or None, what its media says) of a clipitem or generatoritem. The
        <file> may be an empty reference (``deref`` it); a known id skips the dereference."""
        if tag == "generatoritem":
            return "generator", None, NO_SOURCE
        if "sequence" in kids:
            return "sequence", None, self.sequence_source(self.deref(kids["sequence"]), where)
        file_el = kids.get("file")
        source = NO_SOURCE
        if file_el is not None:
            ident = file_el.get("id")
            # ``source`` keys its cache by id: every reference to a known id is that source.
            found = self.sources.get(ident) if ident else None
            source = found if found is not None else self.source(self.deref(file_el), where)
            if source.kind == "generator":
                return "generator", file_el, source
        if track_kind == "audio":
            return "audio", file_el, source
        if source.kind == "still" or xml_bool(kid_text(kids, "stillframe"), False):
            return "still", file_el, source
        return "video", file_el, source


def stream_channels(refs: list[tuple[Clip, int, tuple[int, ...]]]) -> None:
    """Premiere's ``sourcetrack/trackindex`` on media with several audio streams, made the flat channel.

    ``refs``: a sequence's clips on exploded tracks (``currentExplodedTrackIndex`` e) of media with
    several ``<audio>`` streams (their channel counts), each holding its trackindex t as
    ``source_channel``. Older Premiere numbers the channels flat across the streams (stream 2's L and
    R of two stereo streams are 3 and 4: e is always the channel's place in its stream), which is kept;
    newer Premiere writes the stream's number on both halves of its exploded pair (1, 1, 2, 2, ...),
    which is made flat: the channels of the streams before t, plus e, plus 1. One exporter writes a
    sequence, so the convention is decided for all of its clips at once; where both fit every clip
    (no right half seen) the flat one stays.
    """

    def flat_fits(t: int, e: int, streams: tuple[int, ...]) -> bool:
        before = 0
        for n in streams:
            if t <= before + n:
                return t - before - 1 == e
            before += n
        return False

    if all(flat_fits(c.source_channel, e, s) for c, e, s in refs):
        return
    if not all(c.source_channel <= len(s) and e < s[c.source_channel - 1] for c, e, s in refs):
        return  # neither convention fits: left as the file says
    for clip, e, streams in refs:
        clip.source_channel = sum(streams[: clip.source_channel - 1]) + e + 1


def pixel_aspect(chars: dict | None) -> float | None:
    """Pixel width / height from FCP7's ``<pixelaspectratio>`` names (FCP7's own values), given
    the child dict of a ``<samplecharacteristics>``."""
    if chars is None:
        return None
    name = (kid_text(chars, "pixelaspectratio") or "").strip().lower()
    if not name:
        return None
    if name == "square":
        return 1.0
    if "1440x1080" in name or "960x720" in name:
        return 4.0 / 3.0
    if "1280x1080" in name:
        return 1.5
    anamorphic = xml_bool(kid_text(chars, "anamorphic"), False)
    if name.startswith("ntsc"):
        return 1.2 if anamorphic else 0.9
    if name.startswith("pal"):
        return 64.0 / 45.0 if anamorphic else 16.0 / 15.0
    return None
