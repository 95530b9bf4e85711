"""The FCPXML reader's media: what a story element holds (picture, sound, media kind), what its asset says
about the source, and its retiming (the rules are in ``fcpxml.py``'s docstring)."""

from __future__ import annotations

from fractions import Fraction

from lxml import etree

from core.data.formats._source import NO_SOURCE, SourceInfo, file_extension
from core.data.formats.fcpxml_base import STORY, FcpxmlBase

LEAVES = ("asset-clip", "ref-clip", "mc-clip", "title", "video", "audio")


class SourceReading(FcpxmlBase):
    """Reads what a clip plays (mixed into the FCPXML reader)."""

    def kinds(self, el: etree._Element) -> tuple[bool, bool, str]:
        """(has picture, has sound, media kind) of a story element from its content. A clip whose
        ``audio-channel-source``s / ``audio-role-source``s are all ``active="0"`` has its sound off."""
        has_video, has_audio, kind = self._kinds(el)
        if has_audio and sound_off(el):
            return has_video, False, kind
        return has_video, has_audio, kind

    def _kinds(self, el: etree._Element) -> tuple[bool, bool, str]:
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
            has_video, has_audio = (plays(el, kind) for kind in ("video", "audio"))
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

    # ---- source and retiming -----------------------------------------------------------------

    def source(self, el: etree._Element, where: str) -> SourceInfo:
        """What the element's asset (for a clip or sync-clip, its first content's) says about the
        media; a compound or multicam that is not flattened reports its sequence's format."""
        ref_el = el
        if el.tag in ("clip", "sync-clip"):
            ref_el = next((s for s in el.iter("asset-clip", "video", "audio") if s.get("ref")), None)
            if ref_el is None:
                return NO_SOURCE
        res = self.ids.get(ref_el.get("ref") or "")
        if res is None:
            return NO_SOURCE
        if res.tag == "media":
            inner = res.find("sequence")
            if inner is None:
                inner = res.find("multicam")
            fmt = self.ids.get(inner.get("format") or "") if inner is not None else None
            width, height = self.size(fmt, where) if fmt is not None else (None, None)
            rate, aspect = self.format_rate(fmt, where), self.pixel_aspect(fmt, where)
            return SourceInfo(width=width, height=height, pixel_aspect=aspect, rate=rate, ident=res.get("id"))
        if res.tag != "asset":
            return NO_SOURCE
        found = self.sources.get(res)
        if found is not None:
            return found
        fmt = self.ids.get(res.get("format") or "")
        width = height = rate = aspect = None
        if fmt is not None and res.get("hasVideo", "0") == "1":
            width, height = self.size(fmt, where)
            rate, aspect = self.format_rate(fmt, where), self.pixel_aspect(fmt, where)
        channels = None
        if res.get("hasAudio") is not None or res.get("audioChannels") is not None:
            count = self.numbers(res.get("audioChannels"), where, "audioChannels")
            channels = int(count[0]) if count and 0 <= count[0] <= 1024 else (0 if res.get("hasAudio") == "0" else None)
        src = res.get("src")
        if src is None:
            rep = res.find("media-rep")
            src = rep.get("src") if rep is not None else None
        found = self.sources[res] = SourceInfo(
            width=width,
            height=height,
            pixel_aspect=aspect,
            rate=rate,
            channels=channels,
            ext=file_extension(src or ""),
            ident=res.get("id"),
        )
        return found

    def source_channel(self, el: etree._Element, muted: frozenset = frozenset()) -> int | None:
        """``srcCh`` of the element, of its one ``audio-channel-source`` or of its audio content,
        when it names one channel; ``muted``: roles a sync clip switched off (``sync_audio``), whose
        components do not play."""
        sources = [c for c in el.iterchildren("audio-channel-source") if _active(c)]
        content = [a for a in el.iter("audio") if a.get("role") not in muted] if muted else el.iter("audio")
        for sub in (el, *sources[: 1 if len(sources) == 1 else 0], *content):
            text = (sub.get("srcCh") or "").strip()
            if text:
                return int(text) if text.isdigit() and 0 < len(text) <= 4 else None
        return None

    def retiming(
        self, el: etree._Element, where: str, start: Fraction, duration: Fraction, conform: Fraction
    ) -> tuple[float, bool]:
        """(speed, variable): a ``timeMap``'s slope (source time per clip time) over the range the clip plays
        (``start`` for ``duration`` of its local time), 1.0 without one, times the element's ``conform`` (see
        ``conform``: FCP plays 25p media in a 24p project frame for frame, at 0.96; the clip's ``start`` stays
        media time). Resolve writes a clip's whole speed ramp into every cut of it, each cut playing its own
        stretch."""
        speed, variable = self.time_map(el, where, start, duration)
        return speed * float(conform), variable

    def conform(self, el: etree._Element) -> Fraction:
        """Media seconds per timeline second of a rate-conformed element (1 where it is not): its local time
        (``start``, its keys' times, its connected items' offsets) is the media's."""
        cr = el.find("conform-rate")
        if cr is None or (cr.get("scaleEnabled") or "1").strip() == "0" or not self.seq_rate:
            return Fraction(1)
        return conform_speed(_frame_rate(cr.get("srcFrameRate")), self.seq_rate)

    def time_map(self, el: etree._Element, where: str, start: Fraction, duration: Fraction) -> tuple[float, bool]:
        """(speed, variable) of a ``timeMap`` over [start, start + duration] (all of it for a clip of no length):
        the slope from end to end of that range, and whether the slope changes inside it."""
        tm = el.find("timeMap")
        if tm is None:
            return 1.0, False
        points = []
        for pt in tm.iterchildren("timept"):
            t = self.time(pt.get("time"), where, "timept time")
            v = self.time(pt.get("value"), where, "timept value")
            if t is not None and v is not None:
                points.append((t, v))
        segments = [(t1, v1, t2, v2) for (t1, v1), (t2, v2) in zip(points, points[1:]) if t2 != t1]
        if not segments:
            return 1.0, False
        lo, hi = points[0][0], points[-1][0]
        if duration > 0:
            lo, hi = max(lo, start), min(hi, start + duration)
        inside = [(t1, v1, t2, v2) for t1, v1, t2, v2 in segments if t1 < hi and t2 > lo] if hi > lo else []
        if not inside:  # the range lies outside the map: the map's overall slope
            inside, lo, hi = segments, points[0][0], points[-1][0]

        def at(t: Fraction) -> Fraction:
            for t1, v1, t2, v2 in inside:
                if t1 <= t <= t2:
                    return v1 + (v2 - v1) * (t - t1) / (t2 - t1)
            return inside[0][1] if t < inside[0][0] else inside[-1][3]

        slopes = {(v2 - v1) / (t2 - t1) for t1, v1, t2, v2 in inside}
        return float((at(hi) - at(lo)) / (hi - lo)), len(slopes) > 1

    def sync_audio(self, el: etree._Element, shift: Fraction, where: str):
        """What a ``sync-clip``'s sound plays, where its ``sync-source``s switch audio roles off (a camera's scratch
        sound under a recorder's): (the first content whose roles are not all off, its time shift, the roles
        switched off for it), False when every content's are, None when the sync clip switches nothing off (its
        sound is its first content's).

        Contents, in order: the storyline's (the sync clip's lane-less children), then the clips connected to them
        (``sourceID`` "connected"; those connected to a gap too). A content's roles are its
        ``audio-channel-source`` roles, else its ``audioRole``, else its audio components' ``role``s."""
        off = {
            (source.get("sourceID"), role.get("role"))
            for source in el.iterchildren("sync-source")
            for role in source.iterchildren("audio-role-source")
            if not _active(role)
        }
        if not off:
            return None
        storyline = []  # the lane-less children, or those of a lane-less <spine> (FCP writes a storyline that way)
        for child in el:
            if child.tag == "spine" and child.get("lane") is None:
                spine_shift = self.inner_shift(child, shift, where)
                storyline += [(sub, spine_shift) for sub in child if sub.tag in STORY and sub.get("lane") is None]
            elif child.tag in STORY and child.get("lane") is None:
                storyline.append((child, shift))
        contents = []
        for child, outer in storyline:
            if child.tag != "spine":
                child_shift = self.inner_shift(child, outer, where)
                if child.tag != "gap":  # a gap holds no sound, but clips may be connected to it
                    contents.append(("storyline", child, child_shift))
                for sub in child:
                    if sub.tag in STORY and sub.tag not in ("spine", "gap") and sub.get("lane") is not None:
                        contents.append(("connected", sub, self.inner_shift(sub, child_shift, where)))
        for source_id, content, content_shift in contents:
            roles = [a.get("role") for a in content.iterchildren("audio-channel-source") if a.get("role")]
            roles = roles or ([content.get("audioRole")] if content.get("audioRole") else [])
            roles = roles or [a.get("role") for a in content.iter("audio") if a.get("role")]  # a clip's components
            if not self.kinds(content)[1]:
                continue  # no sound to play
            if not roles or any((source_id, role) not in off for role in roles):
                return content, content_shift, frozenset(role for sid, role in off if sid == source_id)
        return False


