"""Several splits of the real corpora side by side: what `benchmarks/quality_real.py` found on each, and the mean.

    python benchmarks/quality_splits.py runs/q0 runs/q1 runs/q2 runs/q3        # quality_real.py --out folders
    python benchmarks/quality_splits.py runs/q*/quality_real.json --json       # or their JSON files; one object

One split of a few dozen programmes decides little: which programmes land in validation moves the objective by
more than most changes to the model do (session 18: 0.697, 0.799, 0.937 and 0.911 structure only on split seeds 0
to 3, the same code), and the head above 1.05 is a different one on each split. So a change is judged on
several splits, each one `python benchmarks/quality_real.py --skip-builtin --skip-stacking --seed N --out DIR`
(two at a time on 2 cores, one thread each), and this script prints them together: per split, the objective
against the validation files' best constant (structure only; half the clips given as the mean of the draws,
beside the same-track rule), the best epoch, the heads above 1.05 structure only, the heads where the rule
beats both the constant and the model with clips given (issue 6's item 3), and the same per corpus; then the
mean over the splits of each objective.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HEAD_LIMIT = 1.05  # issue 6: no head above this, structure only
CORPORA = ("all", "realworld", "production")
# what quality_real.py sets on every run; anything else in a run's config is an override (--set) worth showing
SETUP_KEYS = frozenset(
    {
        "data.data_dir",
        "data.val_fraction",
        "data.split_seed",
        "model.preset",
        "train.epochs",
        "train.epoch_windows",
        "train.early_stopping",
        "train.seed",
        "train.device",
    }
)


def load(path: Path, key: str = "real") -> dict:
    """The ``key`` part ("real" or "real_init") of a quality_real.py result: its JSON file or its --out folder."""
    f = path / "quality_real.json" if path.is_dir() else path
    if not f.is_file():
        raise SystemExit(f"{path}: no quality_real.json (a benchmarks/quality_real.py --out folder or its JSON file)")
    try:
        report = json.loads(f.read_text())
    except json.JSONDecodeError as e:
        raise SystemExit(f"{f}: not JSON ({e})") from None
    if not isinstance(report.get(key), dict):
        raise SystemExit(f"{f}: no {key!r} part (the real-corpus part was skipped or failed)")
    return report[key]


def heads_above(s: dict, limit: float = HEAD_LIMIT) -> list[str]:
    """Heads whose ratio to the data's best constant is above ``limit``, worst first, as "name ratio"."""
    bad = sorted(((v, h) for h, v in s["heads"].items() if v is not None and v > limit), reverse=True)
    return [f"{h} {v:.3f}" for v, h in bad]


def rule_ahead(s: dict) -> list[str]:
    """Heads where the same-track rule beats the constant (ratio below 1) and the model (lower ratio)."""
    rule = s["same_track_rule"]["heads"]
    return [h for h, m in s["heads"].items() if None not in (m, rule.get(h)) and rule[h] < 1.0 and rule[h] < m]


def split_row(name: str, r: dict) -> dict:
    """One split's figures (None where a corpus has no validation file)."""
    cfg = r.get("config", {})
    row = {
        "run": name,
        "split_seed": cfg.get("data.split_seed"),
        "train_seed": cfg.get("train.seed"),
        "overrides": {k: v for k, v in cfg.items() if k not in SETUP_KEYS},
        "best_epoch": r.get("best_epoch"),
        "val_files": len(r.get("val_files", [])),
    }
    for corpus in CORPORA:
        block = r.get(corpus)
        if not block:
            row[corpus] = None
            continue
        s0, s1 = block["context_0"], block["context_0.5"]
        row[corpus] = {
            "files": len(block.get("files", [])),
            "structure_only": s0["objective_vs_data_constant"],
            "half_given": s1["objective_vs_data_constant"],
            "half_given_rule": s1["same_track_rule"]["objective_vs_data_constant"],
            "draws": s1.get("draws", 1),
            "heads_above": heads_above(s0),
            "rule_ahead": rule_ahead(s1),
        }
    return row


def mean(values: list) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def summary(rows: list[dict]) -> dict:
    """The mean over the splits of each corpus's three objectives, and how many splits meet issue 6's targets."""
    out = {}
    for corpus in CORPORA:
        got = [r[corpus] for r in rows if r[corpus]]
        out[corpus] = {k: mean([g[k] for g in got]) for k in ("structure_only", "half_given", "half_given_rule")} | {
            "splits": len(got),
            "splits_without_head_above": sum(not g["heads_above"] for g in got),
        }
    return out


def _f(v) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def print_table(rows: list[dict], means: dict) -> None:
    width = max(14, *(len(r["run"]) + 2 for r in rows))
    print("".ljust(34) + "".join(r["run"][-width + 1 :].rjust(width) for r in rows) + "mean".rjust(10))
    print(
        "split seed / train seed".ljust(34)
        + "".join(f"{r['split_seed']} / {r['train_seed']}".rjust(width) for r in rows)
    )
    print("best epoch".ljust(34) + "".join(str(r["best_epoch"]).rjust(width) for r in rows))
    for corpus in CORPORA:
        if not any(r[corpus] for r in rows):
            continue
        m = means[corpus]
        label = "all validation files" if corpus == "all" else f"{corpus} files"
        print(f"{label}:".ljust(34) + "".join(str((r[corpus] or {}).get("files", "-")).rjust(width) for r in rows))
        for key, text in (
            ("structure_only", "  structure only"),
            ("half_given", "  half given (mean of draws)"),
            ("half_given_rule", "  same-track rule, half given"),
        ):
            cells = "".join(_f((r[corpus] or {}).get(key)).rjust(width) for r in rows)
            print(text.ljust(34) + cells + _f(m[key]).rjust(10))
    overrides = {json.dumps(r["overrides"], sort_keys=True) for r in rows}
    if overrides != {"{}"}:
        print("\nconfig overrides: " + "; ".join(f"{r['run']}: {r['overrides'] or 'none'}" for r in rows))
    print(
        f"\nheads above {HEAD_LIMIT} structure only / heads where the rule beats the constant and the model, "
        "half given:"
    )
    for r in rows:
        for corpus in CORPORA:
            if r[corpus]:
                above = ", ".join(r[corpus]["heads_above"]) or "none"
                ahead = ", ".join(r[corpus]["rule_ahead"]) or "none"
                print(f"  {r['run']}, {corpus}: {above} / {ahead}")
    a = means["all"]
    print(
        f"\nall validation files: no head above {HEAD_LIMIT} on {a['splits_without_head_above']} of {a['splits']} "
        f"splits; mean structure only {_f(a['structure_only'])} (target <= 0.95), half given {_f(a['half_given'])} "
        f"(target <= 0.85; the rule {_f(a['half_given_rule'])})"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path, help="quality_real.py --out folders or their quality_real.json")
    p.add_argument("--init", action="store_true", help="the fine-tuned part (quality_real.py --init) instead")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = p.parse_args(argv)
    key = "real_init" if args.init else "real"
    rows = [split_row(path.name if path.is_dir() else path.parent.name, load(path, key)) for path in args.runs]
    means = summary(rows)
    if args.json:
        print(json.dumps({"splits": rows, "mean": means}, indent=1))
    else:
        print_table(rows, means)
    return 0


if __name__ == "__main__":
    sys.exit(main())
