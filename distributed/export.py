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
from core.serve.export import export_mean, export_model
from distributed.settings import BASELINE, OBJECTIVE, SearchError
from distributed.storage import local_experiment

REFIT_DIR, REFIT_RESULT = "refit", "refit.json"  # written by distributed.refit (which imports this module)
MEAN_LABEL = "mean"  # stage 2's row for the mean of the best refit and the default config


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
    """The checkpoint an experiment's best model comes from, and where it comes from (in words). Where stage 2
    chose the mean of two refits (``distributed.refit.mean_row``) the dict has their ``checkpoints`` instead."""
    exp = local_experiment(exp_path)
    refit = exp / REFIT_RESULT
    if refit.is_file():
        chosen = json.loads(refit.read_text()).get("chosen") or {}
        if chosen.get("checkpoints"):
            found = [
                _in_experiment(exp, rel, path) for rel, path in zip(chosen["checkpoints_rel"], chosen["checkpoints"])
            ]
            if all(found):
                ck = {**chosen, "checkpoints": found}
                return ck, f"{exp_path} {chosen_source(chosen)}"
        elif chosen:
            path = _in_experiment(exp, chosen.get("checkpoint_rel"), chosen.get("checkpoint"))
            if path:
                ck = {"trial_id": chosen["trial_id"], "checkpoint": path, "metrics": chosen["metrics"]}
                return ck, f"{exp_path} {chosen_source(chosen)}"
    best = best_checkpoint(exp_path)
    return best, f"{exp_path} trial {best['trial_id']} epoch {best['metrics'].get('epoch')}"


def _in_experiment(exp: Path, rel: str | None, path: str | None) -> str | None:
    """A checkpoint folder: the path inside the experiment (it holds for a bucket's download too), else the
    absolute one; None where neither is there."""
    for p in (exp / rel if rel else None, path):
        if p and Path(p).is_dir():
            return str(p)
    return None


def chosen_source(row: dict[str, Any]) -> str:
    """Where stage 2's chosen model comes from, in words (after the experiment's path)."""
    if row.get("checkpoints"):
        return f"mean of the refits of {' and '.join(row['labels'])} (trials {', '.join(row['members'])})"
    return f"refit of {row['label']} (trial {row['trial_id']})"


def export_choice(ck: dict[str, Any], out_dir: str | Path, source: str, log=print) -> Path:
    """``export_checkpoint``, or for a mean of refits (``checkpoints``) one model folder averaging them."""
    if not ck.get("checkpoints"):
        return export_checkpoint(ck, out_dir, source, log)
    m = ck["metrics"]
    labels = ck.get("labels") or [None] * len(ck["checkpoints"])
    sources = [f"refit of {lb} ({c})" if lb else str(c) for lb, c in zip(labels, ck["checkpoints"])]
    out = export_mean(ck["checkpoints"], out_dir, metrics=m, baseline=_baseline(m), sources=sources)
    log(
        f"{source}: {OBJECTIVE} {m[OBJECTIVE]:.4f} (baseline {BASELINE:.1f}) exported to {out}\n"
        f"load it with: core.serve.export.load_exported({str(out)!r})"
    )
    return out


def export_checkpoint(ck: dict[str, Any], out_dir: str | Path, source: str, log=print) -> Path:
    """One checkpoint (``{"trial_id", "checkpoint", "metrics"}``) -> a self-contained model folder."""
    m = ck["metrics"]
    out = Path(out_dir)
    export_model(ck["checkpoint"], out, metrics=m, baseline=_baseline(m), source=source)
    log(
        f"{source}: epoch {m.get('epoch')}, {OBJECTIVE} {m[OBJECTIVE]:.4f} (baseline {BASELINE:.1f}) exported to "
        f"{out}\nload it with: core.serve.export.load_exported({str(out)!r})"
    )
    return out


def export_run(path: str | Path, out_dir: str | Path | None = None, log=print) -> Path:
    """A training run's best checkpoint (``scripts/train.py --out RUN``; or a checkpoint folder) -> a
    self-contained model folder, by default ``RUN/best_model`` (``CHECKPOINT/model`` for a checkpoint folder)."""
    p = Path(path)
    ck = run_checkpoint(p)
    d = Path(ck["checkpoint"])
    out = Path(out_dir) if out_dir else (p / "best_model" if d != p else d / "model")
    return export_checkpoint(ck, out, f"run {d}", log)


def run_checkpoint(path: str | Path) -> dict[str, Any]:
    """A training run's (or checkpoint folder's) best checkpoint as ``{"trial_id", "checkpoint", "metrics"}``."""
    d = checkpoint_dir(path)
    metrics_file = d / "metrics.json"
    try:
        metrics = json.loads(metrics_file.read_text())
    except (OSError, ValueError) as e:
        raise PersistenceError(f"{metrics_file}: unreadable ({e})") from None
    if not isinstance(metrics, dict) or OBJECTIVE not in metrics:
        raise PersistenceError(f"{metrics_file}: no {OBJECTIVE}; not the metrics of a training checkpoint")
    return {"trial_id": None, "checkpoint": str(d), "metrics": metrics}


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
    return export_choice(ck, out, source, log)


