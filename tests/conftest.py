"""Shared fixtures. The real-world corpus is read from ../shared/corpus/realworld (or
$XMLAI_REALWORLD) and never copied into the project; tests that need it skip where it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REALWORLD = Path(os.environ.get("XMLAI_REALWORLD", ROOT.parent / "shared" / "corpus" / "realworld"))


def realworld_files(dialect: str) -> list[Path]:
    d = REALWORLD / dialect
    return sorted(p for p in d.iterdir() if p.is_file()) if d.is_dir() else []


def realworld_params(dialect: str) -> list:
    """One pytest param per real file of a dialect, or one skipped param that says why there are none
    (a bare empty list would skip with pytest's "got empty parameter set", naming no folder)."""
    files = realworld_files(dialect)
    if files:
        return [pytest.param(p, id=p.name) for p in files]
    reason = f"no {dialect} files under {REALWORLD / dialect} (set XMLAI_REALWORLD to the real-world corpus folder)"
    return [pytest.param(None, id="no-corpus", marks=pytest.mark.skip(reason=reason))]


@pytest.fixture(scope="session")
def realworld_dir() -> Path:
    if not REALWORLD.is_dir():
        pytest.skip(f"real-world corpus not found at {REALWORLD} (set XMLAI_REALWORLD to its folder)")
    return REALWORLD
