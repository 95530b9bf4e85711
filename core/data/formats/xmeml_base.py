"""The xmeml reader's foundation: the document's id index and its typed values.

Frames, numbers and rates are read here, each checked for size before any exact arithmetic
(``core.data.formats._numbers``). The placement (``xmeml.py``), filter (``xmeml_filters.py``) and
source (``xmeml_source.py``) parts of the reader all build on this class.
"""

from __future__ import annotations

from fractions import Fraction

from lxml import etree

from core.data.formats._numbers import MAX_CHARS, MAX_VALUE, NumberError, bounded_float, exact
from core.data.formats._source import SourceInfo
from core.data.formats._xml import DocumentReader, xml_bool

MAX_FRAMES = 10**12  # about 1000 years at 30 fps: anything larger is corrupt, not a long film
MAX_TIMEBASE = 10**6  # audio timebases (48000) occur; a million is far beyond any real rate


class XmemlBase(DocumentReader):
    """The id index, the rate cache and the typed accessors of one xmeml document."""

    def __init__(self, root: etree._Element, name: str) -> None:
        super().__init__(root, name)
        # Empty <file id="x"/> and <sequence id="x"/> refer to the first full definition with that
        # id, which can sit anywhere in the document (even inside another track).
        self.rates: dict[tuple, Fraction] = {}  # (timebase text, ntsc text) -> rate
        self.sources: dict[str | etree._Element, SourceInfo] = {}
        self.effect_names: dict[tuple, tuple[str, str, bool]] = {}  # (<name>, <effectid>) texts -> normalised
        self.param_targets: dict[tuple, list | None] = {}  # (effect id, <parameterid> text) -> PARAM_MAP's entry
        self.seconds: dict = {}  # sequence frames -> seconds at the rate of the track being read (reset per track)
        self.track_ends: list = []  # per sequence: when each track's last clip ends (s)
        self.premiere = False  # per sequence: Premiere's MZ./TL. attributes or pproTicks seen
        self.resolve = False  # per sequence: "(Resolve)" in its name
        self._ids: dict[tuple[str, str], etree._Element] | None = None  # built on the first empty reference

    @property
    def ids(self) -> dict[tuple[str, str], etree._Element]:
        """(tag, id) -> the first full <file>/<sequence> with that id. Built when first needed: files that
        define every <file> in full (FCP7 v1) never need it, and the pass over them costs a few percent."""
        if self._ids is None:
            ids: dict[tuple[str, str], etree._Element] = {}
            for el in self.root.iter("file", "sequence"):
                ident = el.get("id")
                if ident and len(el) and (el.tag, ident) not in ids:
                    ids[(el.tag, ident)] = el
            self._ids = ids
        return self._ids

    def deref(self, el: etree._Element | None) -> etree._Element | None:
        if el is None or len(el):
            return el
        ident = el.get("id")
        return self.ids.get((el.tag, ident), el) if ident else el

    def frames(self, text: str | None, where: str, what: str) -> int | Fraction | None:
        """A frame count (integer, or fractional for FCP7 audio keys); None when absent."""
        if text is None:
            return None
        if len(text) <= 20:  # the common case; int() accepts surrounding whitespace
            try:
                value = int(text)
            except ValueError:
                pass
            else:
                if -MAX_FRAMES <= value <= MAX_FRAMES:
                    return value  # larger ones fall through to the exact path, which reports them
        if not text.strip():
            return None
        try:
            # Size checks before any exact arithmetic: Fraction("1e999999999") would never return.
            return exact(text, MAX_FRAMES)
        except NumberError as e:
            raise self.error(where, f"<{what}> {e}") from None

    def number(self, text: str | None, where: str, what: str) -> float | None:
        if text is None:
            return None
        if len(text) <= MAX_CHARS:  # the common case: float() skips surrounding whitespace itself
            try:
                value = float(text)
            except ValueError:
                pass  # empty or no number: the checked path below says which
            else:
                if -MAX_VALUE <= value <= MAX_VALUE:  # False for nan and inf too
                    return value
        if not text.strip():
            return None
        try:
            return bounded_float(text)
        except NumberError as e:
            raise self.error(where, f"{what} {e}") from None
        except ValueError:
            raise self.error(where, f"{what} is not a number: {text.strip()[:40]!r}") from None

    def rate(self, el: etree._Element, where: str, kids: dict | None = None) -> Fraction | None:
        """The frame rate of ``el``'s own ``<rate>`` child, or None if it has none (or a timebase of 0)."""
        rate_el = el.find("rate") if kids is None else kids.get("rate")
        if rate_el is None:
            return None
        timebase_el = ntsc_el = None
        for child in rate_el:  # two children: no dict; the first of each tag counts
            tag = child.tag
            if tag == "timebase":
                timebase_el = child if timebase_el is None else timebase_el
            elif tag == "ntsc":
                ntsc_el = child if ntsc_el is None else ntsc_el
        key = (
            None if timebase_el is None else timebase_el.text,
            None if ntsc_el is None else ntsc_el.text,
        )
        rate = self.rates.get(key)
        if rate is None:
            timebase = self.frames(key[0], where, "timebase")
            if timebase is None or timebase == 0:  # VEGAS writes a still's rate as timebase 0: none
                return None
            if not 0 < timebase <= MAX_TIMEBASE:
                raise self.error(where, f"timebase {key[0].strip()} is not a usable frame rate")
            # Never a table of standard rates: Premiere writes timebases like 29, 59 and 14.
            rate = Fraction(timebase) * (Fraction(1000, 1001) if xml_bool(key[1], False) else 1)
            self.rates[key] = rate
        return rate
