"""The Ray Train path around ``core.learn.train_loop.train``: one per-worker function at 0, 1 or N workers.

- ``train_worker(config)`` is what every DDP worker runs (TorchTrainer has already initialised the
  gloo/NCCL process group, so the loop wraps DDP itself when the world size is > 1).
- ``TuneHooks`` is the 0-worker path: the loop runs inside the Tune trial process and reports to
  Tune directly (no Train controller, no worker processes: ~0.7 s of Ray overhead per trial).
- ``fit(...)`` builds the ``TorchTrainer`` (at 0 workers it runs the loop in-process); its run is
  named ``<experiment>/train_runs/<trial_id>`` inside a search, so re-running the same name (a restored
  Tune experiment) resumes from the run's last checkpoint.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray.train
import torch
from ray import tune
from ray.train import Checkpoint, CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer, get_device

from core.config import Config, config_from_dict
from core.learn.checkpoint import json_safe
from core.learn.train_loop import Hooks, LocalHooks, train
from distributed.data import load_cached
from distributed.storage import is_uri

OBJECTIVE = "val_objective"


def clean_metrics(metrics: dict[str, Any]) -> dict[str, float | int | bool]:
    """Numbers only, non-finite values dropped (Tune needs plain numbers; the loop raises on a NaN loss)."""
    return {k: v for k, v in json_safe(metrics).items() if isinstance(v, (bool, int, float))}


class RayTrainHooks(Hooks):
    """Hooks for one Ray Train worker: every rank reports (it is a barrier), rank 0 with the checkpoint."""

    def __init__(self) -> None:
        ctx = ray.train.get_context()
        self.rank, self.world_size = ctx.get_world_rank(), ctx.get_world_size()
        # Ray sets each GPU worker's CUDA_VISIBLE_DEVICES: its device, not LOCAL_RANK, is the one to use
        device = get_device()
        self.device = device if device.type == "cuda" else None

    def report(self, metrics: dict[str, Any], checkpoint_dir: str | None) -> None:
        ck = Checkpoint.from_directory(checkpoint_dir) if checkpoint_dir else None
        ray.train.report(clean_metrics(metrics), checkpoint=ck)  # copies the folder to storage before returning

    def resume_from(self) -> str | None:
        ck = ray.train.get_checkpoint()  # set when a run of the same name already has one
        # to_directory: a folder that outlives this call (as_directory's may be deleted on exit for cloud storage)
        return ck.to_directory(tempfile.mkdtemp(prefix="xmlai-resume-")) if ck else None


class TuneHooks(Hooks):
    """Hooks for a 0-worker trial: the loop runs in the Tune trial process and reports to Tune."""

    def report(self, metrics: dict[str, Any], checkpoint_dir: str | None) -> None:
        ck = tune.Checkpoint.from_directory(checkpoint_dir) if checkpoint_dir else None
        tune.report(clean_metrics(metrics), checkpoint=ck)

    def resume_from(self) -> str | None:
        ck = tune.get_checkpoint()  # set when a restored experiment resumes this trial
        return ck.to_directory(tempfile.mkdtemp(prefix="xmlai-resume-")) if ck else None


def load_prepared(data_path: str):
    """The prepared windows a trial trains on (loaded from the experiment's cache, never re-parsed)."""
    return load_cached(data_path)


def _limit_threads(cpus: float | None) -> None:
    # Each trial/worker gets a CPU budget from Ray; torch would otherwise start one thread per core
    # in every process and the trials would fight over the cores.
    if cpus:
        torch.set_num_threads(max(1, int(cpus)))


def as_config(cfg: Config | dict[str, Any]) -> Config:
    """A Config as given, or built (and validated) from its nested-dict form; the one conversion a trial makes."""
    return cfg if isinstance(cfg, Config) else config_from_dict(cfg)


def train_worker(config: dict[str, Any]) -> None:
    """Per-worker training function for TorchTrainer: ``config = {"cfg": Config, "data_path": abs path}``."""
    _limit_threads(config.get("cpus_per_worker"))
    cfg = as_config(config["cfg"])
    hooks = RayTrainHooks()
    train(
        cfg,
        load_prepared(config["data_path"]),
        hooks,
        progress=False,
        log=print if config.get("verbose") else (lambda s: None),
    )


def train_in_trial(config: dict[str, Any]) -> None:
    """The 0-worker path: the same loop in the Tune trial process."""
    _limit_threads(config.get("cpus_per_worker"))
    cfg = as_config(config["cfg"])
    train(
        cfg,
        load_prepared(config["data_path"]),
        TuneHooks(),
        progress=False,
        log=print if config.get("verbose") else (lambda s: None),
    )


@dataclass
class RunSummary:
    """What a training run left: its folder, its latest checkpoint folder, the last metrics, the error if any."""

    path: str | None
    checkpoint_dir: str | None
    metrics: dict[str, Any] = field(default_factory=dict)
    error: BaseException | None = None


def fit(
    cfg: Config | dict[str, Any],
    data_path: str,
    *,
    num_workers: int,
    storage_path: str,
    name: str,
    use_gpu: bool = False,
    cpus_per_worker: float = 1.0,
    gpus_per_worker: float = 0.0,
    callbacks: list | None = None,
    max_failures: int = 1,
    verbose: bool = False,
) -> RunSummary:
    """Run ``core.learn.train_loop.train`` on ``num_workers`` workers; an existing ``storage_path/name`` resumes.

    0 runs the loop in this process (with ``LocalHooks``: Ray Train's own local mode keeps no checkpoint),
    1 is one Ray Train worker process, N > 1 is DDP over N workers (gloo on CPU, NCCL on GPU).
    """
    if not os.path.isabs(storage_path) and not is_uri(storage_path):
        raise ValueError(
            f"storage_path must be absolute or a URI, got {storage_path!r} (Ray resolves it on every node)"
        )
    cfg = as_config(cfg)
    if num_workers == 0:
        return _fit_in_process(cfg, data_path, Path(storage_path) / name, verbose)
    resources = {"CPU": cpus_per_worker}
    if use_gpu or gpus_per_worker:
        resources["GPU"] = gpus_per_worker or 1.0
    trainer = TorchTrainer(
        train_worker,
        train_loop_config={
            "cfg": cfg,
            "data_path": str(data_path),
            "cpus_per_worker": cpus_per_worker,
            "verbose": verbose,
        },
        scaling_config=ScalingConfig(
            num_workers=num_workers, use_gpu="GPU" in resources, resources_per_worker=resources
        ),
        run_config=RunConfig(
            name=name,
            storage_path=storage_path,
            callbacks=callbacks or [],
            failure_config=FailureConfig(max_failures=max_failures),
            # keep the best epoch (for export) and the latest (for resume; Train always keeps it)
            checkpoint_config=CheckpointConfig(
                num_to_keep=2, checkpoint_score_attribute=OBJECTIVE, checkpoint_score_order="min"
            ),
        ),
    )
    res = trainer.fit()
    return RunSummary(res.path, res.checkpoint.path if res.checkpoint else None, dict(res.metrics or {}), res.error)


def _fit_in_process(cfg: Config, data_path: str, run_dir: Path, verbose: bool) -> RunSummary:
    last = run_dir / "checkpoints" / "last"
    hooks = LocalHooks(run_dir, resume=last if (last / "state.pt").is_file() else None)
    res = train(
        cfg,
        load_prepared(data_path),
        hooks,
        progress=False,
        log=print if verbose else (lambda s: None),
    )
    return RunSummary(str(run_dir), str(last), res.history[-1] if res.history else {})


def checkpoint_local_dir(path: str) -> str:
    """A local folder for a checkpoint path reported by Train (downloaded when it is on a cloud bucket)."""
    if not is_uri(path) and Path(path).is_dir():
        return path
    return Checkpoint(path).to_directory(tempfile.mkdtemp(prefix="xmlai-ck-"))
