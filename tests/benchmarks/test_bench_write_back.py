"""benchmarks/bench_write_back.py's longer documents: each dialect's document, made k times longer, reads back
as k copies of its clips end to end, and takes and writes k times the predictions of one copy."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from core.data.formats import read_bytes
from core.data.formats.write_back import write_back

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_write_back.py"
_spec = importlib.util.spec_from_file_location("bench_write_back", _PATH)
bench_write_back = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_write_back)


def _longer(dialect: str, realworld_dir: Path, copies: int) -> bytes:
    if dialect == "xmeml":
        return bench_write_back.longer_xmeml(copies)
    rel, make = {
        "fcpxml": (bench_write_back.FCPXML, bench_write_back.longer_fcpxml),
        "mlt": (bench_write_back.MLT, bench_write_back.longer_mlt),
    }[dialect]
    return make((realworld_dir / rel).read_bytes(), copies)


def _written(data: bytes) -> tuple[int, int]:
    (tl,) = read_bytes(data, "long")
    predicted = bench_write_back.predictions(tl)
    _, changes = write_back(data, "long", [tl], [predicted])
    assert len(changes) == sum(len(curves) for curves in predicted.values())
    return len(changes), sum(1 for c in changes if c.after)


@pytest.mark.parametrize("dialect", ["xmeml", "fcpxml", "mlt"])
def test_a_document_made_three_times_longer_holds_its_clips_three_times(dialect, realworld_dir):
    one, three = (read_bytes(_longer(dialect, realworld_dir, k), f"x{k}")[0] for k in (1, 3))
    for track_one, track_three in zip(one.tracks, three.tracks, strict=True):
        assert len(track_three.clips) == 3 * len(track_one.clips)
        starts = [c.start for c in track_three.clips]
        assert starts == sorted(starts)  # end to end, not on top of each other
    (asked_one, written_one), (asked_three, written_three) = (
        _written(_longer(dialect, realworld_dir, k)) for k in (1, 3)
    )
    assert written_one > 0 and (asked_three, written_three) == (3 * asked_one, 3 * written_one)
