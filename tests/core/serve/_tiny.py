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


def train_tiny_model(root: Path) -> Path:
    """Train the tiny model under ``root`` and return its exported folder."""
    cfg = config_from_dict({**TINY, "data": {**TINY["data"], "cache_dir": str(root / "cache")}})
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model on a shared 2-core machine: more threads only wait on each other
    try:
        train(cfg, prepare(cfg.data), LocalHooks(root / "run"), progress=False, log=lambda s: None)
        return export_model(root / "run" / "checkpoints" / "best", root / "model")
    finally:
        torch.set_num_threads(threads)
