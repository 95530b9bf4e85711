"""Hostile and broken input: every case is a TimelineError naming the file, never a crash, and
the parser never reads a local file or the network because the document asks it to."""

from __future__ import annotations

import socket
from fractions import Fraction

import pytest

from core.data.formats import read_bytes, read_file
from core.data.formats._xml import MAX_BYTES, safe_parse
from core.data.timeline import TimelineError

SECRET = "xmlai-secret-7f3a9c"
GOOD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<xmeml version="4"><sequence id="s"><name>Tøyen</name><rate><timebase>25</timebase></rate>'
    "<media><video><track>{clip}</track></video></media></sequence></xmeml>"
)


def _clip(start="0", end="25", extra=""):
    timing = f"<start>{start}</start><end>{end}</end><in>0</in><out>25</out>"
    return f'<clipitem id="c1"><name>c</name>{timing}{extra}</clipitem>'


def _doc(clip: str = "", rate: str = "<rate><timebase>25</timebase></rate>") -> bytes:
    return GOOD.format(clip=clip).replace("<rate><timebase>25</timebase></rate>", rate).encode()


def _fails(data: bytes, name: str = "hostile.xml") -> TimelineError:
    with pytest.raises(TimelineError) as info:
        read_bytes(data, name)
    err = info.value
    assert err.path == name and str(err).startswith(f"{name}: ")
    assert SECRET not in str(err)
    return err


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