def export_average(
    paths: list[str],
    out_dir: str | Path,
    weights: list[float] | None = None,
    evaluate: bool = True,
    draws: int = 4,
    log=print,
) -> Path:
    """One model folder that predicts the weighted mean of several models' outputs (``core.learn.ensemble``):
    each path a training run, a checkpoint folder or an experiment (its chosen checkpoint), all trained on the
    same data and split. With ``evaluate`` the members and their mean are scored on that split's validation
    files (``core.learn.assess``: against the files' own best constant, structure only and with
    ``train.eval_context`` of the clips given, the mean of ``draws`` draws); the mean's figures go into its
    ``metrics.json`` and model card, each member's beside them under ``members`` (keyed "0", "1", ...)."""
    cks, sources = [], []
    for path in paths:
        if is_run(path):
            ck = run_checkpoint(path)
            cks.append(ck)
            sources.append(f"run {ck['checkpoint']}")
        else:
            ck, source = chosen_checkpoint(path)
            if ck.get("checkpoints"):
                raise PersistenceError(f"{path}: its best model is itself a mean ({source}); give its runs instead")
            cks.append(ck)
            sources.append(source)
    dirs = [ck["checkpoint"] for ck in cks]
    metrics: dict[str, Any] = {}
    if evaluate:
        metrics = _evaluate_average(dirs, sources, weights, draws, log)
    out = export_mean(dirs, out_dir, weights, metrics=metrics, baseline=_baseline(metrics), sources=sources)
    log(f"exported to {out}\nload it with: core.serve.export.load_exported({str(out)!r})")
    return out


def _evaluate_average(dirs, sources, weights, draws: int, log) -> dict[str, Any]:
    from core.data.preprocess import prepare  # here: export without evaluation needs none of it
    from core.learn.assess import assess
    from core.learn.ensemble import load_mean

    mean, cfgs, scalers = load_mean(dirs, weights)
    cfg = cfgs[0]
    try:
        data = prepare(cfg.data)
    except (OSError, ValueError) as e:
        raise PersistenceError(
            f"cannot prepare the members' data to evaluate their mean ({e}); export with --no-eval to skip it"
        ) from None
    if not len(data.val["features"]):
        raise PersistenceError(f"{cfg.data.data_dir or 'the built-in corpus'}: no validation windows to evaluate on")
    context = cfg.train.eval_context or 0.5
    log(
        f"scoring {len(dirs)} models and their mean on {len(data.val['features'])} validation windows "
        f"(against the files' own best constant; half given: the mean of {draws} draws)"
    )
    rows = []
    for name, model in [*zip(sources, mean.members), ("their mean", mean)]:  # the mean holds its members
        s0 = assess(model, cfg, scalers, data.val, context=0.0)
        s1 = assess(model, cfg, scalers, data.val, context=context, seed=0, draws=draws)
        m = as_checkpoint_metrics(s0, s1)
        heads = " ".join(f"{h} {v:.3f}" for h, v in _heads(s0).items() if v is not None)
        log(
            f"  {name}: {m['val_objective_vs_data']:.3f} structure only / {m['val_objective_ctx_vs_data']:.3f} "
            f"with {context:g} given; per head, structure only: {heads}"
        )
        rows.append({"source": name, **m})
    mean, members = rows[-1], rows[:-1]
    for key, what in (("val_objective_vs_data", "structure only"), ("val_objective_ctx_vs_data", f"{context:g} given")):
        best = min(members, key=lambda r: r[key])
        verdict = "beats" if mean[key] < best[key] else "does not beat"
        log(f"  {what}: the mean {verdict} the best member ({mean[key]:.3f} against {best[key]:.3f}, {best['source']})")
    return {**rows[-1], "members": {str(i): r for i, r in enumerate(rows[:-1])}, "eval_draws": draws}


def _heads(s: dict) -> dict[str, float | None]:
    return {h: v["ratio_vs_data_constant"] for h, v in s["heads"].items()}


def as_checkpoint_metrics(s0: dict, s1: dict) -> dict[str, Any]:
    """Two ``core.learn.assess`` reports (structure only, clips given) under the names a training checkpoint's
    ``metrics.json`` uses (``core.learn.epoch.validate``)."""
    m: dict[str, Any] = {}
    for prefix, s in (("", s0), ("ctx_", s1)):
        tag = "_ctx" if prefix else ""
        m[f"val_objective{tag}"] = s["objective_vs_train_constant"]
        m[f"val_objective{tag}_vs_data"] = s["objective_vs_data_constant"]
        m[f"val_objective{tag}_vs_same_track"] = s["objective_vs_same_track"]
        for h, v in s["heads"].items():
            m[f"{prefix}ratio/{h}"] = v["ratio_vs_train_constant"]
            m[f"{prefix}vs_data/ratio/{h}"] = v["ratio_vs_data_constant"]
            if v.get("mae") is not None:
                m[f"{prefix}mae/{h}"] = v["mae"]
        for k in ("keyframe_f1", "keyframe_f1_within1", "interp_acc"):
            m[f"{prefix}{k}"] = s[k]
    for h, v in s0["comparators"]["train_constant"]["heads"].items():
        if v.get("mae") is not None:
            m[f"baseline/mae/{h}"] = v["mae"]
    return m


def _baseline(metrics: dict[str, Any]) -> dict[str, Any]:
    baseline = {k[len("baseline/") :]: v for k, v in metrics.items() if k.startswith("baseline/")}
    baseline[OBJECTIVE] = BASELINE
    return baseline
