"""The one training function every path runs: in-process (scripts/train.py), a Tune trial
process (workers_per_trial 0) and each of N Ray Train DDP workers.

The loop talks to whatever runs it through ``Hooks``: rank/world size, ``report`` once per epoch on
every rank (rank 0 also hands over a folder holding the checkpoint), and ``resume_from``. DDP wraps
the model only when torch.distributed is initialised with world size > 1; rank 0 alone writes.
"""

from __future__ import annotations

import math
import os
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DistributedSampler

from core.config import Config
from core.data.batch import MODEL_FEATURES
from core.learn.average import WeightAverage
from core.learn.checkpoint import CHECKPOINT_FILE, init_weights, load_state, save_checkpoint_dir, unwrap
from core.learn.epoch import format_epoch, train_epoch, validate
from core.learn.evaluate import noise_floor
from core.learn.hooks import Hooks, LocalHooks, TrainingError
from core.learn.loaders import build_loaders
from core.learn.loss import MultiTrackLoss
from core.learn.model import build_model, count_parameters
from core.learn.rules import constant_of

# The runner's side of the loop, importable from here as before the split into modules.
__all__ = [
    "train",
    "TrainResult",
    "Hooks",
    "LocalHooks",
    "TrainingError",
    "resolve_device",
]


@dataclass
class TrainResult:
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=dict)
    baseline: dict[str, float] = field(default_factory=dict)
    noise_floor: dict[str, float] | None = None
    epochs_run: int = 0
    stopped_early: bool = False


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("--device cuda was asked for, but torch sees no CUDA device (is this the CPU build?)")
    return torch.device(name)


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state() -> dict[str, Any]:
    # Plain containers of tensors/ints only, so torch.load(weights_only=True) reads them back.
    np_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state((n[0], n[1].numpy().astype(np.uint32), *n[2:]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def build_optimizer(cfg: Config, model: torch.nn.Module) -> torch.optim.Optimizer:
    t = cfg.train
    # No weight decay on biases, norms and embeddings: decaying them only hurts.
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 or "emb" in name else decay).append(p)
    groups = [{"params": decay, "weight_decay": t.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if t.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=t.lr)
    if t.optimizer == "adam":
        return torch.optim.Adam(groups, lr=t.lr)
    return torch.optim.SGD(groups, lr=t.lr, momentum=t.momentum, nesterov=True)


def build_scheduler(cfg: Config, opt: torch.optim.Optimizer):
    """Epoch-level schedules. Cosine has a linear warm-up; plateau steps on val_objective."""
    t = cfg.train
    if t.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=t.gamma, patience=2)
    if t.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=t.step_size, gamma=t.gamma)
    if t.schedule == "none":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1.0)
    warm, total = t.warmup_epochs, t.epochs

    def cosine(e: int) -> float:  # e = epochs finished
        if e < warm:
            return (e + 1) / (warm + 1)
        u = (e - warm) / max(1, total - warm)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, u)))

    return torch.optim.lr_scheduler.LambdaLR(opt, cosine)


def _autocast_factory(cfg: Config, device: torch.device) -> Callable | None:
    amp = cfg.train.amp
    if amp == "off" or (amp == "auto" and device.type != "cuda"):
        return None
    return lambda: torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def _pick_device(hooks: Hooks, cfg: Config) -> torch.device:
    device = hooks.device or resolve_device(cfg.train.device)
    if device.type == "cuda" and device.index is None:  # set_device needs an index: DDP's local rank
        device = torch.device(
            "cuda",
            int(os.environ.get("LOCAL_RANK", 0)) % torch.cuda.device_count()
            if hooks.world_size > 1
            else torch.cuda.current_device(),
        )
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


def _val_windows(loaders, total: int) -> str:
    """How many validation windows each pass evaluates, for the run's first line."""
    n = len(loaders.val[""].dataset)
    if len(loaders.val_raw["timeline"]) == total:
        return str(n)
    if "ctx_" in loaders.val:
        return f"{len(loaders.val['ctx_'].dataset)} (structure only: {n} of them, train.val_windows)"
    return f"{n} (train.val_windows: {len(loaders.val_raw['timeline'])} of {total})"


