"""The MLT reader's foundation: the producer index, the profile (rate, frame size) and positions as
MLT parses them (frames, clock and SMPTE strings), each checked for size first. The document
(``mlt.py``) and filter (``mlt_filters.py``) parts of the reader build on this class.
"""

from __future__ import annotations

import math
from fractions import Fraction

from lxml import etree

from core.data.formats._numbers import NumberError, check_length
from core.data.formats._source import SourceInfo
from core.data.formats._xml import DEFAULT_SIZE, DocumentReader

MAX_FRAMES = 10**12
MAX_PIXELS = 1 << 16
MAX_CACHED = 1 << 16  # position texts and frame counts remembered per document (a hostile file may hold millions)


class MltBase(DocumentReader):
    """The producer index, the profile and the position parsing of one MLT document."""

    def __init__(self, root: etree._Element, name: str) -> None:
        super().__init__(root, name)
        self.ids: dict[str, etree._Element] = {}
        for el in root.iter("producer", "chain", "playlist", "tractor"):
            ident = el.get("id")
            if ident and ident not in self.ids:
                self.ids[ident] = el
        profile = root.find("profile")
        if profile is None:
            raise self.error("", "no <profile>")
        num = self.int_attr(profile, "frame_rate_num")
        den = self.int_attr(profile, "frame_rate_den")
        if not num or not den or num <= 0 or den <= 0 or num / den > 10**6:
            raise self.error("profile", f"frame rate {num}/{den} is not usable")
        self.rate = Fraction(num, den)
        self.fps = num / den  # MLT converts clock strings in doubles
        size = []
        for what, default in zip(("width", "height"), DEFAULT_SIZE):
            value = self.int_attr(profile, what) or default
            if not 0 < value <= MAX_PIXELS:
                raise self.error("profile", f"frame {what} {value} is out of range")
            size.append(value)
        self.width, self.height = size
        self.stated_size = (self.int_attr(profile, "width"), self.int_attr(profile, "height"))
        self.pixel_aspect = ratio(profile.get("sample_aspect_num"), profile.get("sample_aspect_den"))
        # MLT reads numbers in the document's locale: Shotcut in a German or Czech locale writes "0,5" and
        # "00:00:01,500" in property values (keys, rects, levels)
        self.decimal_comma = _comma_locale(root.get("LC_NUMERIC") or "")
        self.sources: dict[etree._Element, SourceInfo] = {}
        # Per document: producers are shared by many entries, and positions repeat (a producer's in
        # and out, lengths, clip edges), so each is read or converted once.
        self.positions: dict[str, int] = {}  # position text -> its checked frame
        self.seconds: dict[int, Fraction] = {}  # frame -> seconds
        self.props: dict[etree._Element, dict[str, str | None]] = {}  # element -> property name -> first text
        self.mixed: dict[int, int] = {}  # id(clip) -> its playlist position (frame) where a mix moved its start

    def int_attr(self, el: etree._Element, what: str) -> int | None:
        text = el.get(what)
        if text is None or not text.strip():
            return None
        try:
            value = int(check_length(text))
        except ValueError:
            raise self.error(el.tag, f"{what} is not an integer: {text.strip()[:40]!r}") from None
        if abs(value) > MAX_FRAMES:
            raise self.error(el.tag, f"{what} {text.strip()[:40]} is absurd")
        return value

    # ---- time --------------------------------------------------------------------------------

    def frames(self, text: str | None, where: str, default: int | None = None) -> int | None:
        """A position as MLT parses it: frames, clock ``HH:MM:SS.mmm`` or SMPTE ``HH:MM:SS:FF``."""
        if text is None:
            return default
        value = self.positions.get(text)
        if value is not None:  # read and checked before
            return value
        if not text.strip():
            return default
        s = text.strip()
        try:
            check_length(s)
            if ":" not in s and ";" not in s:
                value = int(s) if s.lstrip("+-").isdigit() else int(float(s.replace(",", ".")))
            else:
                value = self.clock(s)
        except NumberError as e:
            raise self.error(where, f"time {e}") from None
        except (ValueError, OverflowError):
            raise self.error(where, f"not a time: {s[:40]!r}") from None
        if abs(value) > MAX_FRAMES:
            raise self.error(where, f"time {s[:40]} is absurd")
        if len(self.positions) < MAX_CACHED:
            self.positions[text] = value
        return value

    def clock(self, s: str) -> int:
        sign = -1 if s.startswith("-") else 1
        parts = s.lstrip("+-").replace(";", ":").split(":")
        if len(parts) == 4 or (len(parts) == 3 and "." not in parts[-1] and "," not in parts[-1] and ";" in s):
            h, m, sec, ff = (["0"] * (4 - len(parts)) + parts)[-4:]
            # MLT 7's time_code_to_frames: floor, floor, ceil and the frames (at 29.97 "00:00:17:00" is 510)
            return sign * (
                math.floor(self.fps * int(h) * 3600)
                + math.floor(self.fps * int(m) * 60)
                + math.ceil(self.fps * int(sec))
                + int(ff)
            )
        if len(parts) > 3:
            raise ValueError(s)
        h, m, sec = (["0"] * (3 - len(parts)) + parts)[-3:]
        h, m = h or "0", m or "0"  # MLT's atoi("") is 0: Shotcut's own presets write ":1.0" for one second
        seconds = float(sec.replace(",", "."))  # older files may use a decimal comma
        # round() on a float is round-half-even, as C's lrint in the default rounding mode
        return sign * (
            math.floor(self.fps * int(h) * 3600) + math.floor(self.fps * int(m) * 60) + round(self.fps * seconds)
        )

    def main_bin(self) -> etree._Element | None:
        """Kdenlive's bin playlist (``main bin``, with a space, up to 19.04), where it keeps its document's
        properties."""
        return self.ids.get("main_bin", self.ids.get("main bin"))

    def secs(self, frames: int) -> Fraction:
        value = self.seconds.get(frames)
        if value is None:
            value = Fraction(frames) / self.rate
            if len(self.seconds) < MAX_CACHED:
                self.seconds[frames] = value
        return value

    def prop(self, el: etree._Element, name: str) -> str | None:
        """A property's text for an element read many times (a producer shared by entries): its properties are
        indexed on first use. A name set twice has its last value, as MLT sets properties in order."""
        props = self.props.get(el)
        if props is None:
            props = self.props[el] = {p.get("name"): p.text for p in el.iterchildren("property")}
        return props.get(name)


