"""Export a checkpoint as a self-contained model folder, and load one back as a ``Predictor``.

An exported model folder holds ``weights.pt``, ``model.ts`` (TorchScript), ``config.yaml``,
``scalers.json``, ``metrics.json``, ``MODEL_CARD.md`` and ``xmlai.json`` (format version). Nothing
here unpickles: weights load with ``weights_only=True``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

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
    metrics = metrics or {}
    out.mkdir(parents=True, exist_ok=True)
    torch.save({"format_version": FORMAT_VERSION, "model": model.state_dict()}, out / "weights.pt")
    torch.jit.script(model).save(str(out / "model.ts"))
    shutil.copy(checkpoint_dir / "config.yaml", out / "config.yaml")
    shutil.copy(checkpoint_dir / "scalers.json", out / "scalers.json")
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
            },
            indent=1,
        )
    )
    (out / "MODEL_CARD.md").write_text(_model_card(cfg, metrics, source))
    return out


def _model_card(cfg, metrics: dict[str, Any], source: str) -> str:
    def f(k):
        v = metrics.get(k)
        return "n/a" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)

    ratios = "\n".join(f"| {k[6:]} | {f(k)} |" for k in sorted(metrics) if k.startswith("ratio/"))
    maes = "\n".join(f"| {k[4:]} | {f(k)} | {f('baseline/' + k)} |" for k in sorted(metrics) if k.startswith("mae/"))
    return f"""# xmlai model

Predicts how an editor animates a timeline (scale, rotation, centre, opacity, audio level and pan,
keyframe placement and interpolation) from the edit's structure and any keyframes already set.

- Source: {source or "n/a"}
- Architecture: d_model {cfg.model.d_model}, {cfg.model.n_layers} layers, {cfg.model.n_heads} heads,
  feed-forward {cfg.model.d_ff}, attention {cfg.model.attention}
- Data: step {cfg.data.step_s} s, windows of {cfg.data.window} steps, up to {cfg.data.max_tracks} tracks
- Epoch of these weights: {f("epoch")}

## Validation
`val_objective` = mean over heads of model loss / constant-baseline loss (the baseline scores 1.0).

- val_objective (structure only): {f("val_objective")}
- val_objective (half the clips given as context): {f("val_objective_ctx")}
- keyframe F1: {f("keyframe_f1")} (within one step: {f("keyframe_f1_within1")})
- interpolation accuracy: {f("interp_acc")}

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
    model = build_model(cfg.model, n_features=len(MODEL_FEATURES))
    model.load_state_dict(st["model"])  # weights of any earlier summary layout load (see the model's pre-hook)
    return Predictor(model.eval(), cfg, scalers)


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