def _val_constants(loaders, data) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The best constants for the validation files (on real exports the train constant can be far off): of the
    structure-only pass's windows, and of the context pass's where it sees others (``train.val_windows``)."""
    sc, val_raw = data.scalers, loaders.val_raw
    ctx = None if val_raw is data.val else constant_of(data.val, sc.target_mean, sc.target_std)
    return constant_of(val_raw, sc.target_mean, sc.target_std), ctx


@torch.no_grad()
def validation_metrics(model: torch.nn.Module, cfg: Config, data, device: str = "cpu") -> dict[str, Any]:
    """A trained model's (or ``core.learn.ensemble.MeanModel``'s) validation metrics on ``data``, exactly as a
    training run of ``cfg`` reports them for its best epoch (``val_objective``, ``val_objective_ctx``, per-head
    ratios, against the data constant and the same-track rule), without the noise floor: figures that compare
    with the runs' own on the same validation files."""
    dev = torch.device(device)
    loaders = build_loaders(cfg, data, rank=0, world=1, pin=False)
    loss_fn = MultiTrackLoss(cfg.loss, cfg.model, keyframe_pos_weight=data.scalers.keyframe_pos_weight).to(dev)
    data_constant, ctx_constant = _val_constants(loaders, data)
    metrics, _ = validate(
        model.to(dev).eval(), loaders.val, loss_fn, data.scalers, cfg, dev, None, None, data_constant, ctx_constant
    )
    return metrics


