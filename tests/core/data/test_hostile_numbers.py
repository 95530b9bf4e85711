"""Hostile numbers in every timing and value field of all three dialects: a TimelineError naming
the file, never a hang. ``Fraction("1e999999999")`` builds a billion-digit power and never
returns, so before the size checks these cases hung the reader (no timing is asserted: a
regression shows as a test that does not finish)."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from core.data.formats import read_bytes
from core.data.formats._numbers import MAX_DENOMINATOR, NumberError, exact, ratio
from core.data.timeline import TimelineError

HOSTILE = {
    "exp-huge": "1e999999999",
    "exp-tiny": "1e-999999999",
    "neg-exp": "-2.5E+999999999",
    "10k-digits": "9" * 10_000,
    "10k-decimals": "0." + "3" * 10_000,
    "ratio-10k": "1/" + "7" * 10_000,
}

XMEML = (
    '<xmeml version="4"><sequence id="s"><name>n</name><duration>{duration}</duration>'
    "<rate><timebase>{timebase}</timebase></rate><media><video><format><samplecharacteristics>"
    "<width>{width}</width><height>1080</height></samplecharacteristics></format><track>"
    '<clipitem id="c"><name>c</name><start>{start}</start><end>{end}</end><in>{in_}</in><out>{out}</out>'
    "<filter><effect><effectid>basic</effectid><parameter><parameterid>scale</parameterid>"
    "<keyframe><when>{when}</when><value>{value}</value></keyframe>"
    "<keyframe><when>10</when><value>50</value></keyframe></parameter></effect></filter>"
    "</clipitem></track></video></media></sequence></xmeml>"
)
XMEML_OK = dict(
    duration="25", timebase="25", width="1920", start="0", end="25", in_="0", out="25", when="0", value="100"
)

FCPXML = (
    '<fcpxml version="1.9"><resources><format id="f" frameDuration="{frame}" width="{width}" height="1080"/>'
    '<asset id="a" hasVideo="1" hasAudio="1" format="f" duration="100s"/></resources>'
    '<library><event><project name="p"><sequence format="f" duration="{duration}" tcStart="{tc}"><spine>'
    '<asset-clip ref="a" offset="{offset}" start="{start}" duration="{clip_duration}">'
    '<adjust-volume><param name="amount" keyValues="0dB; {value}dB" keyTimes="0s; {keytime}"/></adjust-volume>'
    '<adjust-transform><param name="scale"><keyframeAnimation><keyframe time="{kftime}" value="1 1"/>'
    '<keyframe time="2s" value="{scale} 1"/></keyframeAnimation></param></adjust-transform>'
    '<title ref="a" lane="{lane}" offset="0s" duration="1s"/>'
    "</asset-clip></spine></sequence></project></event></library></fcpxml>"
)
FCPXML_OK = dict(
    frame="1/25s", width="1920", duration="10s", tc="0s", offset="0s", start="0s", clip_duration="10s",
    value="-6", keytime="1s", kftime="0s", scale="1", lane="1",
)  # fmt: skip

MLT = (
    '<mlt><profile frame_rate_num="{num}" frame_rate_den="1" width="{width}" height="1080"/>'
    '<producer id="p" in="0" out="{p_out}"><property name="resource">a.mp4</property></producer>'
    '<playlist id="pl"><blank length="{blank}"/><entry producer="p" in="{in_}" out="{out}">'
    '<filter><property name="mlt_service">volume</property><property name="level">{time}=0;50={value}</property>'
    "</filter></entry></playlist>"
    '<tractor id="t"><track producer="pl"/></tractor></mlt>'
)
MLT_OK = dict(num="25", width="1920", p_out="99", blank="0", in_="0", out="49", time="0", value="-6")


def _cases(template: str, ok: dict) -> list:
    return [pytest.param(template, ok, field, name, id=f"{field}-{name}") for field in ok for name in HOSTILE]


@pytest.mark.parametrize(
    "template, ok", [(XMEML, XMEML_OK), (FCPXML, FCPXML_OK), (MLT, MLT_OK)], ids=["xmeml", "fcpxml", "mlt"]
)
def test_templates_read_when_sane(template, ok):
    assert read_bytes(template.format(**ok).encode(), "sane.xml")


@pytest.mark.parametrize(
    "template, ok, field, name", _cases(XMEML, XMEML_OK) + _cases(FCPXML, FCPXML_OK) + _cases(MLT, MLT_OK)
)
def test_hostile_number_is_a_timeline_error(template, ok, field, name):
    data = template.format(**{**ok, field: HOSTILE[name]}).encode()
    if name == "exp-tiny":
        # Where a field is read as a float (values, MLT positions) 1e-999999999 is just 0.0 and
        # harmless; exact fields refuse the exponent. Either way it must end at once.
        try:
            read_bytes(data, "hostile.xml")
        except TimelineError as e:
            assert e.path == "hostile.xml"
        return
    with pytest.raises(TimelineError) as info:
        read_bytes(data, "hostile.xml")
    assert info.value.path == "hostile.xml"
    assert len(str(info.value)) < 400  # the message quotes a prefix, never the 10,000 digits


def test_exact_parses_what_real_files_write():
    assert exact("224.429", 10**12) == Fraction(224429, 1000)
    assert exact("294294343/35280000", 10**9) == Fraction(294294343, 35280000)
    assert exact("-2.5e3", 10**9) == -2500
    assert exact("000.000", 10) == 0
    third = exact("0." + "3" * 40, 10)  # 42 characters: allowed, denominator bounded
    assert third.denominator <= MAX_DENOMINATOR and abs(third - Fraction(1, 3)) < Fraction(1, 10**12)


@pytest.mark.parametrize("text", ["1e999999999", "9" * 100, "1e31", "12e", "1/0", "", ".", "--1", "0x10"])
def test_exact_refuses(text):
    with pytest.raises(NumberError):
        exact(text, 10**12)


def test_exact_range_is_checked_on_the_digits():
    assert exact("9" * 12, 10**12) == 10**12 - 1
    with pytest.raises(NumberError):
        exact("1" + "0" * 13, 10**12)
    with pytest.raises(NumberError):
        exact("0.0001e17", 10**12)  # 1e13


def test_fast_ratio_is_the_fraction():
    # the readers' fast exact constructor must give exactly Fraction(n, d): same value, terms, hash and type
    rng = random.Random(7)
    cases = [(0, 1), (6, 4), (-6, 4), (30000, 1001), (10**12 * 1001, 30000)]
    cases += [(rng.randint(-(10**15), 10**15), rng.randint(1, 10**9)) for _ in range(2000)]
    for n, d in cases:
        fast, slow = ratio(n, d), Fraction(n, d)
        assert type(fast) is Fraction and (fast.numerator, fast.denominator) == (slow.numerator, slow.denominator)
        assert fast == slow and hash(fast) == hash(slow) and fast + 1 == slow + 1
