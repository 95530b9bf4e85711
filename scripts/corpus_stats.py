"""Compare the built-in synthetic corpus with the real xmeml exports, side by side.

    python scripts/corpus_stats.py [-n 110] [--seed 0] [--real DIR]

The real corpus defaults to ../shared/corpus/realworld/xmeml (or $XMLAI_REALWORLD/xmeml). Both
sides go through the same reader (``core.data.formats.read_file``), so what is compared is what the
frame table will see. Files the reader rejects are counted, not fatal.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.data.formats import read_file  # noqa: E402
from core.data.synth import write_corpus  # noqa: E402
from core.data.timeline import PARAMS, Timeline, TimelineError  # noqa: E402


def default_real_dir() -> Path:
    base = Path(os.environ.get("XMLAI_REALWORLD", ROOT.parent / "shared" / "corpus" / "realworld"))
    return base / "xmeml" if (base / "xmeml").is_dir() else base


def load(paths: list[Path]) -> tuple[list[Timeline], int]:
    timelines, failed = [], 0
    for p in paths:
        try:
            timelines.extend(read_file(p))
        except TimelineError:
            failed += 1
    return timelines, failed


def stats(timelines: list[Timeline], n_files: int, failed: int) -> dict[str, str]:
    """One formatted cell per row label."""
    clips = [c for tl in timelines for _, c in tl.iter_clips()]
    lengths = np.array([float(c.duration) for c in clips if c.duration > 0]) if clips else np.zeros(1)
    keys_per_clip = np.array([sum(len(cv) for cv in c.curves.values()) for c in clips]) if clips else np.zeros(1)
    keyed = keys_per_clip[keys_per_clip > 0]

    def pct(a: np.ndarray, q: float) -> float:
        return float(np.percentile(a, q)) if len(a) else float("nan")

    rows = {
        "files (timelines, unreadable)": f"{n_files} ({len(timelines)}, {failed})",
        "duration s median [min, max]": (
            f"{np.median([float(t.duration) for t in timelines]):.0f} "
            f"[{min(float(t.duration) for t in timelines):.0f}, {max(float(t.duration) for t in timelines):.0f}]"
        )
        if timelines
        else "-",
        "video tracks mean [min, max]": _mmm([len(t.video_tracks) for t in timelines]),
        "audio tracks mean [min, max]": _mmm([len(t.audio_tracks) for t in timelines]),
        "clips per timeline median": f"{np.median([sum(len(t.clips) for t in tl.tracks) for tl in timelines]):.0f}"
        if timelines
        else "-",
        "clip length s median (p10, p90)": f"{pct(lengths, 50):.1f} ({pct(lengths, 10):.1f}, {pct(lengths, 90):.1f})",
        "media kinds": ", ".join(
            f"{k} {v / max(1, len(clips)):.0%}" for k, v in Counter(c.media_kind for c in clips).most_common()
        ),
        "clips with keys": f"{len(keyed) / max(1, len(clips)):.1%}",
        "keys per keyed clip median (p90)": f"{pct(keyed, 50):.0f} ({pct(keyed, 90):.0f})" if len(keyed) else "-",
        "fps": ", ".join(f"{r:.3f}x{n}" for r, n in sorted(Counter(float(t.rate) for t in timelines).items())),
        "transitions (clips with one)": f"{sum(1 for c in clips if c.transition_in or c.transition_out)}",
        "disabled clips": f"{sum(1 for c in clips if not c.enabled)}",
    }
    for p in PARAMS:
        curves = [c.curves[p] for c in clips if p in c.curves]
        vals = np.array([k.value for cv in curves for k in cv.keys])
        nkeys = np.array([len(cv) for cv in curves])
        rows[f"{p}: clips / keys per curve"] = (
            f"{len(curves)} / {np.median(nkeys):.0f} (max {nkeys.max()})" if len(curves) else "0"
        )
        rows[f"{p}: values p5..p95"] = f"{pct(vals, 5):.3g} .. {pct(vals, 95):.3g}" if len(vals) else "-"
    interp = Counter(k.interp for c in clips for cv in c.curves.values() for k in cv.keys)
    rows["key interpolation"] = ", ".join(f"{k} {v}" for k, v in interp.most_common()) or "-"
    return rows


def _mmm(v: list[int]) -> str:
    return f"{np.mean(v):.1f} [{min(v)}, {max(v)}]" if v else "-"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--count", type=int, default=110, help="synthetic files to generate (default 110)")
    ap.add_argument("--seed", type=int, default=0, help="corpus seed")
    ap.add_argument("--synth-dir", type=Path, default=None, help="write the synthetic corpus here (default: temp)")
    ap.add_argument("--real", type=Path, default=None, help="folder of real xmeml files")
    args = ap.parse_args(argv)

    real_dir = args.real or default_real_dir()
    with tempfile.TemporaryDirectory() as tmp:
        synth_paths = write_corpus(args.synth_dir or tmp, args.count, args.seed)
        synth, synth_failed = load(synth_paths)
    real_paths = sorted(p for p in real_dir.glob("*.xml") if p.is_file()) if real_dir.is_dir() else []
    real, real_failed = load(real_paths)

    left = stats(synth, len(synth_paths), synth_failed)
    right = stats(real, len(real_paths), real_failed) if real_paths else {k: "(not found)" for k in left}
    width = max(len(k) for k in left)
    col = max(len(v) for v in left.values())
    print(f"{'':{width}}  {'synthetic':<{col}}  real ({real_dir})")
    for k in left:
        print(f"{k:{width}}  {left[k]:<{col}}  {right.get(k, '-')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
