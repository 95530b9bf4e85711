"""Export a checkpoint as a self-contained model folder, and load one back as a ``Predictor``.

An exported model folder holds ``weights.pt``, ``model.ts`` (TorchScript), ``config.yaml``,
``scalers.json``, ``metrics.json``, ``MODEL_CARD.md`` and ``xmlai.json`` (format version). A mean of
models (``export_mean``) also holds each member's config under ``members/<i>/config.yaml``, listed in
``xmlai.json`` with its weight. Nothing here unpickles: weights load with ``weights_only=True``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from core.config import load_config
from core.data.batch import MODEL_FEATURES
from core.data.context import N_SUMMARY, N_SUMMARY_MEAN_ONLY
from core.learn.checkpoint import (
    CHECKPOINT_FILE,
    FORMAT_VERSION,
    PersistenceError,
    checkpoint_dir,
    json_safe,
    load_checkpoint,
    load_config_scalers,
)
from core.learn.ensemble import MeanModel, load_mean
from core.learn.model import build_model
from core.serve.predict import Predictor


def export_model(
    checkpoint_dir: str | Path,
    out_dir: str | Path,
    metrics: dict[str, Any] | None = None,
    baseline: dict[str, Any] | None = None,
    source: str = "",
) -> Path:
    """Write a self-contained model folder from a checkpoint folder. Returns the folder."""
    checkpoint_dir, out = Path(checkpoint_dir), Path(out_dir)
    model, cfg, scalers = load_checkpoint(checkpoint_dir)
    if metrics is None and (checkpoint_dir / "metrics.json").is_file():
        metrics = json.loads((checkpoint_dir / "metrics.json").read_text())
    _write_folder(out, model, cfg, scalers, metrics or {}, baseline, source, {})
    return out


def export_mean(
    checkpoint_dirs: list[str | Path],
    out_dir: str | Path,
    weights: list[float] | None = None,
    metrics: dict[str, Any] | None = None,
    baseline: dict[str, Any] | None = None,
    sources: list[str] | None = None,
) -> Path:
    """Write one model folder that predicts the weighted mean of several checkpoints' outputs
    (``core.learn.ensemble``; they must share their data). ``config.yaml`` is the first member's (data,
    windows and key threshold come from it); each member's own config is under ``members/<i>/``."""
    dirs, out = [Path(d) for d in checkpoint_dirs], Path(out_dir)
    model, cfgs, scalers = load_mean(dirs, weights)
    sources = sources or [str(d) for d in dirs]
    members = []
    for i, (cfg, w, src) in enumerate(zip(cfgs, model.weights.tolist(), sources)):
        rel = f"members/{i}/config.yaml"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        cfg.save(out / rel)
        members.append({"config": rel, "weight": w, "source": src})
    source = "mean of " + ", ".join(f"{m['weight']:.3g} x {m['source']}" for m in members)
    _write_folder(out, model, cfgs[0], scalers, metrics or {}, baseline, source, {"members": members})
    return out


