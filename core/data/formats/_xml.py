"""Secure XML parsing shared by every dialect reader.

Timeline files come from users, so the parser must never act on what the document asks for:
no entity expansion (billion laughs), no external entities or DTDs (file or network reads), no
huge trees. Every failure becomes a ``TimelineError`` naming the file and what is wrong.
"""

from __future__ import annotations

import re
import threading

from lxml import etree

from core.data.timeline import Timeline, TimelineError, Track

DEFAULT_SIZE = (1920, 1080)  # a frame size the file does not state (``Timeline.size_known`` False)
MAX_BYTES = 256 * 1024 * 1024  # larger than any real export by two orders of magnitude

_local = threading.local()  # lxml parsers are not thread-safe: one per thread


def make_parser(keep_comments: bool = False, drop_blanks: bool = False) -> etree.XMLParser:
    """A fresh parser with the secure options (also used by the benchmark for bare lxml).

    The options are spelled out at the call, not passed as a dict, so a reader (and the project's
    static check) sees at the call site that entities, DTDs and the network are off.
    ``keep_comments``: keep comments and processing instructions (the write-back writers edit the
    document in place and keep what they do not change); readers drop them.
    ``drop_blanks``: drop the whitespace between elements (libxml2's ``keepBlanks`` off), which the readers
    never look at: the indentation of a pretty-printed export is a text node after every element, and
    not allocating them makes lxml's parse 15-35 % faster on exports (``benchmarks/bench_parse.py``).
    Whitespace that is an element's whole content (``<name> </name>``) stays. Writers keep every blank.
    """
    return etree.XMLParser(
        resolve_entities=False,  # never expand entities, internal or external
        no_network=True,  # never fetch anything from the network
        load_dtd=False,  # never read an external DTD (a file or URL named by the document)
        dtd_validation=False,
        huge_tree=False,  # keep libxml2's limits on depth (256) and text node size
        remove_blank_text=drop_blanks,
        remove_comments=not keep_comments,
        remove_pis=not keep_comments,
        recover=False,  # a malformed file is an error, not a guess
    )


def _parser(keep_comments: bool = False) -> etree.XMLParser:
    attr = "parser_keeping_comments" if keep_comments else "parser"
    parser = getattr(_local, attr, None)
    if parser is None:
        parser = make_parser(keep_comments, drop_blanks=not keep_comments)  # a reader's parse drops blanks
        setattr(_local, attr, parser)
    return parser


def safe_parse(data: bytes, name: str, keep_comments: bool = False) -> etree._Element:
    """Parse ``data`` (the bytes of file ``name``) and return the root element.

    Raises TimelineError for oversized, empty, malformed or wrongly encoded input, and for any
    DOCTYPE that declares entities or references an external DTD.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TimelineError(name, f"expected bytes, got {type(data).__name__}")
    if len(data) > MAX_BYTES:
        raise TimelineError(name, f"file too large: {len(data)} bytes (limit {MAX_BYTES})")
    data = bytes(data)  # a copy only for a bytearray or memoryview
    if not data[:4096].strip(b" \t\r\n\x00\xef\xbb\xbf\xfe\xff"):
        raise TimelineError(name, "empty file")
    _precheck_doctype(data, name)
    try:
        # lxml honours a UTF-8/UTF-16 BOM and the declared encoding; CRLF is normalised by XML itself.
        tree = etree.ElementTree(etree.fromstring(data, _parser(keep_comments)))
    except etree.XMLSyntaxError as e:
        reason = re.sub(r",? line \d+, column \d+$", "", e.msg or "syntax error")
        raise TimelineError(name, f"not well-formed XML: line {e.lineno}: {reason}") from None
    except (ValueError, LookupError) as e:  # e.g. an unknown encoding name in the declaration
        raise TimelineError(name, f"cannot decode XML: {e}") from None
    _check_doctype(tree, name)
    root = tree.getroot()
    if root is None:
        raise TimelineError(name, "no root element")
    return root


_PROLOG_SCAN = 1 << 20  # a DOCTYPE must precede the root element; real prologs are tiny
_ENTITY_DECL = re.compile(rb"<!ENTITY\s+(?:%\s+)?([^\s>]+)\s+(SYSTEM|PUBLIC)?")


def _precheck_doctype(data: bytes, name: str) -> None:
    """Refuse entity declarations in the first _PROLOG_SCAN bytes before libxml2 sees them
    (ASCII-compatible encodings). Searched in place: no copy of the document.

    Cheaper and clearer than letting libxml2 trip its amplification guard on a billion-laughs
    file; ``_check_doctype`` repeats the check on the parsed DTD for other encodings (UTF-16).
    """
    limit = min(len(data), _PROLOG_SCAN)
    start = data.find(b"<!DOCTYPE", 0, limit)
    if start < 0:
        return
    bracket, close = data.find(b"[", start, limit), data.find(b">", start, limit)
    if close >= 0 and not 0 <= bracket < close:
        return  # no internal subset (``<!DOCTYPE xmeml>``): nothing can be declared; the rest is the document
    end = data.find(b"]>", start, limit)
    match = _ENTITY_DECL.search(data, start, end if end >= 0 else limit)
    if match:
        entity = match.group(1).decode("ascii", "replace")
        kind = "external entity" if match.group(2) else "entity"
        raise TimelineError(name, f"{kind} declared in DOCTYPE ({entity!r}): refused")


def _check_doctype(tree: etree._ElementTree, name: str) -> None:
    """Refuse documents whose DOCTYPE declares entities or points at an external DTD.

    The parser already refuses to act on them; refusing the file as a whole makes the failure
    visible instead of silently dropping text, and real exports never declare entities.
    """
    docinfo = tree.docinfo
    if docinfo.system_url or docinfo.public_id:
        raise TimelineError(name, f"external DTD referenced ({docinfo.system_url or docinfo.public_id}): refused")
    dtd = docinfo.internalDTD
    if dtd is None:
        return
    for entity in dtd.iterentities():
        if entity.system_url:
            raise TimelineError(name, f"external entity declared in DOCTYPE ({entity.name!r}): refused")
        # Internal entities are refused too: nested ones are the billion-laughs attack, and
        # iterentities() also lists parameter entities (<!ENTITY % ...>).
        raise TimelineError(name, f"entity declared in DOCTYPE ({entity.name!r}): refused")


class DocumentReader:
    """What every dialect's reader holds: the document, its file name for errors, and lxml's
    ``getpath`` (the write-back locator stored in ``Clip.xml_path`` and ``ParamRef``)."""

    def __init__(self, root: etree._Element, name: str) -> None:
        self.root = root
        self.name = name
        self.getpath = root.getroottree().getpath
        self.paths: dict[etree._Element, str] = {}  # see path()

    def path(self, el: etree._Element) -> str:
        """``getpath(el)``, without its cost in long lists: lxml counts an element's same-tag siblings before it
        on every call, so a path for each of a playlist's or a spine's thousands of children is quadratic. The
        first call for a child of a parent names all of that parent's children at once (``child_path``)."""
        known = self.paths.get(el)
        if known is not None:
            return known
        parent = el.getparent()
        kids = [] if parent is None else [c for c in parent if isinstance(c.tag, str)]
        if not kids or any(c.tag[0] == "{" for c in kids):  # the root, or names in a namespace: lxml's own
            return self.getpath(el)
        base = self.path(parent)
        totals: dict[str, int] = {}
        for c in kids:
            totals[c.tag] = totals.get(c.tag, 0) + 1
        seen: dict[str, int] = {}
        for c in kids:
            number = seen[c.tag] = seen.get(c.tag, 0) + 1
            self.paths[c] = child_path(base, c.tag, number, totals[c.tag])
        return self.paths[el]

    def error(self, where: str, reason: str) -> TimelineError:
        """A TimelineError naming the file, the place in it (may be empty) and what is wrong."""
        return TimelineError(self.name, f"{where}: {reason}" if where else reason)

    def timeline(self, el, name: str, rate, duration, tracks: list[Track], size: tuple, **more) -> Timeline:
        """The Timeline read from element ``el``, with what every dialect fills alike: the dialect (the root
        tag), the file, the root's ``version``, the element's path, and ``size`` (width, height, None where
        the file does not state it) with DEFAULT_SIZE for what is missing. ``more``: the dialect's own fields."""
        width, height = size
        return Timeline(
            name=name,
            rate=rate,
            duration=duration,
            tracks=tracks,
            width=width or DEFAULT_SIZE[0],
            height=height or DEFAULT_SIZE[1],
            size_known=bool(width and height),
            dialect=self.root.tag,
            source=self.name,
            dialect_version=(self.root.get("version") or "").strip() or None,
            xml_path=self.getpath(el),
            **more,
        )


