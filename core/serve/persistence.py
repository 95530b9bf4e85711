"""Versioned save / load / export. Nothing here unpickles: weights load with ``weights_only=True``,
configs are YAML and scalers JSON.

A checkpoint folder holds ``state.pt`` (weights, optimizer, scheduler, RNG, epoch), ``config.yaml``
(the resolved config), ``scalers.json`` and ``metrics.json``. An exported model folder holds
``weights.pt``, ``model.ts`` (TorchScript), ``config.yaml``, ``scalers.json``, ``metrics.json``,
``MODEL_CARD.md`` and ``xmlai.json`` (format version); ``load_exported(dir)`` rebuilds a predictor.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import torch

FORMAT_VERSION = 1
CHECKPOINT_FILE = "state.pt"


class PersistenceError(RuntimeError):
    pass


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The bare model under DDP / torch.compile wrappers, so state-dict keys never change with world size."""
    while True:
        if hasattr(model, "module"):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def _json_safe(d: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if isinstance(v, bool) or v is None or isinstance(v, str):
            out[k] = v
        elif isinstance(v, (int, float)):
            out[k] = None if isinstance(v, float) and not math.isfinite(v) else v  # JSON has no NaN
        elif isinstance(v, dict):
            out[k] = _json_safe(v)
    return out


def save_checkpoint_dir(d: str | Path, state: dict[str, Any], cfg, scalers, metrics: dict[str, Any]) -> None:
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    torch.save({"format_version": FORMAT_VERSION, **state}, d / CHECKPOINT_FILE)
    (d / "config.yaml").write_text(cfg.to_yaml())
    scalers.save(d / "scalers.json")
    (d / "metrics.json").write_text(json.dumps(_json_safe(metrics), indent=1))


def load_state(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise PersistenceError(f"{path}: no such checkpoint file")
    st = torch.load(path, map_location="cpu", weights_only=True)
    v = st.get("format_version")
    if v != FORMAT_VERSION:
        raise PersistenceError(f"{path}: checkpoint format version {v}, this xmlai reads {FORMAT_VERSION}")
    return st


def _load_config_scalers(d: Path):
    from core.config import load_config
    from core.data.preprocess import Scalers

    for name in ("config.yaml", "scalers.json"):
        if not (d / name).is_file():
            raise PersistenceError(f"{d}: {name} is missing; not an xmlai checkpoint or export")
    return load_config(d / "config.yaml"), Scalers.load(d / "scalers.json")


def load_checkpoint(d: str | Path):
    """Rebuild (model in eval mode, config, scalers) from a checkpoint folder."""
    from core.data.batch import MODEL_FEATURES
    from core.learn.model import build_model

    d = Path(d)
    cfg, scalers = _load_config_scalers(d)
    st = load_state(d / CHECKPOINT_FILE)
    model = build_model(cfg.model, n_features=len(MODEL_FEATURES))
    model.load_state_dict(st["model"])
    model.eval()
    return model, cfg, scalers


def export_model(
    checkpoint_dir: str | Path,
    out_dir: str | Path,
    metrics: dict[str, Any] | None = None,
    baseline: dict[str, Any] | None = None,
    source: str = "",
) -> Path:
    """Write a self-contained model folder from a checkpoint folder. Returns the folder."""
    from core.data.batch import MODEL_FEATURES

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
        json.dumps({"model": _json_safe(metrics), "baseline": _json_safe(baseline or {})}, indent=1)
    )
    (out / "xmlai.json").write_text(
        json.dumps({"format_version": FORMAT_VERSION, "features": list(MODEL_FEATURES), "source": source}, indent=1)
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
from core.serve.persistence import load_exported
predictor = load_exported("THIS_FOLDER")
annotated = predictor.predict_file("timeline.xml")
```

Limits: trained on the data above; editors' personal style (where a picture-in-picture sits, how
deep music ducks) is learnable only as an average unless some keyframes are given as context.
"""


def load_exported(d: str | Path, torchscript: bool = False):
    """Load an exported model folder into a ``Predictor`` (eager weights, or the TorchScript file)."""
    from core.data.batch import MODEL_FEATURES
    from core.learn.model import build_model
    from core.serve.predict import Predictor

    d = Path(d)
    meta_path = d / "xmlai.json"
    if not meta_path.is_file():
        raise PersistenceError(f"{d}: xmlai.json is missing; not an exported xmlai model")
    meta = json.loads(meta_path.read_text())
    if meta.get("format_version") != FORMAT_VERSION:
        raise PersistenceError(f"{d}: export format {meta.get('format_version')}, this xmlai reads {FORMAT_VERSION}")
    cfg, scalers = _load_config_scalers(d)
    if torchscript:
        model = torch.jit.load(str(d / "model.ts"), map_location="cpu")
    else:
        st = torch.load(d / "weights.pt", map_location="cpu", weights_only=True)
        model = build_model(cfg.model, n_features=len(MODEL_FEATURES))
        model.load_state_dict(st["model"])
    model.eval()
    return Predictor(model, cfg, scalers)
