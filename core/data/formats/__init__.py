"""Timeline readers: bytes or a path in, canonical ``Timeline`` objects out.

``read_bytes`` sniffs the dialect from the root element, so callers never need to know which
application wrote a file. Every failure is a ``TimelineError(name, reason)``.

Limits: a file over MAX_BYTES (256 MB) is refused before it is parsed; every number is checked for size
before exact arithmetic (``_numbers``). Reading has no clock of its own: data preparation stops a file
that takes longer than ``data.file_timeout_s`` (``core.data.file_limit``), wherever the reader is.
"""

from __future__ import annotations

import contextlib
import gc
import os

from lxml import etree

from core.data.formats._xml import MAX_BYTES, safe_parse
from core.data.formats.fcpxml import read_fcpxml
from core.data.formats.mlt import read_mlt
from core.data.formats.xmeml import read_xmeml
from core.data.timeline import Timeline, TimelineError

__all__ = ["read_bytes", "read_file", "read_root", "detect_dialect", "DIALECTS"]

DIALECTS = {"xmeml": "xmeml", "fcpxml": "fcpxml", "mlt": "mlt"}  # root tag -> dialect


def detect_dialect(root: etree._Element) -> str | None:
    """The dialect of a parsed document from its root tag, or None if it is none of ours."""
    tag = root.tag if isinstance(root.tag, str) else ""
    return DIALECTS.get(etree.QName(tag).localname if tag else "")


def read_bytes(data: bytes, name: str) -> list[Timeline]:
    """Parse ``data`` (the content of file ``name``) into one Timeline per top-level sequence."""
    with _no_cyclic_gc():
        return _read(data, name)


@contextlib.contextmanager
def _no_cyclic_gc():
    """A reader builds many small objects and no reference cycles: the cyclic collector's passes over
    them are wasted work (a tenth of a parse). Off while reading, back on after (if it was on)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _read(data: bytes, name: str) -> list[Timeline]:
    return read_root(safe_parse(data, name), data, name)


def read_root(root: etree._Element, data: bytes, name: str) -> list[Timeline]:
    """The timelines of a parsed document (``root``, parsed from ``data``, the bytes of file ``name``)."""
    dialect = detect_dialect(root)
    if dialect == "xmeml":
        return read_xmeml(root, name, prolog=_prolog(data))
    if dialect == "fcpxml":
        return read_fcpxml(root, name)
    if dialect == "mlt":
        return read_mlt(root, name)
    raise TimelineError(name, f"unknown timeline format: root element <{root.tag}>")


def _prolog(data: bytes) -> bytes:
    """What comes before the root element, within the first 4 kB: where some writers sign the file in a
    comment (Lightworks), which the parser drops."""
    end = data.find(b"<xmeml", 0, 4096)
    return data[:end] if end > 0 else b""


def read_file(path: str | os.PathLike) -> list[Timeline]:
    """Read a timeline file; the size is checked before the file is loaded into memory."""
    name = os.fspath(path)
    try:
        size = os.path.getsize(name)
        if size > MAX_BYTES:
            raise TimelineError(name, f"file too large: {size} bytes (limit {MAX_BYTES})")
        with open(name, "rb") as f:
            data = f.read()
    except OSError as e:
        raise TimelineError(name, f"cannot read file: {e.strerror or e}") from None
    return read_bytes(data, name)
