"""Where a model's error beyond the constants comes from: per validation file and regression head, the
squared error (standardised units) of the model, the train constant, the validation files' pooled best
constant and the same-track rule, sorted by the model's excess over that constant.

    python benchmarks/errors_by_file.py RUN [--context 0.5] [--heads rotation center_y]
    python benchmarks/errors_by_file.py RUN --context 0.5 --by-track   # by what the token's track gives

RUN is a run folder trained with a ``data.data_dir`` (scripts/train.py --data, benchmarks/quality_real.py's
``real``); its config gives the data and the split. Diagnostic only (issue 6): it found that rotation's excess
was the training programmes' rare rotated clips pulling every prediction off 0, and that one programme's
-157.5 degree clip on a given track makes seed 1's rotation with clips given (benchmarks/RESULTS.md).
``--by-track`` sums the same errors over every validation token by what its track gives for that head (no
given clip, one, several that agree, several that spread) and whether the timeline gives clips of its
source size: it found the rule exact where the given values agree and the model pulled off it there.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from core.data.batch import trim_tracks  # noqa: E402
from core.data.context import GEOMETRY_HAS, N_SUMMARY, SUMMARY_FEATURES, TRACK_HAS, TRACK_SPREAD  # noqa: E402
from core.data.dataset import WindowDataset, collate  # noqa: E402
from core.data.preprocess import prepare  # noqa: E402
from core.learn.assess import file_sums, window_files  # noqa: E402
from core.learn.checkpoint import load_checkpoint  # noqa: E402
from core.learn.evaluate import RATIO_SMOOTHING, _Acc, accumulate  # noqa: E402
from core.learn.loss import MultiTrackLoss, baseline_outputs  # noqa: E402
from core.learn.rules import constant_of, same_track_outputs  # noqa: E402

SIDES = ("model", "train constant", "val constant", "rule")
# what the token's track gives for a head (--by-track); the summary's given-clip count is log1p(clips)
TRACK_GROUPS = ("no given clip", "one given clip", "given values agree", "given values spread")
GIVEN_LOG1P = SUMMARY_FEATURES.index("track_given_log1p")


def _setup(run: Path):
    """(cfg, data, scalers, loss_fn, stds, {side: outputs of a batch}) of a run folder or checkpoint."""
    model, cfg, scalers = load_checkpoint(run / "checkpoints" / "best" if (run / "checkpoints").is_dir() else run)
    data = prepare(cfg.data)
    pooled = constant_of(data.val, scalers.target_mean, scalers.target_std)
    loss_fn = MultiTrackLoss(cfg.loss, cfg.model, keyframe_pos_weight=scalers.keyframe_pos_weight)
    stds = torch.as_tensor(scalers.target_std, dtype=torch.float32)
    t, c = cfg.model.targets, cfg.model.classify
    model.eval()
    sides = {
        "model": lambda b: loss_fn.calibrate(model(b)),
        "train constant": lambda b: baseline_outputs(b, scalers.baseline, t, c),
        "val constant": lambda b: baseline_outputs(b, pooled, t, c),
        "rule": lambda b: same_track_outputs(b, pooled, t, c),
    }
    return cfg, data, scalers, loss_fn, stds, sides


def _sums(acc: _Acc, head: str, prefix: str = "") -> np.ndarray:
    """(positions, model SSE, train SSE, val SSE, rule SSE) of one head from sums accumulated under ``prefix``."""
    n = acc.values.get(f"{prefix}model/count/{head}", 0.0)
    return np.array([n] + [acc.values.get(f"{prefix}{side}/loss/{head}", 0.0) for side in SIDES])


def track_groups(summary: torch.Tensor) -> dict[str, torch.Tensor]:
    """{"<track group>, same size given|none": (B, K, T, R) bool} from a batch's context summary: what the
    token's track gives for each target (TRACK_GROUPS; one clip has spread 0 too; "one" and "several" count
    the track's given clips, whichever targets they carry) and whether the timeline gives clips of the token's
    source frame size (the geometry block)."""
    has = summary[..., TRACK_HAS] > 0
    spread = summary[..., TRACK_SPREAD] > 0
    several = (summary[..., GIVEN_LOG1P : GIVEN_LOG1P + 1] > float(np.log1p(1.5))).expand_as(has)
    track = dict(zip(TRACK_GROUPS, (~has, has & ~several & ~spread, has & several & ~spread, has & spread)))
    geo = summary[..., GEOMETRY_HAS] > 0
    return {f"{name}, same size {g}": m & gm for name, m in track.items() for g, gm in (("given", geo), ("none", ~geo))}


def errors_by_track(run: Path, context: float, heads: list[str]) -> dict[str, dict]:
    """{group (track_groups): {head: (positions, model SSE, train SSE, val SSE, rule SSE)}} over the
    validation windows."""
    cfg, data, scalers, loss_fn, stds, sides = _setup(run)
    ds = WindowDataset(data.val, scalers, context=context, seed=0, skip_empty=True)
    acc = _Acc()
    with torch.no_grad():
        for batch in DataLoader(ds, batch_size=32, collate_fn=collate):
            batch = trim_tracks(batch)
            outs = {side: fn(batch) for side, fn in sides.items()}
            for group, m in track_groups(batch["context_summary"]).items():
                part = dict(batch, target_mask=batch["target_mask"] & m)
                for side, out in outs.items():
                    accumulate(acc, f"{group}/{side}/", out, part, loss_fn, stds, cfg.model)
    return {group: {h: _sums(acc, h, f"{group}/") for h in heads} for group in track_groups(torch.zeros(1, N_SUMMARY))}


def errors_by_file(run: Path, context: float, heads: list[str]) -> tuple[dict, dict]:
    """({file: {head: (positions, model SSE, train SSE, val SSE, rule SSE)}}, the same summed over files)."""
    cfg, data, scalers, loss_fn, stds, sides = _setup(run)
    names = sorted(n for n in data.meta["timelines_of"] if data.meta["splits"].get(n) == "val")
    window_file = window_files(data.meta, data.val["timeline"], names)
    sums, counts, _ = file_sums(sides, loss_fn, scalers, data.val, window_file, len(names), context)
    per_file, total = {}, {h: np.zeros(1 + len(SIDES)) for h in heads}
    for f, name in enumerate(names):
        if not (window_file == f).any():  # no window of the file among the validation windows
            continue
        cols = [loss_fn.heads.index(h) for h in heads]
        row = {h: np.array([counts[f, j], *sums[:, f, j]]) for h, j in zip(heads, cols)}
        for h in heads:
            total[h] += row[h]
        per_file[name] = row
    return per_file, total


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path)
    p.add_argument("--context", type=float, default=0.0, help="share of each timeline's clips given")
    p.add_argument("--heads", nargs="+", default=["rotation", "center_x", "center_y", "scale", "pan"])
    p.add_argument("--top", type=int, default=8, help="files per head")
    p.add_argument("--by-track", action="store_true", help="by what the token's track gives, not by file")
    a = p.parse_args(argv)
    if a.by_track:
        groups = errors_by_track(a.run, a.context, a.heads)
        for h in a.heads:
            print(f"\n{h}: squared error summed over the validation tokens of each group (standardised units)")
            print(f"  {'group':44} {'positions':>9} " + " ".join(f"{s[:14]:>14}" for s in SIDES))
            for group, row in groups.items():
                n, *sse = row[h]
                if n:
                    print(f"  {group:44} {n:9.0f} " + " ".join(f"{v:14.1f}" for v in sse))
        return 0
    per_file, total = errors_by_file(a.run, a.context, a.heads)
    for h in a.heads:
        n, *sse = total[h]
        if not n:
            print(f"\n{h}: no validation position")
            continue
        val = sse[2] / n
        k = RATIO_SMOOTHING  # the ratios as core.learn.evaluate smooths them
        ratios = "  ".join(f"{side} {(s / n + k) / (val + k):.3f}" for side, s in zip(SIDES, sse))
        print(f"\n{h}: {n:.0f} positions; against the val constant: {ratios}")
        print(f"  {'file':56} {'positions':>9} {'excess':>8} " + " ".join(f"{s[:10]:>10}" for s in SIDES))
        rows = sorted(per_file.items(), key=lambda kv: -(kv[1][h][1] - kv[1][h][3]))
        for name, row in rows[: a.top]:
            m, *s = row[h]
            if m:
                excess = (s[0] - s[2]) / n  # the file's share of the model's excess, pooled units
                print(f"  {name[-56:]:56} {m:9.0f} {excess:8.4f} " + " ".join(f"{v / m:10.4f}" for v in s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
