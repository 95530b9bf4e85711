"""Shared fixtures. The real-world corpus is read from ../shared/corpus/realworld (or
$XMLAI_REALWORLD) and never copied into the project; tests that need it skip where it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REALWORLD = Path(os.environ.get("XMLAI_REALWORLD", ROOT.parent / "shared" / "corpus" / "realworld"))


def corpus_params(files: list[Path]) -> list:
    """One pytest param per real file (id: corpus/dialect/name), or one skipped param that says why there
    are none (a bare empty list would skip with pytest's "got empty parameter set", naming no folder)."""
    if files:
        return [pytest.param(p, id=f"{p.parent.parent.name}/{p.name}") for p in files]
    reason = f"no real exports found at {REALWORLD} (set XMLAI_REALWORLD to the real-world corpus folder)"
    return [pytest.param(None, id="no-corpus", marks=pytest.mark.skip(reason=reason))]


@pytest.fixture(scope="session")
def realworld_dir() -> Path:
    if not REALWORLD.is_dir():
        pytest.skip(f"real-world corpus not found at {REALWORLD} (set XMLAI_REALWORLD to its folder)")
    return REALWORLD


def read_one(path: Path):
    """The one timeline of a real export (the reader tests' files each hold exactly one)."""
    from core.data.formats import read_file

    timelines = read_file(path)
    assert len(timelines) == 1, f"{path.name}: {len(timelines)} timelines"
    return timelines[0]


def curve_keys(clip, param: str) -> list[tuple]:
    """(time, value, interpolation) of every key of one of a clip's curves."""
    return [(k.time, k.value, k.interp) for k in clip.curves[param].keys]