def _active(source: etree._Element) -> bool:
    """Whether an ``audio-channel-source`` / ``audio-role-source`` plays (``active``, in newer DTDs also
    ``enabled``; the default: it does)."""
    return all((source.get(a) or "1").strip() not in ("0", "false") for a in ("active", "enabled"))


def sound_off(el: etree._Element) -> bool:
    """An element whose audio channel or role sources are all switched off (a lip-synced picture whose camera
    sound is off under a song connected to it)."""
    sources = list(el.iterchildren("audio-channel-source", "audio-role-source"))
    return bool(sources) and not any(map(_active, sources))


def angle_sources(mc_clip: etree._Element) -> dict[str, etree._Element]:
    """Kind -> the ``mc-source`` of an ``mc-clip`` that picks that kind's angle: the first one with an angle whose
    ``srcEnable`` is ``all`` or that kind."""
    picked: dict[str, etree._Element] = {}
    for source in mc_clip.iterchildren("mc-source"):
        enable = (source.get("srcEnable") or "all").lower()
        if source.get("angleID") is not None:
            for kind in ("video", "audio"):
                if enable in ("all", kind):
                    picked.setdefault(kind, source)
    return picked


def plays(el: etree._Element, kind: str) -> bool:
    """Whether a ``ref-clip`` or ``mc-clip`` plays ``kind``: its ``srcEnable`` allows it and, for a multicam with
    mc-sources, one of them picks an angle for it (a multicam whose mc-sources pick none for a kind plays none)."""
    if (el.get("srcEnable") or "all").lower() not in ("all", kind):
        return False
    return next(el.iterchildren("mc-source"), None) is None or kind in angle_sources(el)


