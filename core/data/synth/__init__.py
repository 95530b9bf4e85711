"""Deterministic generator of the built-in corpus: Premiere-style xmeml timelines that look like
real exports (``python scripts/corpus_stats.py`` puts their statistics beside the real corpora's).

``generate_timeline(seed)`` draws a timeline in two independent stages:

1. **Structure** (``structure.py``, from ``seed`` only): rate (mostly 25 fps), sequence frame size
   (mostly 1920x1080), length (30-180 s), tracks, clips and their sources. V1 is a contiguous cut
   of camera files (lognormal lengths, median ~4 s) and a few photos, some dissolves; a share of
   the camera files (a timeline habit) is in another format than the sequence (720x576 PAL 16:9
   or 4:3, 1440x1080 HDV, 1280x720, UHD, phone portrait), written in each ``<file>``'s
   ``<samplecharacteristics>`` as the reader reads it. An optional V2 holds cutaways, graphics
   and titles, an optional V3 titles. Audio: the camera's dual-mono pair under V1 (channel 1 on
   A1, channel 2 on A2, as Premiere explodes it), a voice track (sentences in runs), a music bed
   (an exploded stereo pair or one channel), sometimes sfx. A few clips are disabled.
2. **Style + noise** (``style.py``, from ``seed`` and ``style_draw``): the editor's habits and the
   jitter of their hands: static values far more often than animation, scale from the source's
   frame size, level and pan by track with Premiere's clip gain on some clips, real key rates and
   interpolations. ``style_draw=None`` is the timeline's own draw; ``k >= 0`` is an alternative
   draw with the same structure, so the mean target over many draws is the best structure-only
   prediction (the noise floor, ``core.data.noise_floor``).

This module writes the corpus (``write_corpus``): one file per timeline, kept when its manifest
entry matches.
"""

from __future__ import annotations

import hashlib
import json
from fractions import Fraction
from pathlib import Path

import numpy as np

from core.data.formats.xmeml_writer import write_xmeml
from core.data.synth.structure import RATE_WEIGHTS, RATES, draw_structure
from core.data.synth.style import Animator
from core.data.timeline import Timeline

GENERATOR_VERSION = 3  # bump when the output changes, so write_corpus rewrites stale files
MANIFEST = "synth_manifest.json"

__all__ = ["GENERATOR_VERSION", "MANIFEST", "RATES", "RATE_WEIGHTS", "corpus_seed", "generate_timeline", "write_corpus"]


def generate_timeline(seed: int, style_draw: int | None = None) -> Timeline:
    """A realistic Premiere-style timeline. Structure depends on ``seed`` only; style and noise on
    ``seed`` and ``style_draw`` (None = the timeline's own draw, k >= 0 = alternative draws)."""
    st = draw_structure(seed)
    stream = [seed, 0x57E1] if style_draw is None else [seed, 0xD4A3, style_draw]
    Animator(st, np.random.default_rng(stream)).run()
    return Timeline(
        name=f"synth_{seed:05d}",
        rate=st.rate,
        duration=Fraction(st.frames) / st.rate,
        tracks=st.tracks,
        width=st.width,
        height=st.height,
        dialect="xmeml",
        source=f"synth:{seed}",
    )


def corpus_seed(index: int, seed: int = 0) -> int:
    """Timeline seed of file ``index`` of the corpus drawn with ``seed`` (corpora never overlap)."""
    return seed * 1_000_000 + index


def write_corpus(out_dir: str | Path, count: int, seed: int = 0) -> list[Path]:
    """Write ``count`` timelines as ``synth_{i:05d}.xml``; files whose manifest entry matches are kept."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        manifest = {}
    if manifest.get("version") != GENERATOR_VERSION or manifest.get("seed") != seed:
        manifest = {"version": GENERATOR_VERSION, "seed": seed, "files": {}}
    files: dict[str, str] = manifest["files"]
    paths = []
    changed = False
    for i in range(count):
        path = out / f"synth_{i:05d}.xml"
        paths.append(path)
        if path.name in files and path.is_file() and _sha(path.read_bytes()) == files[path.name]:
            continue
        data = write_xmeml(generate_timeline(corpus_seed(i, seed)))
        path.write_bytes(data)
        files[path.name] = _sha(data)
        changed = True
    if changed or not manifest_path.is_file():
        manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return paths


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]
