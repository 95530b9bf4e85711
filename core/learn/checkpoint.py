"""Versioned training checkpoints. Nothing here unpickles: weights load with ``weights_only=True``,
configs are YAML and scalers JSON.

A checkpoint folder holds ``state.pt`` (weights, optimizer, scheduler, RNG, epoch), ``config.yaml``
(the resolved config), ``scalers.json`` and ``metrics.json``. Exported model folders are
``core.serve.export``'s.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch

from core.config import load_config
from core.data.batch import MODEL_FEATURES
from core.data.scalers import Scalers
from core.learn.model import build_model

FORMAT_VERSION = 1
CHECKPOINT_FILE = "state.pt"


class PersistenceError(RuntimeError):
    """A checkpoint or export folder is missing a file or has another format version."""


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The bare model under DDP / torch.compile wrappers, so state-dict keys never change with world size."""
    while True:
        if hasattr(model, "module"):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def json_safe(d: dict[str, Any]) -> dict[str, Any]:
    """Metrics as strict JSON: non-finite floats become null, non-scalar values are dropped."""
    out = {}
    for k, v in d.items():
        if isinstance(v, bool) or v is None or isinstance(v, str):
            out[k] = v
        elif isinstance(v, (int, float)):
            out[k] = None if isinstance(v, float) and not math.isfinite(v) else v  # JSON has no NaN
        elif isinstance(v, dict):
            out[k] = json_safe(v)
    return out


def save_checkpoint_dir(d: str | Path, state: dict[str, Any], cfg, scalers, metrics: dict[str, Any]) -> None:
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    torch.save({"format_version": FORMAT_VERSION, **state}, d / CHECKPOINT_FILE)
    (d / "config.yaml").write_text(cfg.to_yaml())
    scalers.save(d / "scalers.json")
    (d / "metrics.json").write_text(json.dumps(json_safe(metrics), indent=1))


def load_state(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise PersistenceError(f"{path}: no such checkpoint file")
    st = torch.load(path, map_location="cpu", weights_only=True)
    v = st.get("format_version")
    if v != FORMAT_VERSION:
        raise PersistenceError(f"{path}: checkpoint format version {v}, this xmlai reads {FORMAT_VERSION}")
    return st


def load_config_scalers(d: Path):
    """The resolved config and the scalers stored beside a checkpoint or an export."""
    for name in ("config.yaml", "scalers.json"):
        if not (d / name).is_file():
            raise PersistenceError(f"{d}: {name} is missing; not an xmlai checkpoint or export")
    return load_config(d / "config.yaml"), Scalers.load(d / "scalers.json")


def load_checkpoint(d: str | Path):
    """Rebuild (model in eval mode, config, scalers) from a checkpoint folder."""
    d = Path(d)
    cfg, scalers = load_config_scalers(d)
    st = load_state(d / CHECKPOINT_FILE)
    model = build_model(cfg.model, n_features=len(MODEL_FEATURES))
    model.load_state_dict(st["model"])
    model.eval()
    return model, cfg, scalers
