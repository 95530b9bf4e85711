"""A real, tiny, quickly trained model for prediction and write-back tests (seconds on 2 cores).

Every regression target is a head, so every parameter gets predictions; the built-in corpus and
the ``tiny`` preset, as ``scripts/train.py --debug`` uses them."""

from __future__ import annotations

from pathlib import Path

import torch

from core.config import config_from_dict
from core.data.preprocess import prepare
from core.learn.train_loop import LocalHooks, train
from core.serve.export import export_model

TINY = {
    "data": {"synth_count": 12, "window": 40, "overlap": 0, "max_tracks": 8, "workers": 0},
    "model": {"preset": "tiny", "dropout": 0.0},
    "train": {"epochs": 1, "batch_size": 16, "lr": 3e-3, "early_stopping": 0, "seed": 1, "loader_workers": 0},
}


def train_tiny_model(root: Path, overrides: dict | None = None) -> Path:
    """Train the tiny model under ``root`` (its run in ``root/run``) and return its exported folder;
    ``overrides``: sections of TINY to update (``{"loss": {"programme_floor": 0.1}}``)."""
    sections = {**TINY, "data": {**TINY["data"], "cache_dir": str(root / "cache")}}
    for k, v in (overrides or {}).items():
        sections[k] = {**sections.get(k, {}), **v}
    cfg = config_from_dict(sections)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model on a shared 2-core machine: more threads only wait on each other
    try:
        train(cfg, prepare(cfg.data), LocalHooks(root / "run"), progress=False, log=lambda s: None)
        return export_model(root / "run" / "checkpoints" / "best", root / "model")
    finally:
        torch.set_num_threads(threads)