_NTSC = Fraction(1000, 1001)
# (media rate, timeline rate) -> the rate FCP plays the media at, frame for frame, where it changes the speed
# (Apple's rate conforming chart for conform-rate and Alex Gollner's listing of FCP X's automatic conforms); every
# other pair drops or repeats frames and keeps the speed
CONFORMS = {
    (24 * _NTSC, 24): 24, (24 * _NTSC, 25): 25, (24 * _NTSC, 50): 25,
    (24, 24 * _NTSC): 24 * _NTSC, (24, 25): 25, (24, 50): 25,
    (25, 24 * _NTSC): 24 * _NTSC, (25, 24): 24,
    (30 * _NTSC, 30): 30, (30, 30 * _NTSC): 30 * _NTSC, (30, 60 * _NTSC): 30 * _NTSC,
    (50, 24 * _NTSC): 48 * _NTSC, (50, 24): 48, (50, 48): 48,
    (60 * _NTSC, 60): 60, (60, 30 * _NTSC): 60 * _NTSC, (60, 60 * _NTSC): 60 * _NTSC,
}  # fmt: skip


def conform_speed(media: Fraction | None, timeline: Fraction) -> Fraction:
    """Source time per timeline second of a rate-conformed clip: 25p media in a 24p project plays at 0.96,
    23.98p media in a 59.94p project at 1 (FCP repeats frames there)."""
    target = CONFORMS.get((media, timeline)) if media else None
    return Fraction(target) / media if target else Fraction(1)


def _frame_rate(text: str | None) -> Fraction | None:
    """A ``srcFrameRate`` ("25", "23.98", "29.97", "59.94": NTSC rates are n * 1000/1001) as frames a second."""
    try:
        value = float((text or "").strip())
    except ValueError:
        return None
    if not 0 < value < 1000:
        return None
    whole = round(value)
    if abs(value - whole) < 1e-6:
        return Fraction(whole)
    ntsc = Fraction(round(value * 1001 / 1000) * 1000, 1001)
    return ntsc if abs(float(ntsc) - value) < 0.01 else Fraction(value).limit_denominator(1001)
