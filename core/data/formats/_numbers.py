"""Numbers from untrusted text, checked for size *before* any exact arithmetic.

``Fraction("1e999999999")`` builds ``10**999999999`` and never returns, and a 10,000-digit
integer makes every later sum slow, so a reader never hands file text to ``Fraction`` or ``int``
directly: it goes through ``exact`` (or ``check_length`` before ``int``/``float``). The limits
are far beyond any real export (the longest number in the corpus has 20 characters, the
largest exponent is none at all) and keep every later Fraction sum small.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

MAX_CHARS = 64  # characters in one number ("294294343/35280000s" is 19)
MAX_EXPONENT = 30  # |e| of a decimal exponent
MAX_VALUE = 1e12  # |value| of a parameter: far beyond any real scale, level or position
MAX_DENOMINATOR = 10**12  # exact values keep denominators below this (finer than any clock in use)

_DECIMAL = re.compile(r"([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?")
_RATIO = re.compile(r"([+-]?\d+)/(\d+)")


class NumberError(ValueError):
    """The text is not a usable number; ``str()`` says why (the reader adds file and place)."""


def check_length(text: str) -> str:
    """``text`` stripped, or NumberError when it is too long to be a real number."""
    s = text.strip()
    if len(s) > MAX_CHARS:
        raise NumberError(f"{s[:20]}... has {len(s)} characters: not a real number")
    return s


def exact(text: str, max_abs: int) -> Fraction:
    """The exact value of a decimal (``12``, ``-0.5``, ``2.5e3``) or ratio (``N/D``) string.

    Raises NumberError when the text is not a number, too long, or its magnitude exceeds
    ``max_abs``; all checks happen on the digits, before any big power is built. Denominators
    are kept below MAX_DENOMINATOR (a closer fraction is taken beyond it).
    """
    s = check_length(text)
    m = _RATIO.fullmatch(s)
    if m is not None:
        num, den = int(m.group(1)), int(m.group(2))
        if den == 0:
            raise NumberError(f"{s!r} has a zero denominator")
        value = Fraction(num, den)
    else:
        m = _DECIMAL.fullmatch(s)
        if m is None or not (m.group(2) or m.group(3)):
            raise NumberError(f"{s!r} is not a number")
        sign, whole, frac, exp = m.group(1), m.group(2) or "", m.group(3) or "", m.group(4)
        e = int(exp) if exp else 0
        if abs(e) > MAX_EXPONENT:
            raise NumberError(f"{s!r} has an absurd exponent")
        digits = (whole + frac).lstrip("0")
        if not digits:
            return Fraction(0)
        # Digits before the decimal point once the exponent is applied: the magnitude, cheaply.
        before_point = len(whole.lstrip("0")) + e if whole.lstrip("0") else e - (len(frac) - len(frac.lstrip("0")))
        if before_point > len(str(max_abs)):
            raise NumberError(f"{s!r} is out of range")
        shift = e - len(frac)
        mantissa = int(whole + frac) * (-1 if sign == "-" else 1)
        value = Fraction(mantissa * 10**shift) if shift >= 0 else Fraction(mantissa, 10**-shift)
    if abs(value) > max_abs:
        raise NumberError(f"{s!r} is out of range")
    if value.denominator > MAX_DENOMINATOR:
        value = value.limit_denominator(MAX_DENOMINATOR)
    return value


def bounded_float(text: str) -> float:
    """``float(text)`` after the length check. NumberError when it is not finite or beyond MAX_VALUE;
    a plain ValueError when it is no number at all (a caller may treat that as the end of a list)."""
    value = float(check_length(text))
    if not math.isfinite(value) or abs(value) > MAX_VALUE:
        raise NumberError(f"{text.strip()[:40]} is out of range")
    return value


def leading_numbers(text: str, *, commas: bool = False) -> list[float]:
    """The numbers at the start of whitespace- (and with ``commas``, comma-) separated text, a trailing
    ``%`` or ``dB`` dropped, up to the first word ("0 0 0 0 (Use Rotation)" gives four).
    NumberError for a too-long or out-of-range number."""
    out = []
    for part in (text.replace(",", " ") if commas else text).split():
        part = part.rstrip("%")
        if part.lower().endswith("db"):
            part = part[:-2]
        try:
            out.append(bounded_float(part))
        except NumberError:
            raise
        except ValueError:
            break
    return out


def frames_to_seconds(frames: int | Fraction, rate: Fraction) -> Fraction:
    """Frames at ``rate`` to exact seconds; the integer case skips Fraction's operator dispatch."""
    if type(frames) is int:
        return ratio(frames * rate.denominator, rate.numerator)
    return frames / rate


_FROM_COPRIME = getattr(Fraction, "_from_coprime_ints", None)  # Python >= 3.12


def ratio(num: int, den: int) -> Fraction:
    """``Fraction(num, den)`` for ints with ``den > 0``, about three times faster (the readers build one per
    time): reduce with math.gcd, then skip Fraction's type dispatch and second normalisation."""
    g = math.gcd(num, den)
    if g != 1:
        num //= g
        den //= g
    if _FROM_COPRIME is not None:
        return _FROM_COPRIME(num, den)
    value = object.__new__(Fraction)  # what 3.12's Fraction._from_coprime_ints does
    value._numerator, value._denominator = num, den
    return value
