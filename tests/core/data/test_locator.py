"""The write-back locator: every clip, track and timeline records where it came from in the
document (lxml ``getpath``), and every parameter where it lives (``ParamRef``). Checked on every
real file: each path finds exactly one element of the expected kind, again, in a fresh parse."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from core.data.formats import read_file
from core.data.formats._xml import safe_parse
from tests.conftest import corpus_params
from tests.core.data._corpus import TIMELINE_FILES

CLIP_TAGS = {
    "xmeml": {"clipitem", "generatoritem"},
    "fcpxml": {"asset-clip", "clip", "ref-clip", "mc-clip", "sync-clip", "title", "video", "audio"},
    "mlt": {"entry"},
}
PARAM_TAGS = {"xmeml": {"parameter"}, "mlt": {"property"}}
FILTER_TAGS = {"xmeml": {"filter"}, "mlt": {"filter"}}


def _one(tree: etree._ElementTree, path: str) -> etree._Element:
    found = tree.xpath(path)
    assert len(found) == 1, f"{path}: {len(found)} elements"
    return found[0]


@pytest.mark.parametrize("path", corpus_params(TIMELINE_FILES))
def test_every_path_finds_its_element(path: Path):
    tree = etree.ElementTree(safe_parse(path.read_bytes(), str(path)))
    for tl in read_file(path):
        assert _one(tree, tl.xml_path).tag in ("sequence", "tractor")
        for track in tl.tracks:
            if track.xml_path is not None:  # fcpxml lanes have no element
                assert _one(tree, track.xml_path).tag in ("track", "playlist", "tractor")
        for _, clip in tl.iter_clips():
            assert _one(tree, clip.xml_path).tag in CLIP_TAGS[tl.dialect]
            for outer in clip.xml_context:
                assert _one(tree, outer).tag in ("ref-clip", "mc-clip")
            for param, ref in clip.param_refs.items():
                el = _one(tree, ref.path)
                owner = _one(tree, ref.filter_path)
                if tl.dialect == "fcpxml":
                    assert owner.tag.startswith("adjust-") and (el is owner or el.getparent() is owner)
                    assert el.tag in ("param", owner.tag)
                else:
                    assert el.tag in PARAM_TAGS[tl.dialect] and owner.tag in FILTER_TAGS[tl.dialect]
                    assert owner in el.iterancestors()
                if ref.attr is not None:
                    assert el.get(ref.attr) is not None, f"{param}: no attribute {ref.attr}"


def test_xmeml_paths_by_hand(realworld_dir):
    # Fade_inn_og_ut: one clipitem per audio track, its only filter is Audio Levels.
    (tl,) = read_file(realworld_dir / "xmeml" / "xmeml__Fade_inn_og_ut.xml")
    audio = [c for t, c in tl.iter_clips() if t.kind == "audio"]
    assert tl.xml_path == "/xmeml/sequence"
    assert [t.xml_path for t in tl.audio_tracks[:2]] == [
        "/xmeml/sequence/media/audio/track[1]",
        "/xmeml/sequence/media/audio/track[2]",
    ]
    assert audio[1].xml_path == "/xmeml/sequence/media/audio/track[2]/clipitem"
    ref = audio[1].param_refs["level_db"]
    assert ref.path == "/xmeml/sequence/media/audio/track[2]/clipitem/filter/effect/parameter"
    assert ref.filter_path == "/xmeml/sequence/media/audio/track[2]/clipitem/filter"
    assert ref.attr is None and ref.component is None


def test_xmeml_center_components_share_one_parameter(realworld_dir):
    (tl,) = read_file(realworld_dir / "xmeml" / "xmeml__dnpr6370211-alt-offline.hg.xml")
    tree = etree.ElementTree(
        safe_parse((realworld_dir / "xmeml" / "xmeml__dnpr6370211-alt-offline.hg.xml").read_bytes(), "x")
    )
    with_center = [c for _, c in tl.iter_clips() if "center_x" in c.param_refs]
    assert with_center
    for clip in with_center:
        x, y = clip.param_refs["center_x"], clip.param_refs["center_y"]
        assert x.path == y.path and (x.component, y.component) == ("horiz", "vert")
        assert _one(tree, x.path).findtext("parameterid") == "center"


def test_fcpxml_static_attribute_and_keyframed_param(tmp_path):
    doc = tmp_path / "t.fcpxml"
    doc.write_text(
        '<fcpxml version="1.9"><resources><format id="f" frameDuration="1/25s" width="1920" height="1080"/>'
        '<asset id="a" hasVideo="1" hasAudio="1" format="f" duration="100s"/></resources>'
        '<library><event><project name="p"><sequence format="f" duration="10s"><spine>'
        '<asset-clip ref="a" offset="0s" duration="10s">'
        '<adjust-transform scale="0.5 0.5"><param name="position"><keyframeAnimation>'
        '<keyframe time="0s" value="0 0"/><keyframe time="2s" value="10 0"/></keyframeAnimation></param>'
        "</adjust-transform>"
        '<adjust-volume amount="-6dB"/>'
        "</asset-clip></spine></sequence></project></event></library></fcpxml>"
    )
    (tl,) = read_file(doc)
    video, audio = (c for _, c in tl.iter_clips())
    clip_path = "/fcpxml/library/event/project/sequence/spine/asset-clip"
    assert video.xml_path == audio.xml_path == clip_path
    scale = video.param_refs["scale"]
    assert (scale.path, scale.attr, scale.filter_path) == (
        f"{clip_path}/adjust-transform",
        "scale",
        f"{clip_path}/adjust-transform",
    )
    cx, cy = video.param_refs["center_x"], video.param_refs["center_y"]
    assert cx.path == cy.path == f"{clip_path}/adjust-transform/param"
    assert (cx.attr, cx.component, cy.component) == (None, "0", "1")
    level = audio.param_refs["level_db"]
    assert (level.path, level.attr) == (f"{clip_path}/adjust-volume", "amount")
    assert "rotation" not in video.param_refs  # nothing in the file for it: a writer adds it


def test_mlt_rect_parameters_point_at_the_rect_property(realworld_dir):
    path = realworld_dir / "mlt" / "kdenlive-test-suite__qtblend-zoom.kdenlive"
    tree = etree.ElementTree(safe_parse(path.read_bytes(), str(path)))
    (tl,) = read_file(path)
    keyed = [c for _, c in tl.iter_clips() if "scale" in c.curves]
    assert keyed
    for clip in keyed:
        ref = clip.param_refs["scale"]
        assert ref.component == "rect" and _one(tree, ref.path).get("name") == "rect"
        assert _one(tree, ref.filter_path).find("property[@name='mlt_service']").text == "qtblend"
        assert _one(tree, clip.xml_path).tag == "entry"