def train(
    cfg: Config,
    data,
    hooks: Hooks | None = None,
    *,
    out_dir: str | Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Train ``cfg`` on prepared ``data`` (core.data.preprocess.Prepared); report every epoch via ``hooks``."""
    if hooks is None:
        hooks = LocalHooks(out_dir) if out_dir else Hooks()
    rank, world = hooks.rank, hooks.world_size
    t = cfg.train
    device = _pick_device(hooks, cfg)
    _seed_all(t.seed)  # same init on every rank; DDP broadcasts rank 0's weights anyway
    is_main = rank == 0
    say = log if is_main else (lambda s: None)
    scalers = data.scalers
    loaders = build_loaders(cfg, data, rank, world, pin=device.type == "cuda")

    model = build_model(cfg.model, n_features=len(MODEL_FEATURES)).to(device)
    loss_fn = MultiTrackLoss(cfg.loss, cfg.model, keyframe_pos_weight=scalers.keyframe_pos_weight).to(device)
    opt = build_optimizer(cfg, model)
    sched = build_scheduler(cfg, opt)
    autocast = _autocast_factory(cfg, device)

    start_epoch, best, history, bad_epochs = 1, {"val_objective": math.inf}, [], 0
    resume = hooks.resume_from()
    if resume:
        st = load_state(Path(resume) / CHECKPOINT_FILE)
        model.load_state_dict(st.get("train_model", st["model"]))
        model.calibrated.fill_(False)  # a calibrated checkpoint's stacking is for its final weights only
        opt.load_state_dict(st["optimizer"])
        sched.load_state_dict(st["scheduler"])
        _set_rng_state(st["rng"])
        start_epoch = int(st["epoch"]) + 1
        best, history, bad_epochs = st["best"], st["history"], int(st["bad_epochs"])
        say(f"resumed from {resume}: epoch {start_epoch - 1} done, best val_objective {best['val_objective']:.4f}")
    elif t.init_from:  # fine-tuning: another run's weights, this run's own optimizer, schedule and scalers
        say(f"initial weights from {init_weights(model, t.init_from, MODEL_FEATURES)}")
        model.calibrated.fill_(False)  # its stacking was fitted to its own data

    if not resume:  # this run's own data decides how far each dialect's interpolation is learned
        model.set_interp_evidence(scalers.baseline.get("interpolation_evidence"))
        model.set_target_ranges(scalers.target_mean, scalers.target_std)
    average = WeightAverage(model, t.ema_decay) if t.ema_decay > 0 else None
    if average is not None and resume:
        average.model.load_state_dict(st["model"])  # the checkpoint's "model" is the average
        average.model.calibrated.fill_(False)
        average.steps = int(st.get("ema_steps", 0))
    raw_model = model
    if world > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
        model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    if t.compile and device.type == "cuda":
        model = torch.compile(model)

    val_raw = loaders.val_raw  # what the structure-only pass evaluates: its floor and data constant are of it
    floor = noise_floor(val_raw, scalers, cfg.model, scalers.baseline) if is_main else None
    data_constant, ctx_constant = _val_constants(loaders, data)
    if is_main and start_epoch == 1:
        say(
            f"model: {count_parameters(raw_model) / 1e6:.2f}M parameters, attention {cfg.model.attention}, "
            f"device {device}, world size {world}; {len(loaders.train_ds)} train / "
            f"{_val_windows(loaders, len(data.val['features']))} val windows"
        )

    result = TrainResult(history=list(history), best=dict(best), noise_floor=floor)
    grad_norms: list[float] = []
    for epoch in range(start_epoch, t.epochs + 1):
        t0 = time.perf_counter()
        loaders.train_ds.set_epoch(epoch)
        loaders.generator.manual_seed(t.seed * 100003 + epoch)
        if isinstance(loaders.sampler, DistributedSampler):
            loaders.sampler.set_epoch(epoch)
        fault = hooks.fault if hooks.fault is not None and hooks.fault.due(epoch) else None
        train_loss, tokens = train_epoch(
            model,
            loaders.train,
            loss_fn,
            opt,
            cfg,
            device,
            autocast,
            epoch,
            grad_norms,
            progress and is_main,
            fault,
            average,
        )
        train_time = time.perf_counter() - t0
        metrics: dict[str, Any] = {
            "epoch": epoch,
            "train_loss": train_loss,
            "lr": opt.param_groups[0]["lr"],
            "tokens_per_s": tokens * world / train_time,
        }
        evaluated = average.model if average is not None else raw_model
        val_metrics, base_metrics = validate(
            evaluated, loaders.val, loss_fn, scalers, cfg, device, autocast, floor, data_constant, ctx_constant
        )
        metrics.update(val_metrics)
        if not math.isfinite(metrics["val_objective"]):
            raise TrainingError(f"non-finite val_objective at epoch {epoch}")
        if t.schedule == "plateau":
            sched.step(metrics["val_objective"])
        else:
            sched.step()
        improved = metrics["val_objective"] < best["val_objective"] - 1e-6
        if improved:
            best = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
            bad_epochs = 0
        else:
            bad_epochs += 1
        metrics["is_best"] = improved
        metrics["best_val_objective"] = best["val_objective"]
        metrics["epoch_time_s"] = time.perf_counter() - t0
        history.append({k: v for k, v in metrics.items() if isinstance(v, (int, float, bool))})
        result.history, result.best, result.epochs_run, result.baseline = list(history), dict(best), epoch, base_metrics
        if is_main:
            say(format_epoch(metrics))
            with tempfile.TemporaryDirectory(prefix="xmlai-ck-") as d:
                state = {
                    "model": unwrap(evaluated).state_dict(),  # what was validated: exported and loaded
                    **({"train_model": unwrap(model).state_dict(), "ema_steps": average.steps} if average else {}),
                    "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(),
                    "rng": _rng_state(),
                    "epoch": epoch,
                    "best": best,
                    "history": history,
                    "bad_epochs": bad_epochs,
                }
                save_checkpoint_dir(d, state, cfg, scalers, metrics)
                hooks.report(metrics, d)
        else:
            hooks.report(metrics, None)
        if t.early_stopping and bad_epochs >= t.early_stopping:
            say(f"early stopping: no val_objective improvement in {bad_epochs} epochs")
            result.stopped_early = True
            break
    return result
