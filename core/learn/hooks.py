"""How the training loop talks to whatever runs it: ``Hooks`` (rank, world size, device, a
per-epoch ``report`` with the checkpoint folder, ``resume_from``), ``LocalHooks`` for single-process
runs, and ``TrainingError`` for a run that cannot go on.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import torch

from core.learn.checkpoint import CHECKPOINT_FILE
from core.learn.faults import Fault


class TrainingError(RuntimeError):
    """Training cannot go on (non-finite loss, exploding gradients). The message says why and where."""


class Hooks:
    """How the loop talks to its runner. The default runs alone and keeps nothing."""

    rank: int = 0
    world_size: int = 1
    device: torch.device | None = None  # a runner that assigns devices (Ray Train) sets it
    fault: Fault | None = None  # an injected failure (core.learn.faults), for drills and tests

    def report(self, metrics: dict[str, Any], checkpoint_dir: str | None) -> None:
        """Called once per epoch by every rank; ``checkpoint_dir`` (rank 0 only) is deleted afterwards."""

    def resume_from(self) -> str | None:
        return None


class LocalHooks(Hooks):
    """Single-process runs: keep ``out_dir/checkpoints/last`` and ``.../best``; resume from a folder."""

    def __init__(self, out_dir: str | Path, resume: str | Path | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.resume = Path(resume) if resume else None
        self.history: list[dict[str, Any]] = []

    def report(self, metrics: dict[str, Any], checkpoint_dir: str | None) -> None:
        self.history.append(metrics)
        if checkpoint_dir is None:
            return
        ck = self.out_dir / "checkpoints"
        ck.mkdir(parents=True, exist_ok=True)
        targets = ["last"] + (["best"] if metrics.get("is_best") else [])
        for name in targets:
            tmp = ck / f".{name}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(checkpoint_dir, tmp)
            old = ck / f".{name}.old"
            shutil.rmtree(old, ignore_errors=True)
            if (ck / name).exists():
                os.replace(ck / name, old)
            os.replace(tmp, ck / name)  # the swap keeps a complete checkpoint on disk at every moment
            shutil.rmtree(old, ignore_errors=True)

    def resume_from(self) -> str | None:
        if self.resume is None:
            return None
        p = self.resume
        for cand in (p, p / "checkpoints" / "last", p / "last"):
            if (cand / CHECKPOINT_FILE).is_file():
                return str(cand)
        raise FileNotFoundError(f"--resume {p}: no {CHECKPOINT_FILE} in it, nor in checkpoints/last under it")
