"""The MLT reader's media: what a producer's properties say about its source (``meta.media.*``, a timewarp's
speed), the clip's name and media kind (the rules are in ``mlt.py``'s docstring)."""

from __future__ import annotations

import math
import os
import re
from fractions import Fraction

from lxml import etree

from core.data.formats._numbers import MAX_VALUE, check_length
from core.data.formats._source import SourceInfo, display_aspect, file_extension, is_still_path
from core.data.formats.mlt_base import MAX_PIXELS, MltBase, count, properties, property_text, ratio

GENERATOR_SERVICES = frozenset(("color", "colour", "kdenlivetitle", "qtext", "count", "noise", "frei0r.test_pat_b"))
STILL_SERVICES = frozenset(("qimage", "pixbuf"))
IMAGE_SEQUENCE = re.compile(r"%0?\d*d|\?begin=")  # a printf-numbered image sequence (not a slideshow's .all.)


class SourceReading(MltBase):
    """Reads producers as media (mixed into the MLT reader)."""

    def picture_aspect(self, width: int | None, height: int | None, pixel_aspect: float | None) -> float | None:
        """A source picture's width / height in profile pixels (None where its size is not known)."""
        shown = display_aspect(width, height, pixel_aspect)
        return None if shown is None else shown / (self.pixel_aspect or 1.0)

    def source(self, producer: etree._Element, where: str) -> SourceInfo:
        """What a producer's ``meta.media.*`` properties (written by MLT when it probed the file)
        say about its media; producers are shared by many entries."""
        found = self.sources.get(producer)
        if found is not None:
            return found
        props = properties(producer)
        service = props.get("mlt_service", "").lower()
        speed, remap = 1.0, False
        if service == "timewarp":  # Shotcut/Kdenlive speed change: resource "SPEED:path" ("0,75" in a comma locale)
            warp = props.get("warp_speed") or props.get("resource", "").partition(":")[0]
            speed = _number(self.decimals(warp)) or 1.0
        if producer.tag == "chain" and any(
            property_text(link, "mlt_service") == "timeremap" for link in producer.iterchildren("link")
        ):
            remap = True
        width, height = count(props.get("meta.media.width")), count(props.get("meta.media.height"))
        if width is not None and not 0 < width <= MAX_PIXELS or height is not None and not 0 < height <= MAX_PIXELS:
            raise self.error(where, f"source frame size {width}x{height} is out of range")
        aspect = ratio(props.get("meta.media.sample_aspect_num"), props.get("meta.media.sample_aspect_den"))
        if aspect is None and width is not None:
            aspect = ratio(self.decimals(props.get("aspect_ratio", "")), "1")
        rate = None
        num, den = count(props.get("meta.media.frame_rate_num")), count(props.get("meta.media.frame_rate_den"))
        if num and den and num / den <= 10**6:
            rate = Fraction(num, den)
        channels = None
        index = props.get("audio_index")
        if index is not None and index.lstrip("-").isdigit() and int(index) < 0:
            channels = 0  # audio switched off
        elif index is not None and index.isdigit():
            channels = count(props.get(f"meta.media.{index}.codec.channels"))
        resource = self.resource(producer)
        ext = file_extension(resource) if service not in GENERATOR_SERVICES else None
        ident = props.get("kdenlive:id") or resource or producer.get("id")
        found = self.sources[producer] = SourceInfo(
            width=width,
            height=height,
            pixel_aspect=aspect,
            rate=rate,
            channels=channels,
            ext=ext,
            ident=ident,
            speed=speed,
            remap=remap,
        )
        return found

    def resource(self, producer: etree._Element) -> str:
        """The media a producer plays: a timewarp (speed change) names it in ``warp_resource``, or after the
        speed in ``resource`` ("2.000000:clip.mp4")."""
        resource = self.prop(producer, "warp_resource") or self.prop(producer, "resource") or ""
        if ":" in resource and not self.prop(producer, "warp_resource"):
            if (self.prop(producer, "mlt_service") or "").lower() == "timewarp":
                resource = resource.partition(":")[2]
        return resource

    def clip_name(self, producer: etree._Element, entry: etree._Element) -> str:
        for prop in ("kdenlive:clipname", "shotcut:caption"):
            value = self.prop(producer, prop)
            if value:
                return value
        resource = self.resource(producer)
        return os.path.basename(resource) if resource else entry.get("producer") or ""

    def media_kind(self, producer: etree._Element, track_kind: str) -> str:
        if producer.tag == "tractor" or self.prop(producer, "kdenlive:producer_type") == "17":
            return "sequence"
        service = (self.prop(producer, "mlt_service") or "").lower()
        if service in ("xml", "tractor", "consumer") or service.startswith("xml"):
            return "sequence"
        if service in GENERATOR_SERVICES:
            return "generator"
        resource = (self.prop(producer, "resource") or "").lower()
        if IMAGE_SEQUENCE.search(resource):  # an image sequence ("dump%05d.png?begin=100") plays as video
            return "audio" if track_kind == "audio" else "video"
        if service in STILL_SERVICES or is_still_path(resource):
            return "still"
        return "audio" if track_kind == "audio" else "video"


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(check_length(text))
    except ValueError:
        return None
    return value if math.isfinite(value) and value != 0 and abs(value) < MAX_VALUE else None
