"""Compare the built-in synthetic corpus with the real exports, side by side.

    python scripts/corpus_stats.py [-n 300] [--seed 0] [--real DIR ...]

The real corpora default to ../shared/corpus/realworld and ../shared/corpus/production (or
$XMLAI_REALWORLD and the production folder beside it), every dialect. All sides go through the same
reader (``core.data.formats.read_file``), so what is compared is what the frame table will see.
Files the reader rejects are counted, not fatal.

Per parameter: the share of clips (on tracks of the parameter's kind) that set it at all, with a
static value (one key) and animated (two keys or more), the key values' quantiles, keys per animated
curve and, for all keys, the share of smooth interpolation. Then what the values follow: the
source's frame size against the sequence's (and the scale given to each), pan per track (tracks
whose clips all share one pan, hard left/right tracks) and the level of each audio clip (Premiere's
clip gain, the -60 dB floor).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.data.formats import read_file  # noqa: E402
from core.data.synth import write_corpus  # noqa: E402
from core.data.timeline import LEVEL_FLOOR_DB, PARAMS, Clip, Timeline, TimelineError  # noqa: E402

SUFFIXES = (".xml", ".fcpxml", ".mlt", ".kdenlive")


def default_real_dirs() -> list[Path]:
    base = Path(os.environ.get("XMLAI_REALWORLD", ROOT.parent / "shared" / "corpus" / "realworld"))
    return [base, base.parent / "production"]


def load(paths: list[Path]) -> tuple[list[Timeline], int]:
    timelines, failed = [], 0
    for p in paths:
        try:
            timelines.extend(read_file(p))
        except TimelineError:
            failed += 1
    return timelines, failed


def _pct(a, q: float) -> float:
    return float(np.percentile(a, q)) if len(a) else float("nan")


def _quantiles(a) -> str:
    return " ".join(f"{_pct(a, q):.3g}" for q in (5, 25, 50, 75, 95)) if len(a) else "-"


def _shares(counts: Counter, total: int, top: int) -> str:
    return ", ".join(f"{k} {n / total:.0%}" for k, n in counts.most_common(top)) if total else "-"


def _share(n: int, d: int) -> str:
    return f"{n / d:.1%}" if d else "-"


def _first_value(c: Clip, p: str) -> float:
    """The parameter's value at the clip start: its first key, else the static value, else the default."""
    if p in c.curves:
        return c.curves[p].keys[0].value
    return c.static.get(p, PARAMS[p][0])


def size_label(c: Clip, tl: Timeline) -> str:
    """The source frame against the sequence's: "same", or the source's size (with its pixel aspect)."""
    if not c.source_width or not c.source_height:
        return "unknown"
    if (c.source_width, c.source_height) == (tl.width, tl.height):
        return "same"
    par = c.source_pixel_aspect
    return f"{c.source_width}x{c.source_height}" + (f" par {par:.3g}" if par and abs(par - 1) > 1e-3 else "")


def stats(timelines: list[Timeline], n_files: int, failed: int) -> dict[str, str]:
    """One formatted cell per row label."""
    pairs = [(tl, tr, c) for tl in timelines for tr in tl.tracks for c in tr.clips]
    clips = [c for _, _, c in pairs]
    lengths = np.array([float(c.duration) for c in clips if c.duration > 0])
    rows: dict[str, str] = {
        "files (timelines, unreadable)": f"{n_files} ({len(timelines)}, {failed})",
        "duration s median [min, max]": (
            f"{np.median([float(t.duration) for t in timelines]):.0f} "
            f"[{min(float(t.duration) for t in timelines):.0f}, {max(float(t.duration) for t in timelines):.0f}]"
        )
        if timelines
        else "-",
        "video / audio tracks mean": f"{np.mean([len(t.video_tracks) for t in timelines]):.1f} / "
        f"{np.mean([len(t.audio_tracks) for t in timelines]):.1f}"
        if timelines
        else "-",
        "clips per timeline median": f"{np.median([sum(len(t.clips) for t in tl.tracks) for tl in timelines]):.0f}"
        if timelines
        else "-",
        "clip length s p50 p10 p90": " ".join(f"{_pct(lengths, q):.1f}" for q in (50, 10, 90)),
        "media kinds": ", ".join(
            f"{k} {v / max(1, len(clips)):.0%}" for k, v in Counter(c.media_kind for c in clips).most_common(4)
        ),
        "fps": _shares(Counter(f"{float(t.rate):.3f}" for t in timelines), len(timelines), 4),
        "sequence sizes": _shares(Counter(f"{t.width}x{t.height}" for t in timelines), len(timelines), 3),
        "clips with any key: video / audio": " / ".join(
            _share(sum(bool(c.curves) for _, tr, c in pairs if tr.kind == k), sum(tr.kind == k for _, tr, _ in pairs))
            for k in ("video", "audio")
        ),
        "clips animated: video / audio": " / ".join(
            _share(
                sum(any(len(cv) > 1 for cv in c.curves.values()) for _, tr, c in pairs if tr.kind == k),
                sum(tr.kind == k for _, tr, _ in pairs),
            )
            for k in ("video", "audio")
        ),
    }
    for p, (_, kind) in PARAMS.items():
        own = [c for _, tr, c in pairs if tr.kind == kind]
        curves = [c.curves[p] for c in own if p in c.curves]
        n_static = sum(len(cv) == 1 for cv in curves)
        vals = np.array([k.value for cv in curves for k in cv.keys])
        keys = np.array([len(cv) for cv in curves if len(cv) > 1])
        interp = Counter(k.interp for cv in curves for k in cv.keys)
        rows[f"{p}: set / static / animated"] = " / ".join(
            _share(n, len(own)) for n in (len(curves), n_static, len(curves) - n_static)
        )
        rows[f"{p}: values p5 p25 p50 p75 p95"] = _quantiles(vals)
        rows[f"{p}: keys per animated (p90); smooth"] = (
            f"{_pct(keys, 50):.0f} ({_pct(keys, 90):.0f}); " if len(keys) else "-; "
        ) + _share(interp["smooth"], sum(interp.values()))
    rows.update(_source_rows(pairs))
    rows.update(_audio_rows(timelines, pairs))
    return rows


