"""What every reader promises on every real export (realworld and production): exact times in
range, video tracks before audio, plain-JSON output, the same from bytes as from the file; the fields
are typed and in range, unknown is None rather than 0, and a static value is exactly a parameter
the file sets to one value (so downstream can tell static from animated)."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from lxml import etree

from core.data.formats import read_bytes, read_file, read_root
from core.data.formats._xml import DocumentReader, make_parser, safe_parse
from core.data.timeline import INTERPOLATIONS, MEDIA_KINDS, PARAMS
from tests.conftest import corpus_params
from tests.core.data._corpus import TIMELINE_FILES


def _positive_int_or_none(v) -> bool:
    return v is None or (type(v) is int and v > 0)


@pytest.mark.parametrize("path", corpus_params(TIMELINE_FILES))
def test_structure(path):
    timelines = read_file(path)
    assert timelines
    for tl in timelines:
        assert tl.dialect == path.parent.name and tl.source == str(path)  # the corpora keep a folder per dialect
        assert tl.rate > 0 and tl.duration > 0 and tl.tracks
        kinds = [t.kind for t in tl.tracks]
        assert kinds == sorted(kinds, key=("video", "audio").index)  # video first, then audio
        for _, clip in tl.iter_clips():
            assert isinstance(clip.start, Fraction) and isinstance(clip.end, Fraction)
            assert clip.start <= clip.end <= tl.duration
            assert clip.media_kind in MEDIA_KINDS
            for curve in clip.curves.values():
                assert len(curve) >= 1
                assert all(isinstance(k.time, Fraction) and k.interp in INTERPOLATIONS for k in curve.keys)
    assert [tl.to_json() for tl in read_bytes(path.read_bytes(), str(path))] == [tl.to_json() for tl in timelines]


@pytest.mark.parametrize("path", corpus_params(TIMELINE_FILES))
def test_dropping_blanks_changes_nothing(path):
    """The readers parse with the whitespace between elements dropped (for speed); read from a tree that
    keeps every blank, each export gives the same timelines, field for field (exact times and all)."""
    data, name = path.read_bytes(), str(path)
    root = etree.fromstring(data, make_parser())
    assert any(el.tail and not el.tail.strip() for el in root.iter())  # the blanks are there to be dropped
    assert read_root(root, data, name) == read_bytes(data, name)  # the dataclasses, exact times and all


@pytest.mark.parametrize("path", corpus_params(TIMELINE_FILES))
def test_fields_and_static_values(path):
    for tl in read_file(path):
        assert type(tl.size_known) is bool and tl.dialect_version
        assert tl.pixel_aspect is None or 0.1 < tl.pixel_aspect < 10
        for track in tl.tracks:
            assert track.name is None or (isinstance(track.name, str) and track.name)
        for _, clip in tl.iter_clips():
            assert _positive_int_or_none(clip.source_width) and _positive_int_or_none(clip.source_height)
            assert clip.source_pixel_aspect is None or 0.1 < clip.source_pixel_aspect < 10
            assert clip.source_rate is None or (isinstance(clip.source_rate, Fraction) and clip.source_rate > 0)
            assert clip.audio_channels is None or (type(clip.audio_channels) is int and clip.audio_channels >= 0)
            assert _positive_int_or_none(clip.source_channel)
            assert clip.file_ext is None or (clip.file_ext.startswith(".") and clip.file_ext == clip.file_ext.lower())
            assert isinstance(clip.speed, float) and math.isfinite(clip.speed)  # 0: a freeze frame (NGxx13_Lego)
            assert type(clip.time_remap) is bool
            assert all(isinstance(e, str) and e for e in clip.effects)
            assert clip.gain_db is None or math.isfinite(clip.gain_db)
            assert set(clip.param_refs) <= set(PARAMS) | {"gain_db"}
            assert set(clip.static) <= set(PARAMS) and set(clip.curves) <= set(PARAMS)
            for param, value in clip.static.items():
                assert math.isfinite(value)
                curve = clip.curves.get(param)
                # static: one value; its curve (if any: not at the default) is that one key
                assert curve is None or [k.value for k in curve.keys] == pytest.approx([value])
                if curve is None:
                    assert abs(value - PARAMS[param][0]) <= 1e-9, f"{param}: static {value} but no curve"
            for param, curve in clip.curves.items():
                if len(curve) > 1:
                    assert param not in clip.static


@pytest.mark.parametrize("path", corpus_params(TIMELINE_FILES))
def test_paths_named_by_sibling_count_are_lxmls_own(path):
    """The readers name an element's place by counting its siblings once per parent (``DocumentReader.path``),
    not by lxml's ``getpath``, which is quadratic in a long playlist or spine: the same strings."""
    root = safe_parse(path.read_bytes(), str(path))
    reader, getpath = DocumentReader(root, str(path)), root.getroottree().getpath
    elements = list(root.iter(tag=etree.Element))[:3000]  # the first 3,000 of the biggest production files
    assert [reader.path(el) for el in elements] == [getpath(el) for el in elements]
