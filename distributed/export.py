"""The best trial of an experiment (local or on a bucket) -> a self-contained model folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.serve.export import export_model
from distributed.settings import BASELINE, OBJECTIVE, SearchError
from distributed.storage import local_experiment


def checkpoints(exp_path: str) -> list[dict[str, Any]]:
    """Every retained checkpoint of an experiment (Tune's trial folders and Train's runs) with its metrics."""
    exp = local_experiment(exp_path)
    found = []
    for metrics_file in exp.glob("**/checkpoint_*/metrics.json"):
        ck = metrics_file.parent
        try:
            m = json.loads(metrics_file.read_text())
        except (OSError, json.JSONDecodeError):
            continue  # a checkpoint being written right now
        if not isinstance(m.get(OBJECTIVE), (int, float)) or not (ck / "state.pt").is_file():
            continue
        trial = ck.parent.name.removeprefix("trial_")
        found.append({"trial_id": trial, "checkpoint": str(ck), "metrics": m})
    return found


def best_checkpoint(exp_path: str) -> dict[str, Any]:
    """The retained checkpoint with the lowest val_objective over all trials and epochs."""
    cks = checkpoints(exp_path)
    if not cks:
        raise SearchError(f"{exp_path}: no trial checkpoint with a {OBJECTIVE} (did any trial finish an epoch?)")
    return min(cks, key=lambda c: c["metrics"][OBJECTIVE])


def export_best(exp_path: str, out_dir: str | None = None, log=print) -> Path:
    """Export the best trial's best checkpoint as a self-contained model folder; returns it."""
    best = best_checkpoint(exp_path)
    m = best["metrics"]
    baseline = {k[len("baseline/") :]: v for k, v in m.items() if k.startswith("baseline/")}
    baseline[OBJECTIVE] = BASELINE
    out = Path(out_dir) if out_dir else Path(local_experiment(exp_path)) / "best_model"
    export_model(
        best["checkpoint"],
        out,
        metrics=m,
        baseline=baseline,
        source=f"{exp_path} trial {best['trial_id']} epoch {m.get('epoch')}",
    )
    log(
        f"best trial {best['trial_id']} (epoch {m.get('epoch')}, {OBJECTIVE} {m[OBJECTIVE]:.4f}; baseline "
        f"{BASELINE:.1f}) exported to {out}\nload it with: core.serve.export.load_exported({str(out)!r})"
    )
    return out
