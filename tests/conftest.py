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


@pytest.fixture(scope="session")
def realworld_dir() -> Path:
    if not REALWORLD.is_dir():
        pytest.skip(f"real-world corpus not found at {REALWORLD} (set XMLAI_REALWORLD to its folder)")
    return REALWORLD
