"""scripts/corpus_stats.py: the statistics on a hand-made timeline, and the side-by-side table."""

from __future__ import annotations

import importlib.util
from fractions import Fraction

from core.data.timeline import Clip, Curve, Key, Timeline, Track
from tests.conftest import ROOT

_spec = importlib.util.spec_from_file_location("corpus_stats", ROOT / "scripts" / "corpus_stats.py")
corpus_stats = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(corpus_stats)


def _clip(name, a, b, **kw) -> Clip:
    curves = kw.pop("curves", {})
    c = Clip(name, Fraction(a), Fraction(b), **kw)
    c.curves = {p: Curve([Key(Fraction(t), v, i) for t, v, i in keys]) for p, keys in curves.items()}
    return c


def test_stats_of_a_hand_made_timeline() -> None:
    hd720 = _clip("a.mov", 0, 4, curves={"scale": [(0, 150.0, "linear")]})
    hd720.source_width, hd720.source_height = 1280, 720
    same = _clip("b.mov", 4, 8)
    same.source_width, same.source_height = 1920, 1080
    fade = _clip("c.mov", 8, 12, curves={"opacity": [(8, 0.0, "smooth"), (9, 100.0, "smooth")]})
    left = _clip("m.wav", 0, 12, media_kind="audio", source_channel=1, curves={"pan": [(0, -1.0, "linear")]})
    right = _clip("m.wav", 0, 12, media_kind="audio", source_channel=2, curves={"pan": [(0, 1.0, "linear")]})
    quiet = _clip("v.wav", 0, 6, media_kind="audio", gain_db=-6.0, curves={"level_db": [(0, -6.0, "linear")]})
    muted = _clip("v.wav", 6, 12, media_kind="audio", curves={"level_db": [(6, -60.0, "linear")]})
    tracks = [
        Track("video", 0, [hd720, same, fade]),
        Track("audio", 0, [left]),
        Track("audio", 1, [right]),
        Track("audio", 2, [quiet, muted]),
    ]
    rows = corpus_stats.stats([Timeline("t", Fraction(25), Fraction(12), tracks)], 1, 0)
    assert rows["scale: set / static / animated"] == "33.3% / 33.3% / 0.0%"
    assert rows["opacity: set / static / animated"] == "33.3% / 0.0% / 33.3%"
    assert rows["opacity: keys per animated (p90); smooth"] == "2 (2); 100.0%"
    assert rows["video sources: same size / other / unknown"] == "33.3% / 33.3% / 33.3%"
    assert rows["scale by other source size (p50)"] == "1280x720: 150 (1)"
    assert rows["pan by source channel 1 / 2 (mean)"] == "-1.00 / +1.00"
    assert rows["audio tracks panned (all one pan; hard L/R)"] == "66.7% (100.0%; 100.0%)"
    assert rows["level at -60 floor; std within / between tracks"].startswith("25.0%; 27.0 /")
    assert rows["clip gain: clips, p5 p50 p95"].startswith("25.0%, -6")


def test_side_by_side_with_the_real_corpus(capsys, realworld_dir) -> None:
    assert corpus_stats.main(["-n", "3", "--real", str(realworld_dir / "xmeml")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["synthetic", "xmeml"]
    files = next(line for line in out if line.startswith("files (timelines, unreadable)"))
    assert "3 (3, 0)" in files
