"""The FCPXML reader's foundation: the resource index and the typed attribute values.

Times (``N/Ds``), numbers and formats are read here, each checked for size before any exact
arithmetic (``core.data.formats._numbers``). The story (``fcpxml.py``) and effect
(``fcpxml_effects.py``) parts of the reader build on this class.
"""

from __future__ import annotations

import re
from fractions import Fraction

from lxml import etree

from core.data.formats._numbers import NumberError, check_length, exact, leading_numbers
from core.data.formats._source import SourceInfo
from core.data.formats._xml import DocumentReader

MAX_SECONDS = 10**9  # about 30 years: anything larger is corrupt
MAX_PIXELS = 1 << 16
MAX_CACHED_TIMES = 1 << 16  # distinct time texts remembered per document (a hostile file may hold millions)
# Story elements: what a spine plays and what a clip may connect (with a lane) or hold (without)
STORY = frozenset(("asset-clip", "clip", "ref-clip", "mc-clip", "sync-clip", "gap", "title", "video", "audio", "spine"))
_TIME = re.compile(r"([+-]?\d+)(?:/(\d+))?s?$")


class FcpxmlBase(DocumentReader):
    """The resource index and the typed attributes of one FCPXML document."""

    def __init__(self, root: etree._Element, name: str) -> None:
        super().__init__(root, name)
        self.ids: dict[str, etree._Element] = {}
        for res in root.iter("resources"):
            for el in res:
                ident = el.get("id")
                if ident and ident not in self.ids:
                    self.ids[ident] = el
        self.sources: dict[etree._Element, SourceInfo] = {}
        self.active: list[str] = []
        self.seq_rate: Fraction | None = None  # the sequence being read's frame rate (what a conform-rate conforms to)
        # attribute text -> its checked time: a document repeats a few (frame durations, "0s", a clip length)
        self.times: dict[str, Fraction] = {}

    # ---- typed attributes --------------------------------------------------------------------

    def time(self, text: str | None, where: str, what: str, default: Fraction | None = None) -> Fraction | None:
        """A rational time ``N/Ds`` or ``Ns`` (also ``N`` without the s, or decimal ``1.5s``) as
        exact seconds; length and magnitude are checked before any exact arithmetic."""
        if text is None:
            return default
        value = self.times.get(text)
        if value is not None:  # read and checked before
            return value
        if not text.strip():
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
        if len(self.times) < MAX_CACHED_TIMES:
            self.times[text] = value
        return value

    def inner_shift(self, child: etree._Element, shift: Fraction, where: str) -> Fraction:
        """The time shift (timeline = local time + shift) of ``child``, an element inside one whose shift is
        ``shift``: its offset in that element's time, less its own start."""
        offset = self.time(child.get("offset"), where, "offset", Fraction(0))
        return offset + shift - self.time(child.get("start"), where, "start", Fraction(0))

    def numbers(self, text: str | None, where: str, what: str) -> list[float]:
        """Whitespace-separated numbers, a unit suffix such as ``dB`` dropped; [] if absent."""
        if text is None:
            return []
        try:
            return leading_numbers(text, commas=True)
        except NumberError as e:
            raise self.error(where, f"{what} {e}") from None

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

    def pixel_aspect(self, fmt: etree._Element | None, where: str) -> float | None:
        """A ``<format>``'s ``paspH`` / ``paspV`` (FCP writes them for non-square pixels: DV PAL 59:54, HDV 4:3);
        None where it does not say."""
        if fmt is None:
            return None
        h, v = self.numbers(fmt.get("paspH"), where, "paspH"), self.numbers(fmt.get("paspV"), where, "paspV")
        if h and v and 0 < h[0] <= 100 * v[0] and 0 < v[0] <= 100 * h[0]:
            return h[0] / v[0]
        return None

    def size(self, fmt: etree._Element, where: str) -> tuple[int | None, int | None]:
        """(width, height) of a ``<format>``, None where it does not say."""
        size = []
        for what in ("width", "height"):
            values = self.numbers(fmt.get(what), where, what)
            if values and not 0 < values[0] <= MAX_PIXELS:
                raise self.error(where, f"frame {what} {values[0]:g} is out of range")
            size.append(int(values[0]) if values else None)
        return size[0], size[1]
