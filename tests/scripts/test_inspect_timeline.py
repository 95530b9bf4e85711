"""scripts/inspect_timeline.py as a user runs it: a subprocess from the repo root."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "inspect_timeline.py"
TIMELINE_KEYS = {"name", "dialect", "fps", "duration_s", "width", "height", "size_known", "pixel_aspect", "app"}
TIMELINE_KEYS |= {"app_version", "dialect_version", "xml_path", "tracks"}
TRACK_KEYS = {"kind", "index", "enabled", "name", "xml_path", "clips"}
CLIP_KEYS = {"name", "clip_id", "start_s", "end_s", "source_in_s", "source_out_s", "media_kind", "enabled"}
CLIP_KEYS |= {"transition_in_s", "transition_out_s", "curves", "static", "gain_db", "source_width", "source_height"}
CLIP_KEYS |= {"source_pixel_aspect", "source_rate", "audio_channels", "source_channel", "file_ext", "source_id"}
CLIP_KEYS |= {"speed", "time_remap", "effects", "link_group", "xml_path", "xml_context", "param_refs"}


def _run(*args: str) -> subprocess.CompletedProcess:
    # PYTHONPATH: the checkout under test, not whichever checkout an editable install points at
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=ROOT, timeout=120, env=env
    )


def _check_shape(data) -> None:
    assert isinstance(data, list) and data
    for tl in data:
        assert set(tl) == TIMELINE_KEYS
        assert isinstance(tl["name"], str) and tl["dialect"] == "xmeml"
        assert isinstance(tl["fps"], float) and isinstance(tl["duration_s"], float)
        for track in tl["tracks"]:
            assert set(track) == TRACK_KEYS
            assert track["kind"] in ("video", "audio") and isinstance(track["index"], int)
            assert isinstance(track["enabled"], bool)
            for clip in track["clips"]:
                assert set(clip) == CLIP_KEYS
                assert isinstance(clip["start_s"], float) and clip["start_s"] <= clip["end_s"]
                for param, keys in clip["curves"].items():
                    assert isinstance(param, str) and keys
                    for key in keys:
                        assert len(key) == 3
                        t, v, interp = key
                        assert isinstance(t, float) and isinstance(v, float)
                        assert interp in ("linear", "smooth", "hold")


def test_json_on_real_file(realworld_dir):
    path = realworld_dir / "xmeml" / "xmeml__Fade_inn_og_ut.xml"
    proc = _run(str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    _check_shape(data)
    (tl,) = data
    assert (tl["name"], tl["fps"], tl["duration_s"]) == ("Sequence 03", 25.0, 120.0)
    clips = [c for t in tl["tracks"] for c in t["clips"]]
    assert len(clips) == 2
    level = clips[0]["curves"]["level_db"]
    assert [k[0] for k in level] == [0.0, 59.92, 119.56]
    assert level[1][1] == pytest.approx(-0.0206, abs=1e-3)


def test_summary_on_real_file(realworld_dir):
    proc = _run(str(realworld_dir / "xmeml" / "otio-fcp-adapter__premiere_example.xml"))
    assert proc.returncode == 0, proc.stderr
    assert "'sc01_sh010_layerA' (xmeml): 30.000 fps" in proc.stdout
    assert "sc01_sh010_anim.mov" in proc.stdout


def test_broken_file_exits_1_naming_it(tmp_path):
    bad = tmp_path / "broken.xml"
    bad.write_bytes(b'<?xml version="1.0"?><xmeml><sequence>')
    proc = _run(str(bad), "--json")
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert str(bad) in proc.stderr and "not well-formed XML" in proc.stderr


def test_main_is_importable(tmp_path, capsys):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import inspect_timeline
    finally:
        sys.path.pop(0)
    assert inspect_timeline.main([str(tmp_path / "missing.xml")]) == 1
    assert "missing.xml" in capsys.readouterr().err
