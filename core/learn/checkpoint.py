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
from core.learn.model import OPTIONAL_WEIGHTS, build_model

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


def checkpoint_dir(path: str | Path) -> Path:
    """The checkpoint folder ``path`` names: itself where it holds the weights, else a run folder's
    (``scripts/train.py --out RUN``) ``checkpoints/best``, or a checkpoints folder's ``best``; a
    PersistenceError where none of them does."""
    p = Path(path)
    for d in (p, p / "checkpoints" / "best", p / "best"):
        if (d / CHECKPOINT_FILE).is_file():
            return d
    raise PersistenceError(f"{p}: no {CHECKPOINT_FILE} in it, nor in checkpoints/best under it")


def init_weights(model: torch.nn.Module, path: str | Path, feature_names) -> Path:
    """Copy into ``model`` the weights of the checkpoint at ``path`` (a checkpoint folder, or a run
    folder: its ``checkpoints/best``); returns the folder used. The checkpoint must have been trained
    on the same input features and hold exactly the model's weights with the same shapes, else a
    PersistenceError names the file and what differs. Read with ``weights_only=True``; the scalers
    stay the new run's own."""
    d = checkpoint_dir(path)
    try:  # the names only: Scalers.load would refuse other features without naming the file
        theirs_f = list(json.loads((d / "scalers.json").read_text())["feature_names"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise PersistenceError(f"{d / 'scalers.json'}: unreadable or without feature_names ({e})") from None
    ours_f = list(feature_names)
    if theirs_f != ours_f:
        diff = sorted(set(theirs_f) ^ set(ours_f))[:5] or ["(same names, another order)"]
        raise PersistenceError(
            f"{d / 'scalers.json'}: trained on other input features ({len(theirs_f)} against this "
            f"model's {len(ours_f)}; differing: {', '.join(diff)})"
        )
    weights = load_state(d / CHECKPOINT_FILE)["model"]
    own = model.state_dict()
    problems = [f"missing {k}" for k in own if k not in weights and k not in OPTIONAL_WEIGHTS]
    problems += [f"unexpected {k}" for k in weights if k not in own]
    problems += [
        f"{k} {tuple(weights[k].shape)} vs {tuple(v.shape)}"
        for k, v in own.items()
        if k in weights and tuple(weights[k].shape) != tuple(v.shape)
    ]
    if problems:
        shown = "; ".join(problems[:4]) + (f"; and {len(problems) - 4} more" if len(problems) > 4 else "")
        raise PersistenceError(f"{d / CHECKPOINT_FILE}: weights do not fit this model (another preset?): {shown}")
    # what the older weights lack keeps this (new) model's own values: fine-tuning trains the current model
    model.load_state_dict({**{k: v for k, v in own.items() if k not in weights}, **weights})
    return d