def _write_folder(out: Path, model, cfg, scalers, metrics, baseline, source: str, meta: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    torch.save({"format_version": FORMAT_VERSION, "model": model.state_dict()}, out / "weights.pt")
    torch.jit.script(model).save(str(out / "model.ts"))
    cfg.save(out / "config.yaml")
    scalers.save(out / "scalers.json")
    (out / "metrics.json").write_text(
        json.dumps({"model": json_safe(metrics), "baseline": json_safe(baseline or {})}, indent=1)
    )
    (out / "xmlai.json").write_text(
        json.dumps(
            {
                "format_version": FORMAT_VERSION,
                "features": list(MODEL_FEATURES),
                "summary_features": N_SUMMARY,
                "source": source,
                **meta,
            },
            indent=1,
        )
    )
    (out / "MODEL_CARD.md").write_text(_model_card(cfg, metrics, source, meta.get("members")))


def _model_card(cfg, metrics: dict[str, Any], source: str, members: list[dict[str, Any]] | None = None) -> str:
    def f(k):
        return fmt(metrics.get(k))

    def fmt(v):
        return "n/a" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)

    ratios = "\n".join(f"| {k[6:]} | {f(k)} |" for k in sorted(metrics) if k.startswith("ratio/"))
    if members:
        rows = "\n".join(
            f"| {i} | {m['weight']:.3g} | {m['source']} | `{m['config']}` |" for i, m in enumerate(members)
        )
        arch = f"""the weighted mean of {len(members)} models' outputs (every head, key and
  interpolation logits included); the first member's below, each member's config in its file

| member | weight | source | config |
|---|---|---|---|
{rows}

- First member: d_model {cfg.model.d_model}, {cfg.model.n_layers} layers, {cfg.model.n_heads} heads,
  feed-forward {cfg.model.d_ff}, attention {cfg.model.attention}"""
    else:
        arch = f"""d_model {cfg.model.d_model}, {cfg.model.n_layers} layers, {cfg.model.n_heads} heads,
  feed-forward {cfg.model.d_ff}, attention {cfg.model.attention}"""
    scored = metrics.get("members") if isinstance(metrics.get("members"), dict) else {}
    compared = "".join(
        f"| {name} | {fmt(m.get('val_objective_vs_data'))} | {fmt(m.get('val_objective_ctx_vs_data'))} |\n"
        for name, m in [*((f"member {i}", scored[i]) for i in sorted(scored, key=int)), ("this model", metrics)]
    )
    if scored:
        compared = (
            "\nThe members and their mean on the same validation files, against those files' own best constant:\n\n"
            "| model | structure only | half the clips given |\n|---|---|---|\n" + compared
        )
    else:
        compared = ""
    maes = "\n".join(f"| {k[4:]} | {f(k)} | {f('baseline/' + k)} |" for k in sorted(metrics) if k.startswith("mae/"))
    return f"""# xmlai model

Predicts how an editor animates a timeline (scale, rotation, centre, opacity, audio level and pan,
keyframe placement and interpolation) from the edit's structure and any keyframes already set.

- Source: {source or "n/a"}
- Architecture: {arch}
- Data: step {cfg.data.step_s} s, windows of {cfg.data.window} steps, up to {cfg.data.max_tracks} tracks
- Epoch of these weights: {f("epoch")}

## Validation
`val_objective` = mean over heads of model loss / constant-baseline loss (the baseline scores 1.0).

- val_objective (structure only): {f("val_objective")}
- val_objective (half the clips given as context): {f("val_objective_ctx")}
- keyframe F1: {f("keyframe_f1")} (within one step: {f("keyframe_f1_within1")})
- interpolation accuracy: {f("interp_acc")}
- against the validation files' own best constant: {f("val_objective_vs_data")} structure only,
  {f("val_objective_ctx_vs_data")} half the clips given
{compared}
| head | loss / baseline |
|---|---|
{ratios}

| target | MAE (native units) | baseline MAE |
|---|---|---|
{maes}

## Use
```python
from core.serve.export import load_exported
predictor = load_exported("THIS_FOLDER")
annotated = predictor.predict_file("timeline.xml")
```

Limits: trained on the data above; editors' personal style (where a picture-in-picture sits, how
deep music ducks) is learnable only as an average unless some keyframes are given as context.
"""


def load_exported(d: str | Path, torchscript: bool = False):
    """Load an exported model folder into a ``Predictor`` (eager weights, or the TorchScript file)."""
    d = Path(d)
    meta_path = d / "xmlai.json"
    if not meta_path.is_file():
        raise PersistenceError(f"{d}: xmlai.json is missing; not an exported xmlai model")
    meta = json.loads(meta_path.read_text())
    if meta.get("format_version") != FORMAT_VERSION:
        raise PersistenceError(f"{d}: export format {meta.get('format_version')}, this xmlai reads {FORMAT_VERSION}")
    cfg, scalers = load_config_scalers(d)
    if torchscript:  # a TorchScript file reads the summary columns of its day (the robust block came last)
        model = torch.jit.load(str(d / "model.ts"), map_location="cpu")
        return Predictor(model.eval(), cfg, scalers, n_summary=int(meta.get("summary_features", N_SUMMARY_MEAN_ONLY)))
    st = torch.load(d / "weights.pt", map_location="cpu", weights_only=True)
    if meta.get("members"):  # a mean of models (export_mean): each member's architecture from its own config
        members = [build_model(load_config(_member_config(d, m)).model, len(MODEL_FEATURES)) for m in meta["members"]]
        model = MeanModel(members, [m["weight"] for m in meta["members"]])
    else:
        model = build_model(cfg.model, n_features=len(MODEL_FEATURES))
    model.load_state_dict(st["model"])  # weights of any earlier summary layout load (see the model's pre-hook)
    return Predictor(model.eval(), cfg, scalers)


def _member_config(d: Path, member: dict[str, Any]) -> Path:
    rel = Path(str(member.get("config", "")))
    if rel.is_absolute() or ".." in rel.parts or not (d / rel).is_file():
        raise PersistenceError(f"{d / 'xmlai.json'}: member config {str(rel)!r} is not a file inside the folder")
    return d / rel


def load_predictor(path: str | Path, torchscript: bool = False) -> Predictor:
    """A ``Predictor`` from an exported model folder (``load_exported``), or straight from a training run's
    best checkpoint (``scripts/train.py --out RUN``) or a checkpoint folder: a run annotates and evaluates
    without an export. ``torchscript`` needs an exported folder (a checkpoint has no TorchScript file)."""
    p = Path(path)
    if (p / "xmlai.json").is_file():
        return load_exported(p, torchscript=torchscript)
    try:
        d = checkpoint_dir(p)
    except PersistenceError:
        raise PersistenceError(
            f"{p}: neither an exported model (xmlai.json) nor a training run or checkpoint folder ({CHECKPOINT_FILE})"
        ) from None
    if torchscript:
        raise PersistenceError(f"{p}: a checkpoint has no TorchScript file; export it first (scripts/export_best.py)")
    model, cfg, scalers = load_checkpoint(d)
    return Predictor(model, cfg, scalers)