def child_map(el: etree._Element) -> dict[str, etree._Element]:
    """First child element per tag, in one pass.

    About three times faster than repeated ``find``/``findtext`` (each of which goes through
    lxml's Python-level ElementPath and rescans the children); xmeml clipitems have 20-30 children.
    """
    kids: dict[str, etree._Element] = {}
    for child in el:
        kids.setdefault(child.tag, child)
    return kids


def child_map_gather(el: etree._Element, many: str) -> tuple[dict[str, etree._Element], list[etree._Element]]:
    """``child_map`` and every child ``many`` (an item's ``<filter>``s, a parameter's ``<keyframe>``s) from
    the same single pass: a second pass over the children costs more than the list."""
    kids: dict[str, etree._Element] = {}
    gathered = []
    for child in el:
        tag = child.tag
        if tag == many:
            gathered.append(child)
        kids.setdefault(tag, child)
    return kids, gathered


def first_two(el: etree._Element, a: str, b: str) -> tuple[etree._Element | None, etree._Element | None]:
    """The first child ``a`` and the first child ``b`` (None where absent), in one pass over a few
    children (``<sourcetrack>``'s mediatype and trackindex, ``<video>``'s samplecharacteristics and stillframe)."""
    first_a = first_b = None
    for child in el:
        tag = child.tag
        if tag == a:
            if first_a is None:
                first_a = child
        elif tag == b and first_b is None:
            first_b = child
    return first_a, first_b


def kid_text(kids: dict[str, etree._Element], tag: str) -> str | None:
    """Text of child ``tag`` in a ``child_map``, None when there is no such child."""
    child = kids.get(tag)
    return None if child is None else child.text


def first_text(el: etree._Element, tag: str) -> str | None:
    """Text of the first child ``tag``, stopping at it (for elements with many later children)."""
    for child in el:
        if child.tag == tag:
            return child.text
    return None


def child_path(parent: str, tag: str, number: int, count: int) -> str:
    """What lxml's ``getpath`` gives for the ``number``-th of ``count`` children ``tag`` of the
    element at ``parent`` (no index when it is the only one)."""
    return f"{parent}/{tag}" if count == 1 else f"{parent}/{tag}[{number}]"


def xml_bool(text: str | None, default: bool) -> bool:
    """Booleans as exports write them: TRUE/FALSE in any case (Norden-Aktuelt writes ``False``), 1/0, yes/no."""
    if text is None:
        return default
    t = text.strip().lower()
    if t in ("true", "1", "yes"):
        return True
    if t in ("false", "0", "no"):
        return False
    return default