@pytest.fixture
def listener():
    """A local TCP port that records whether anything connected to it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(5)
    sock.setblocking(False)

    def connected() -> bool:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            return False
        conn.close()
        return True

    yield sock.getsockname()[1], connected
    sock.close()


def test_good_document_parses():
    (tl,) = read_bytes(_doc(_clip()), "good.xml")
    assert tl.name == "Tøyen" and tl.duration == 1


def test_blanks_between_elements_dropped_and_blank_content_kept():
    root = safe_parse(b"<a>\n  <b> </b>\n  <c>x</c>\n</a>", "blanks.xml")
    assert root.text is None and [el.tail for el in root] == [None, None]  # indentation dropped
    assert [el.text for el in root] == [" ", "x"]  # an element's whole content stays, blank or not
    kept = safe_parse(b"<a>\n  <b> </b>\n</a>", "blanks.xml", keep_comments=True)  # the writers' parse
    assert kept.text == "\n  " and kept[0].tail == "\n"


@pytest.mark.parametrize("target", ["file:///etc/passwd", "SECRET_FILE"])
def test_external_entity_refused(target, secret_file):
    url = secret_file.as_uri() if target == "SECRET_FILE" else target
    data = GOOD.format(clip=_clip()).replace("<name>Tøyen", "<name>&xxe;")
    data = data.replace("\n", f'\n<!DOCTYPE xmeml [<!ENTITY xxe SYSTEM "{url}">]>\n', 1).encode()
    err = _fails(data)
    assert "external entity declared" in err.reason and "refused" in err.reason
    assert "root:" not in str(err)


def test_billion_laughs_refused():
    lol = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{"&lol{};".format(i - 1 if i > 1 else "") * 10}">' for i in range(1, 10)
    )
    data = f'<?xml version="1.0"?><!DOCTYPE xmeml [{lol}]><xmeml><sequence><name>&lol9;</name></sequence></xmeml>'
    assert "entity declared" in _fails(data.encode()).reason


def test_parameter_entity_refused(secret_file):
    data = (
        f'<?xml version="1.0"?><!DOCTYPE xmeml [<!ENTITY % pe SYSTEM "{secret_file.as_uri()}"> %pe;]>'
        "<xmeml><sequence/></xmeml>"
    )
    assert "refused" in _fails(data.encode()).reason


def test_dtd_by_url_never_fetched(listener):
    port, connected = listener
    for doctype in (
        f'<!DOCTYPE xmeml SYSTEM "http://127.0.0.1:{port}/xmeml.dtd">',
        f'<!DOCTYPE xmeml PUBLIC "-//x//y" "http://127.0.0.1:{port}/xmeml.dtd">',
        f'<!DOCTYPE xmeml [<!ENTITY e SYSTEM "http://127.0.0.1:{port}/e">]>',
        f'<!DOCTYPE xmeml [<!ENTITY % p SYSTEM "http://127.0.0.1:{port}/p"> %p;]>',
    ):
        data = GOOD.format(clip=_clip()).replace("\n", "\n" + doctype, 1).encode()
        assert "refused" in _fails(data).reason
    assert not connected(), "the parser connected to the URL named in the document"


def test_local_dtd_never_read(secret_file):
    # Even when the DTD would define the entity, it is not loaded: the reference stays undefined.
    secret_file.write_text(f'<!ENTITY s "{SECRET}">')
    data = f'<?xml version="1.0"?><!DOCTYPE xmeml SYSTEM "{secret_file.as_uri()}"><xmeml>&s;</xmeml>'
    _fails(data.encode())


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty file"),
        (b"\x00" * 64, "empty file"),
        (_doc(_clip())[:80], "not well-formed XML"),
        (b"this is not xml at all", "not well-formed XML"),
        (bytes(range(256)) * 16, "not well-formed XML"),
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "not well-formed XML"),
        (b"<xmeml><sequence></xmeml>", "not well-formed XML"),
        (b"<html><body/></html>", "unknown timeline format"),
        (b'<xmeml version="4"><project><children/></project></xmeml>', "no <sequence> found"),
        (b"<xmeml>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</xmeml>", "depth"),
        (_doc().replace(b"UTF-8", b"X-NO-SUCH-CODEC"), "encoding"),
        (b'<?xml version="1.0"?><fcpxml version="1.9"/>', "no <project><sequence> found"),
        (b'<?xml version="1.0"?><mlt/>', "no <profile>"),
    ],
    ids=[
        "empty",
        "nul-bytes",
        "truncated",
        "text",
        "binary",
        "png",
        "unclosed",
        "html",
        "no-sequence",
        "huge-depth",
        "unknown-codec",
        "fcpxml",
        "mlt",
    ],
)
def test_broken_input(data, reason):
    assert reason.lower() in _fails(data).reason.lower()


def test_latin1_bytes_that_claim_utf8():
    assert "encoding" in _fails(_doc().decode().encode("latin-1")).reason


def test_utf8_bytes_that_claim_utf16():
    _fails(_doc().replace(b"UTF-8", b"UTF-16"))


def test_honest_or_bom_marked_encodings_read_correctly():
    # The bytes decide when they are unambiguous (a UTF-16 BOM), and the name survives exactly.
    honest_latin1 = _doc().decode().replace("UTF-8", "ISO-8859-1").encode("latin-1")
    for data in (honest_latin1, _doc().decode().encode("utf-16"), b"\xef\xbb\xbf" + _doc().replace(b"\n", b"\r\n")):
        (tl,) = read_bytes(data, "enc.xml")
        assert tl.name == "Tøyen"


def test_size_cap(tmp_path):
    with pytest.raises(TimelineError, match="too large"):
        safe_parse(b" " * (MAX_BYTES + 1), "big.xml")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(TimelineError, match="cannot read file") as info:
        read_file(tmp_path / "nope.xml")
    assert info.value.path == str(tmp_path / "nope.xml")
    with pytest.raises(TimelineError, match="cannot read file"):
        read_file(tmp_path)


@pytest.mark.parametrize(
    "rate, clip, reason",
    [
        ("<rate><timebase>0</timebase></rate>", "", "timebase 0"),
        ("<rate><timebase>-25</timebase></rate>", "", "timebase -25"),
        ("<rate><timebase>NaN</timebase></rate>", "", "not a number"),
        ("<rate><timebase>1e308</timebase></rate>", "", "absurd"),
        ("", "", "no <rate>"),
        (None, _clip(start="1e308"), "absurd"),
        (None, _clip(end="inf"), "not a number"),
        (None, _clip(end=""), "missing <start> or <end>"),
        (None, _clip(extra="<rate><timebase>-1</timebase></rate>"), "timebase -1"),
        (None, _clip(start="-1", end="-1"), "-1"),
    ],
    ids=["tb0", "tb-neg", "tb-nan", "tb-1e308", "no-rate", "start-1e308", "end-inf", "no-end", "clip-tb0", "both--1"],
)
def test_absurd_timing(rate, clip, reason):
    data = _doc(clip, rate) if rate is not None else _doc(clip)
    assert reason in _fails(data).reason


@pytest.mark.parametrize("value", ["NaN", "inf", "1e308", "abc"])
def test_absurd_parameter_values(value):
    param = f"<parameter><parameterid>scale</parameterid><value>{value}</value></parameter>"
    clip = _clip(extra=f"<filter><effect><effectid>basic</effectid>{param}</effect></filter>")
    err = _fails(_doc(clip))
    assert "clipitem c1" in err.reason and "basic/scale" in err.reason


def test_negative_clip_duration_is_clamped_not_a_crash():
    # Real files have end < start (dnpr6370211); such an item never plays: a zero-length clip.
    (tl,) = read_bytes(_doc(_clip(start="50", end="10")), "neg.xml")
    (track,) = tl.tracks
    assert [(c.start, c.end) for c in track.clips] == [(2, 2)]


def test_empty_sequence_is_an_empty_timeline():
    (tl,) = read_bytes(_doc(), "empty.xml")
    assert tl.duration == 0 and [len(t.clips) for t in tl.tracks] == [0]
    assert tl.rate == Fraction(25)


def test_sequence_that_nests_itself_does_not_loop():
    data = (
        b'<xmeml><sequence id="s"><rate><timebase>25</timebase></rate><media><video><track>'
        b'<clipitem id="c"><start>0</start><end>5</end><sequence id="s"/></clipitem>'
        b"</track></video></media></sequence></xmeml>"
    )
    (tl,) = read_bytes(data, "self.xml")
    assert [c.media_kind for _, c in tl.iter_clips()] == ["sequence"]


def test_entities_refused_in_utf16_too(secret_file):
    # The byte-level precheck cannot see UTF-16; the parsed DTD is checked as well.
    doc = f'<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE xmeml [<!ENTITY x SYSTEM "{secret_file.as_uri()}">]>'
    err = _fails((doc + "<xmeml><sequence><name>&x;</name></sequence></xmeml>").encode("utf-16"))
    assert "external entity declared" in err.reason
    err = _fails('<!DOCTYPE xmeml [<!ENTITY a "b">]><xmeml>&a;</xmeml>'.encode("utf-16"))
    assert "entity declared" in err.reason
