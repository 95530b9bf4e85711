"""Evaluate a trained model on a folder of exports, beside two constants and two rules.

python scripts/evaluate.py runs/NAME --data DIR                 # structure only
python scripts/evaluate.py runs/NAME --data DIR --context 0.5   # half the clips given (mean of 5 draws)
python scripts/evaluate.py MODEL_DIR --data DIR --json          # one JSON object on stdout

CHECKPOINT_OR_MODEL_DIR is a run folder (its checkpoints/best), a checkpoint folder (state.pt) or an
exported model folder (xmlai.json). Every file under DIR is evaluated (no split). Per head and overall
it prints the model's loss ratio to (a) the checkpoint's train constant, (b) the best constant for the
data evaluated (its own per-kind means, key rates, interpolation shares), (c) the editor-default rule
(scale 100, rotation 0, centre 0, opacity 100, level 0 dB, pan 0, no keys) and (d) the same-track rule
(mean of the given clips on the same track; the data constant where a track has none), the MAE in
native units, and keyframe F1 within one step; then each comparator's own ratio to (b).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from _common import HEAD_UNITS, print_file_errors

DEFAULT_DRAWS = 5


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="CHECKPOINT_OR_MODEL_DIR")
    p.add_argument("--data", metavar="DIR", required=True, help="folder of exports to evaluate on (recursive)")
    p.add_argument("--context", type=float, default=0.0, help="share of each timeline's clips given (default 0)")
    p.add_argument("--seed", type=int, default=0, help="seed of the (first) given-clip draw")
    p.add_argument(
        "--draws",
        type=int,
        default=DEFAULT_DRAWS,
        help=f"with --context: the mean over this many draws of the given clips, seeds SEED, SEED+1, ... "
        f"(default {DEFAULT_DRAWS}; one draw per timeline swings a head's figure by up to a factor of three)",
    )
    p.add_argument(
        "--per-file",
        type=int,
        default=0,
        metavar="N",
        help="also list the N files that carry the figures most: each file's share of each head's ratio - 1",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.add_argument("--device", default="cpu", help="cpu | cuda")
    p.add_argument("--batch-size", type=int, default=32)
    return p.parse_args(argv)


def load_model(path: Path):
    """(model in eval mode, config, scalers) from a run, checkpoint or exported model folder."""
    from core.serve.export import load_predictor

    pred = load_predictor(path)
    return pred.model, pred.cfg, pred.scalers


def evaluate_folder(
    model,
    cfg,
    scalers,
    data_dir: Path,
    context: float = 0.0,
    seed: int = 0,
    draws: int = 1,
    per_file: int = 0,
    **kw,
) -> dict:
    """Evaluate on every file under ``data_dir``; the report's dict (see ``report``), with ``per_file`` > 0 the
    files that carry the figures most (``core.learn.assess.file_shares``, the first draw) under "per_file"."""
    from core.data.preprocess import prepare
    from core.learn.assess import assess, file_shares, window_files

    # every file on the validation side: its windows are evaluated memory-mapped, as prepared, never concatenated
    data_cfg = dataclasses.replace(cfg.data, data_dir=str(data_dir.resolve()), workers=0, split_by="none")
    data = prepare(data_cfg)
    out = assess(model, cfg, scalers, data.val, context=context, seed=seed, draws=draws, **kw)
    if per_file > 0:
        names = sorted(data.meta["timelines_of"])
        window_file = window_files(data.meta, data.val["timeline"], names)
        out["per_file"] = file_shares(model, cfg, scalers, data.val, window_file, names, context, seed, **kw)[:per_file]
    out.update(
        data=str(data_dir),
        files=len(data.files) - len(data.errors),
        errors=[list(e) for e in data.errors],
        timelines=int(data.meta.get("n_timelines", 0)),
    )
    return out


def format_report(r: dict) -> str:
    """Human-readable tables of a ``report`` dict."""
    f = lambda v, spec=".3f": "n/a" if v is None else format(v, spec)  # noqa: E731
    names = ("train_constant", "data_constant", "editor_default", "same_track")
    short = {"train_constant": "train const", "data_constant": "data const", "editor_default": "editor dflt"}
    lines = [
        f"{r.get('data', '')}: {r.get('files', '?')} files, {r.get('timelines', '?')} timelines, "
        f"{r['windows']} windows; {100 * r['context']:.0f}% of each timeline's clips given",
        *_draws_line(r),
        "",
        "model loss / comparator loss (below 1 = the model is better)",
        f"{'head':<14}" + "".join(f"{short.get(n, n):>13}" for n in names) + f"{'MAE':>11}  {'unit'}",
    ]
    for h, row in r["heads"].items():
        mae = f(row.get("mae"), ".3g") if "mae" in row else ""
        lines.append(
            f"{h:<14}"
            + "".join(f"{f(row[f'ratio_vs_{n}']):>13}" for n in names)
            + f"{mae:>11}  {HEAD_UNITS.get(h, '')}"
        )
    lines.append(f"{'objective':<14}" + "".join(f"{f(r[f'objective_vs_{n}']):>13}" for n in names))
    lines.append(
        f"keyframe F1 {f(r['keyframe_f1'])} (within one step {f(r['keyframe_f1_within1'])}), "
        f"interpolation accuracy {f(r['interp_acc'])}"
    )
    lines += ["", "each comparator's loss / the data constant's (and MAE)"]
    heads = list(r["heads"])
    lines.append(f"{'comparator':<16}" + "".join(f"{h[:10]:>11}" for h in heads) + f"{'objective':>11}")
    for n, c in r["comparators"].items():
        lines.append(
            f"{n:<16}"
            + "".join(f"{f(c['heads'][h]['ratio_vs_data_constant']):>11}" for h in heads)
            + f"{f(c['objective_vs_data_constant']):>11}"
        )
    for n, c in r["comparators"].items():
        maes = " ".join(f"{h}={f(v.get('mae'), '.3g')}" for h, v in c["heads"].items() if "mae" in v)
        lines.append(f"  MAE {n}: {maes}; keyframe F1 within one step {f(c['keyframe_f1_within1'])}")
    return "\n".join(lines)


def format_per_file(r: dict) -> str:
    """The files that carry the figures (``--per-file``): each one's share of every head's ratio - 1."""
    rows = r.get("per_file") or []
    if not rows:
        return ""
    heads = list(rows[0]["shares"])
    lines = [
        "",
        "the files that carry the figures: each file's (model loss - data constant's loss) / the data constant's loss",
        "over all files, per head (a head's shares over all files add up to its ratio - 1), first draw",
        f"{'file':<44}{'windows':>8}{'mean':>8}" + "".join(f"{h[:8]:>9}" for h in heads),
    ]
    for row in rows:
        name = row["name"] if len(row["name"]) <= 43 else "..." + row["name"][-40:]
        cells = "".join("      n/a" if row["shares"][h] is None else f"{row['shares'][h]:>+9.3f}" for h in heads)
        lines.append(f"{name:<44}{row['windows']:>8}{row['share']:>+8.3f}" + cells)
    return "\n".join(lines)


def _draws_line(r: dict) -> list[str]:
    """Where the figures are a mean over draws of the given clips: how many, and the range of the objective."""
    objectives = [d["objective_vs_data_constant"] for d in r.get("per_draw", [])]
    if len(objectives) < 2 or None in objectives:
        return []
    return [
        f"the mean of {len(objectives)} draws of the given clips; the model's objective against the data "
        f"constant ranged {min(objectives):.3f} to {max(objectives):.3f}"
    ]


def main(argv=None) -> int:
    args = parse_args(argv)
    if not 0.0 <= args.context < 1.0:
        print(f"error: --context must be in [0, 1), got {args.context}", file=sys.stderr)
        return 2
    if args.draws < 1:
        print(f"error: --draws must be at least 1, got {args.draws}", file=sys.stderr)
        return 2
    data_dir = Path(args.data)
    if not data_dir.is_dir():
        print(f"error: --data {data_dir} is not a folder", file=sys.stderr)
        return 2
    try:
        model, cfg, scalers = load_model(Path(args.model))
        r = evaluate_folder(
            model,
            cfg,
            scalers,
            data_dir,
            args.context,
            args.seed,
            args.draws,
            args.per_file,
            device=args.device,
            batch_size=args.batch_size,
        )
    except Exception as e:  # one clear line; the reason names the file or folder
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    r["model"] = str(args.model)
    if args.json:
        print(json.dumps(r, indent=1))
    else:
        print_file_errors([tuple(e) for e in r["errors"]])
        print(format_report(r))
        if r.get("per_file"):
            print(format_per_file(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