def _source_rows(pairs) -> dict[str, str]:
    """Video clips by source frame against the sequence's, and the scale each gets (median, clips)."""
    by: dict[str, list[float]] = defaultdict(list)
    for tl, tr, c in pairs:
        if tr.kind == "video" and c.media_kind in ("video", "still"):
            by[size_label(c, tl)].append(_first_value(c, "scale"))
    n = sum(len(v) for v in by.values())
    same, unknown = len(by.get("same", [])), len(by.get("unknown", []))
    out = {
        "video sources: same size / other / unknown": " / ".join(
            _share(k, n) for k in (same, n - same - unknown, unknown)
        )
    }
    common = sorted(((k, v) for k, v in by.items() if k not in ("same", "unknown")), key=lambda kv: -len(kv[1]))[:4]
    out["scale of same-size sources p50 (p90)"] = (
        f"{_pct(by['same'], 50):.4g} ({_pct(by['same'], 90):.4g})" if by.get("same") else "-"
    )
    out["scale by other source size (p50)"] = ", ".join(f"{k}: {np.median(v):.4g} ({len(v)})" for k, v in common) or "-"
    return out


def _audio_rows(timelines: list[Timeline], pairs) -> dict[str, str]:
    audio = [c for _, tr, c in pairs if tr.kind == "audio"]
    tracks = [tr for tl in timelines for tr in tl.audio_tracks if tr.clips]
    panned, constant, hard = 0, 0, 0
    for tr in tracks:
        pans = [_first_value(c, "pan") for c in tr.clips]
        if any(abs(v) > 1e-6 for v in pans):
            panned += 1
            constant += float(np.ptp(pans)) < 1e-6
            hard += abs(float(np.mean(pans))) > 0.99
    levels = np.array([_first_value(c, "level_db") for c in audio])
    gains = np.array([c.gain_db for c in audio if c.gain_db is not None])
    spread = [float(np.std([_first_value(c, "level_db") for c in tr.clips])) for tr in tracks if len(tr.clips) > 1]
    track_means = [float(np.mean([_first_value(c, "level_db") for c in tr.clips])) for tr in tracks]
    return {
        "audio tracks panned (all one pan; hard L/R)": f"{_share(panned, len(tracks))} ({_share(constant, panned)}; "
        f"{_share(hard, panned)})",
        "pan by source channel 1 / 2 (mean)": " / ".join(
            f"{np.mean(v):+.2f}" if len(v) else "-"
            for v in ([_first_value(c, "pan") for c in audio if c.source_channel == ch] for ch in (1, 2))
        ),
        "level at clip start p5 p25 p50 p75 p95": _quantiles(levels),
        "level at -60 floor; std within / between tracks": _share(int(np.sum(levels <= LEVEL_FLOOR_DB)), len(levels))
        + f"; {_pct(spread, 50):.1f} / {np.std(track_means) if track_means else float('nan'):.1f} dB",
        "clip gain: clips, p5 p50 p95": f"{_share(len(gains), len(audio))}, "
        + (" ".join(f"{_pct(gains, q):.3g}" for q in (5, 50, 95)) if len(gains) else "-"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--count", type=int, default=300, help="synthetic files to generate (default 300)")
    ap.add_argument("--seed", type=int, default=0, help="corpus seed")
    ap.add_argument("--synth-dir", type=Path, default=None, help="write the synthetic corpus here (default: temp)")
    ap.add_argument("--real", type=Path, nargs="*", default=None, help="folders of real exports (any dialect)")
    args = ap.parse_args(argv)

    columns: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        synth_paths = write_corpus(args.synth_dir or tmp, args.count, args.seed)
        columns["synthetic"] = stats(*_loaded(synth_paths))
    for d in args.real if args.real is not None else default_real_dirs():
        paths = sorted(p for p in d.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES) if d.is_dir() else []
        columns[d.name] = stats(*_loaded(paths)) if paths else {k: "(not found)" for k in columns["synthetic"]}
    labels = list(columns["synthetic"])
    width = max(len(k) for k in labels)
    cols = {name: max(len(name), *(len(v) for v in col.values())) for name, col in columns.items()}
    print(f"{'':{width}}  " + "  ".join(f"{name:<{cols[name]}}" for name in columns))
    for k in labels:
        print(f"{k:{width}}  " + "  ".join(f"{col.get(k, '-'):<{cols[name]}}" for name, col in columns.items()))
    return 0


def _loaded(paths: list[Path]) -> tuple[list[Timeline], int, int]:
    timelines, failed = load(paths)
    return timelines, len(paths), failed


if __name__ == "__main__":
    raise SystemExit(main())