# languages whose locales write a decimal comma (LC_NUMERIC "de_DE.UTF-8", "cs_CZ", "fr"...), with the locales that
# differ from their language (glibc's locale data: en_DK writes a comma; the Swiss German, French and Italian,
# most American Spanish and a few others a point)
COMMA_LANGUAGES = frozenset(
    "af az be bg bs ca cs da de el es et eu fi fo fr gl hr hu hy id is it ka kk ky lt lv mk mn nb nl nn no pl pt "
    "ro ru sk sl sq sr sv tr tt uk uz vi".split()
    + "ab agr an ast ayc br ce crh csb cv dsb eo ff fur fy hsb ht ia kab kl ku lb li lij ln mg mhr nds oc os pap "
    "quz rw sah sc se sgs szl tg wa wo".split()
    # Windows names the locale by language ("German_Germany.1252")
    + "czech danish dutch finnish french german greek hungarian italian norwegian polish portuguese romanian "
    "russian slovak spanish swedish turkish ukrainian".split()
)
COMMA_LOCALES = frozenset(("en_DK",))
POINT_LOCALES = frozenset(
    "de_CH de_LI it_CH fr_CH es_MX es_US es_PR es_DO es_GT es_HN es_NI es_PA es_SV af_ZA hy_AM uz_UZ az_IR".split()
)


def _comma_locale(name: str) -> bool:
    """Whether an LC_NUMERIC locale name writes a decimal comma."""
    base = name.strip().split(".")[0].split("@")[0]
    if base in COMMA_LOCALES or base in POINT_LOCALES:
        return base in COMMA_LOCALES
    return base.split("_")[0].lower() in COMMA_LANGUAGES


def ratio(num: str | None, den: str | None) -> float | None:
    """num/den of two short positive numbers, None when either is missing or unusable."""
    if num is None or den is None:
        return None
    try:
        n, d = float(check_length(num)), float(check_length(den))
    except ValueError:
        return None
    return n / d if n > 0 and d > 0 and math.isfinite(n / d) else None


def properties(el: etree._Element) -> dict[str, str]:
    """Every ``<property>`` of ``el``: name -> stripped text (the last one where a name repeats)."""
    return {p.get("name"): (p.text or "").strip() for p in el.iterchildren("property")}


def property_text(el: etree._Element, name: str) -> str | None:
    for p in el.iterchildren("property"):
        if p.get("name") == name:
            return p.text
    return None


def count(text: str | None) -> int | None:
    """A non-negative integer property of sane length, else None."""
    if text is None or not text.strip().isdigit() or len(text.strip()) > 12:
        return None
    return int(text)
