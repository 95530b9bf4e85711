"""Every real export converts to plain JSON (issue 7.4: a Fraction leaked from fcpxml opacity fades
and ``inspect_timeline.py --json`` crashed), and the two production files that are not timelines
fail with a TimelineError naming them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from core.data.formats import read_file
from core.data.timeline import TimelineError
from tests.conftest import ROOT, corpus_params
from tests.core.data._corpus import ALL_FILES, NOT_TIMELINES, PRODUCTION, TIMELINE_FILES


def _plain(value) -> bool:
    """Only JSON's own types, all the way down (json.dumps would also accept a float subclass)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return value is None or type(value) in (str, int, float, bool)


@pytest.mark.parametrize("path", corpus_params(TIMELINE_FILES))
def test_to_json_is_plain_json(path):
    for tl in read_file(path):
        data = tl.to_json()
        assert _plain(data)
        assert json.loads(json.dumps(data)) == data


def test_inspect_timeline_json_on_the_file_that_crashed(realworld_dir):
    # BRENNER has adjust-blend fades, whose opacity floor was a Fraction.
    path = realworld_dir / "fcpxml" / "xmeml__BRENNER_DAGDROMMER_mktf61000312u.fcpxml"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "inspect_timeline.py"), str(path), "--json"],
        capture_output=True, text=True, cwd=ROOT, timeout=300, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (tl,) = json.loads(proc.stdout)
    opacity = [c["curves"]["opacity"] for t in tl["tracks"] for c in t["clips"] if "opacity" in c["curves"]]
    assert opacity and all(min(k[1] for k in curve) == 0.0 for curve in opacity)  # the fade floor


@pytest.mark.parametrize("name", sorted(NOT_TIMELINES))
def test_not_timelines_fail_by_name(name):
    path = PRODUCTION / "fcpxml" / name
    if not path.is_file():
        pytest.skip(f"production corpus not found at {PRODUCTION}")
    with pytest.raises(TimelineError) as info:
        read_file(path)
    assert info.value.path == str(path)


def test_corpus_is_complete():
    if not ALL_FILES:
        pytest.skip("corpus not found")
    assert len(ALL_FILES) == 39 + 52 if PRODUCTION.is_dir() else len(ALL_FILES) == 39
