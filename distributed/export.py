"""The best model of an experiment (local or on a bucket) -> a self-contained model folder.

With a refit stage (``distributed.refit``) the best model is the one stage 2 chose (``refit.json``): the
best refit at the full budget, or the default config's when no refit beats it. Without one, it is stage
1's best checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.learn.checkpoint import PersistenceError, checkpoint_dir
from core.serve.export import export_model
from distributed.settings import BASELINE, OBJECTIVE, SearchError
from distributed.storage import local_experiment

REFIT_DIR, REFIT_RESULT = "refit", "refit.json"  # written by distributed.refit (which imports this module)


def checkpoints(exp_path: str, include_refit: bool = False) -> list[dict[str, Any]]:
    """Every retained checkpoint of an experiment (Tune's trial folders and Train's runs) with its metrics.

    Stage 2's refits (``refit/``) are left out unless asked for: their val_objective is measured on other
    (the full) validation data and is not comparable with stage 1's."""
    exp = local_experiment(exp_path)
    found = []
    for metrics_file in exp.glob("**/checkpoint_*/metrics.json"):
        ck = metrics_file.parent
        if not include_refit and ck.relative_to(exp).parts[0] == REFIT_DIR:
            continue
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
    """The retained stage-1 checkpoint with the lowest val_objective over all trials and epochs."""
    cks = checkpoints(exp_path)
    if not cks:
        raise SearchError(f"{exp_path}: no trial checkpoint with a {OBJECTIVE} (did any trial finish an epoch?)")
    return min(cks, key=lambda c: c["metrics"][OBJECTIVE])


def chosen_checkpoint(exp_path: str) -> tuple[dict[str, Any], str]:
    """The checkpoint an experiment's best model comes from, and where it comes from (in words)."""
    exp = local_experiment(exp_path)
    refit = exp / REFIT_RESULT
    if refit.is_file():
        chosen = json.loads(refit.read_text()).get("chosen") or {}
        # the path inside the experiment (it holds for a bucket's download too), else the absolute one
        for path in (
            exp / chosen["checkpoint_rel"] if chosen.get("checkpoint_rel") else None,
            chosen.get("checkpoint"),
        ):
            if path and Path(path).is_dir():
                ck = {"trial_id": chosen["trial_id"], "checkpoint": str(path), "metrics": chosen["metrics"]}
                return ck, f"{exp_path} refit of {chosen['label']} (trial {chosen['trial_id']})"
    best = best_checkpoint(exp_path)
    return best, f"{exp_path} trial {best['trial_id']} epoch {best['metrics'].get('epoch')}"


def export_checkpoint(ck: dict[str, Any], out_dir: str | Path, source: str, log=print) -> Path:
    """One checkpoint (``{"trial_id", "checkpoint", "metrics"}``) -> a self-contained model folder."""
    m = ck["metrics"]
    baseline = {k[len("baseline/") :]: v for k, v in m.items() if k.startswith("baseline/")}
    baseline[OBJECTIVE] = BASELINE
    out = Path(out_dir)
    export_model(ck["checkpoint"], out, metrics=m, baseline=baseline, source=source)
    log(
        f"{source}: epoch {m.get('epoch')}, {OBJECTIVE} {m[OBJECTIVE]:.4f} (baseline {BASELINE:.1f}) exported to "
        f"{out}\nload it with: core.serve.export.load_exported({str(out)!r})"
    )
    return out


def export_run(path: str | Path, out_dir: str | Path | None = None, log=print) -> Path:
    """A training run's best checkpoint (``scripts/train.py --out RUN``; or a checkpoint folder) -> a
    self-contained model folder, by default ``RUN/best_model`` (``CHECKPOINT/model`` for a checkpoint folder)."""
    p = Path(path)
    d = checkpoint_dir(p)
    metrics_file = d / "metrics.json"
    try:
        metrics = json.loads(metrics_file.read_text())
    except (OSError, ValueError) as e:
        raise PersistenceError(f"{metrics_file}: unreadable ({e})") from None
    if not isinstance(metrics, dict) or OBJECTIVE not in metrics:
        raise PersistenceError(f"{metrics_file}: no {OBJECTIVE}; not the metrics of a training checkpoint")
    out = Path(out_dir) if out_dir else (p / "best_model" if d != p else d / "model")
    return export_checkpoint({"trial_id": None, "checkpoint": str(d), "metrics": metrics}, out, f"run {d}", log)


def is_run(path: str) -> bool:
    """Whether ``path`` is a local training run or checkpoint folder (``export_run``), not an experiment."""
    try:
        checkpoint_dir(path)
    except PersistenceError:
        return False
    return True


def export_best(exp_path: str, out_dir: str | None = None, log=print) -> Path:
    """Export the experiment's best model (stage 2's choice, else stage 1's best checkpoint); returns the folder."""
    ck, source = chosen_checkpoint(exp_path)
    out = Path(out_dir) if out_dir else Path(local_experiment(exp_path)) / "best_model"
    return export_checkpoint(ck, out, source, log)
