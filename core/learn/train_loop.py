"""The one training function every path runs: in-process (scripts/train.py), a Tune trial
process (workers_per_trial 0) and each of N Ray Train DDP workers.

The loop talks to whatever runs it through ``Hooks``: rank/world size, ``report`` once per epoch on
every rank (rank 0 also hands over a folder holding the checkpoint), and ``resume_from``. DDP wraps
the model only when torch.distributed is initialised with world size > 1; rank 0 alone writes.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, Sampler
from tqdm.auto import tqdm

from core.config import Config
from core.data.batch import MODEL_FEATURES, trim_tracks
from core.data.dataset import WindowDataset
from core.learn.checkpoint import CHECKPOINT_FILE, init_weights, load_state, save_checkpoint_dir, unwrap
from core.learn.evaluate import compare, gap_closed, noise_floor
from core.learn.faults import Fault
from core.learn.loss import MultiTrackLoss
from core.learn.model import build_model, count_parameters
from core.learn.rules import comparators, constant_of


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


class ShardSampler(Sampler[int]):
    """Every ``world``-th index from ``rank``: each validation window is evaluated on exactly one rank.

    DistributedSampler pads the last round by repeating windows, so the summed metrics (and
    val_objective) would change with the number of workers; here the shards add up to the set exactly
    (a rank may get none, which ``evaluate`` allows).
    """

    def __init__(self, n: int, rank: int, world: int) -> None:
        self.indices = list(range(rank, n, world))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


@dataclass
class _Loaders:
    train_ds: WindowDataset
    train: DataLoader
    val: dict[str, DataLoader]  # "" structure only, "ctx_" with train.eval_context of the clips given
    sampler: DistributedSampler | RandomSampler | None
    generator: torch.Generator  # reseeded every epoch: the shuffle order depends on the epoch only


def build_loaders(cfg: Config, data, rank: int, world: int, pin: bool) -> _Loaders:
    """Training windows draw their context fraction per window; validation is fixed per seed."""
    t, scalers = cfg.train, data.scalers
    # windows with no active clip carry no loss position and no metric: skipped
    train_ds = WindowDataset(data.train, scalers, context=(0.0, t.context_max), seed=t.seed, skip_empty=True)
    val_sets = {"": WindowDataset(data.val, scalers, context=0.0, seed=t.seed + 1, skip_empty=True)}
    if t.eval_context > 0:
        val_sets["ctx_"] = WindowDataset(data.val, scalers, context=t.eval_context, seed=t.seed + 1, skip_empty=True)
    if len(train_ds) == 0 or len(val_sets[""]) == 0:
        raise TrainingError(
            f"need training and validation windows, got {len(train_ds)} and {len(val_sets[''])}: "
            "add timelines or lower data.val_fraction"
        )
    gen = torch.Generator()
    if world > 1:
        sampler = DistributedSampler(train_ds, num_replicas=world, rank=rank, shuffle=True, seed=t.seed)
    elif 0 < t.epoch_windows < len(train_ds):
        sampler = RandomSampler(train_ds, num_samples=t.epoch_windows, generator=gen)  # a new subset each epoch
    else:
        sampler = None

    def val_loader(ds):
        s = ShardSampler(len(ds), rank, world) if world > 1 else None
        return DataLoader(
            ds, batch_size=t.batch_size, shuffle=False, sampler=s, num_workers=t.loader_workers, pin_memory=pin
        )

    train_loader = DataLoader(
        train_ds,
        batch_size=t.batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        generator=gen,
        num_workers=t.loader_workers,
        pin_memory=pin,
        drop_last=False,
    )
    return _Loaders(train_ds, train_loader, {k: val_loader(ds) for k, ds in val_sets.items()}, sampler, gen)


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


class WeightAverage:
    """An exponential moving average of a model's weights (``train.ema_decay``), updated after every step.

    On small real corpora the validation objective of the raw weights jumps from epoch to epoch (a head
    that is almost constant in the validation files costs 2x one epoch and 1x the next); the average
    is what is validated, checkpointed and exported, the raw weights are what the optimizer moves.
    """

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        import copy

        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.steps = 0

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.steps += 1
        d = min(self.decay, (1 + self.steps) / (10 + self.steps))  # warm-up: early weights fade fast
        for a, p in zip(self.model.parameters(), model.parameters()):
            a.lerp_(p.detach(), 1.0 - d)
        for a, b in zip(self.model.buffers(), model.buffers()):
            a.copy_(b)


def train_epoch(
    model,
    loader,
    loss_fn,
    opt,
    cfg: Config,
    device,
    autocast,
    epoch: int,
    grad_norms: list[float],
    show_progress: bool,
    fault: Fault | None = None,
    average: WeightAverage | None = None,
) -> tuple[float, int]:
    """One pass over ``loader``; returns (mean training loss, real tokens seen).

    Raises TrainingError on a NaN loss, exploding gradients or running out of memory (``fault``, when
    given, strikes at the first batch).
    """
    t = cfg.train
    pin = device.type == "cuda"
    model.train()
    tot, nb, tokens = 0.0, 0, 0
    bar = _progress(loader, f"epoch {epoch}/{t.epochs}", show_progress)
    try:
        for batch in bar:
            batch = {k: v.to(device, non_blocking=pin) for k, v in trim_tracks(batch).items()}
            with autocast() if autocast else contextlib.nullcontext():
                outputs = model(batch)
            loss, _ = loss_fn({k: v.float() for k, v in outputs.items()}, batch)
            if fault is not None and nb == 0:
                loss = fault.strike(loss, f"epoch {epoch}, batch {nb}")
            if not torch.isfinite(loss):
                raise TrainingError(
                    f"non-finite training loss ({loss.item()}) at epoch {epoch}, batch {nb}: "
                    f"lower train.lr (now {t.lr}) or raise train.grad_clip"
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            norm = float(
                torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip if t.grad_clip > 0 else float("inf"))
            )
            if not math.isfinite(norm):
                raise TrainingError(
                    f"non-finite gradient norm (exploding gradients) at epoch {epoch}, batch {nb}: "
                    f"lower train.lr (now {t.lr}) or raise train.grad_clip"
                )
            if len(grad_norms) >= 20 and norm > t.explode_factor * statistics.median(grad_norms[-200:]):
                raise TrainingError(
                    f"gradient explosion at epoch {epoch}, batch {nb}: norm {norm:.3g} is over "
                    f"{t.explode_factor:g}x the running median; lower train.lr"
                )
            grad_norms.append(norm)
            opt.step()
            if average is not None:
                average.update(unwrap(model))
            tot += float(loss.detach())
            nb += 1
            tokens += int(batch["step_mask"].sum())
            if hasattr(bar, "set_postfix") and (t.log_every and nb % t.log_every == 0):
                bar.set_postfix(loss=f"{tot / nb:.4f}")
    except (torch.OutOfMemoryError, MemoryError) as e:
        raise TrainingError(
            f"out of memory at epoch {epoch}, batch {nb} ({type(e).__name__}: {str(e)[:200]}): lower "
            f"train.batch_size (now {t.batch_size}), the model size or data.window"
        ) from e
    return tot / max(nb, 1), tokens


def validate(
    model,
    loaders: dict[str, DataLoader],
    loss_fn,
    scalers,
    cfg: Config,
    device,
    autocast,
    floor: dict[str, float] | None,
    data_constant: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, float]]:
    """val_objective (and with context), per-head ratios, MAE, F1; plus the constant baseline's metrics.

    ``val_objective`` divides by the train constant (what trials are compared on). Beside it, against
    the best constant for the validation data (``data_constant``, core.learn.rules.constant_of) and
    against the same-track rule: ``val_objective_vs_data`` / ``val_objective_ctx_vs_data``,
    ``vs_data/ratio/<head>`` (structure only), ``ctx_vs_data/ratio/<head>`` and
    ``val_objective_ctx_vs_same_track``; and the rule's own ``same_track/ctx_objective_vs_data``.
    """
    stds = torch.as_tensor(scalers.target_std, dtype=torch.float32)
    const = data_constant if data_constant is not None else scalers.baseline
    comps = comparators(scalers, const, cfg.model.targets, cfg.model.classify)
    del comps["editor_default"]  # printed by scripts/evaluate.py; one pass less per epoch here
    metrics: dict[str, Any] = {}
    base_metrics: dict[str, float] = {}
    for prefix, loader in loaders.items():
        res = compare(
            model,
            loader,
            loss_fn,
            comps,
            stds,
            cfg.model,
            device,
            threshold=cfg.train.keyframe_threshold,
            autocast=autocast,
        )
        m = res["model"]
        key = f"val_{prefix}objective" if prefix else "val_objective"
        metrics[key] = m["objective_vs_train_constant"]
        for k, v in m.items():
            if k.startswith("ratio_vs_train_constant/"):
                metrics[f"{prefix}ratio/{k.split('/', 1)[1]}"] = v
            elif k.startswith("ratio_vs_data_constant/"):
                metrics[f"{prefix}vs_data/ratio/{k.split('/', 1)[1]}"] = v
            elif not k.startswith(("ratio_vs_", "objective_vs_")):
                metrics[f"{prefix}{k}"] = v
        tag = "_ctx" if prefix else ""
        metrics[f"val_objective{tag}_vs_data"] = m["objective_vs_data_constant"]
        metrics[f"val_objective{tag}_vs_same_track"] = m["objective_vs_same_track"]
        rule = res["comparators"]["same_track"]
        metrics[f"same_track/{prefix}objective_vs_data"] = rule["objective_vs_data_constant"]
        for k, v in rule.items():
            if k.startswith("ratio_vs_data_constant/"):
                metrics[f"same_track/{prefix}ratio/{k.split('/', 1)[1]}"] = v
        if prefix == "":
            base = res["comparators"]["train_constant"]
            base_metrics = {k: v for k, v in base.items() if not k.startswith(("ratio_vs_", "objective_vs_"))}
    metrics["val_objective_ctx"] = metrics.pop("val_ctx_objective", float("nan"))
    for k, v in base_metrics.items():
        metrics[f"baseline/{k}"] = v
    if floor:
        metrics["noise_floor"] = floor["objective"]
        metrics["gap_closed"] = gap_closed({k: v for k, v in metrics.items() if k.startswith("ratio/")}, floor)
    return metrics, base_metrics


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

    floor = noise_floor(data.val, scalers, cfg.model, scalers.baseline) if is_main else None
    # the best constant for the validation files: on real exports the train constant can be far off
    data_constant = constant_of(data.val, scalers.target_mean, scalers.target_std)
    if is_main and start_epoch == 1:
        say(
            f"model: {count_parameters(raw_model) / 1e6:.2f}M parameters, attention {cfg.model.attention}, "
            f"device {device}, world size {world}; {len(loaders.train_ds)} train / "
            f"{len(loaders.val[''].dataset)} val windows"
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
            evaluated, loaders.val, loss_fn, scalers, cfg, device, autocast, floor, data_constant
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


def _progress(it, desc: str, enabled: bool):
    """A bar over the batches on a terminal only: written to a file, every refresh of a bar is one more
    carriage-return line; there the epoch's report (one line per epoch) is the progress."""
    if not enabled or not _is_terminal(sys.stderr):  # tqdm draws on stderr
        return it
    return tqdm(it, desc=desc, leave=False, dynamic_ncols=True)


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


def format_epoch(m: dict[str, Any]) -> str:
    """A few readable lines per epoch: objective with per-head ratios, MAE in native units, classes."""
    nan = float("nan")
    ratios = " ".join(f"{k[6:]}={v:.3f}" for k, v in m.items() if k.startswith("ratio/"))
    maes = " ".join(f"{k[4:]}={v:.3g}" for k, v in m.items() if k.startswith("mae/"))
    bmaes = " ".join(f"{k[13:]}={v:.3g}" for k, v in m.items() if k.startswith("baseline/mae/"))
    vs_data = " ".join(f"{k[14:]}={v:.3f}" for k, v in m.items() if k.startswith("vs_data/ratio/"))
    ctx_vs_data = " ".join(f"{k[18:]}={v:.3f}" for k, v in m.items() if k.startswith("ctx_vs_data/ratio/"))
    rule = " ".join(f"{k[21:]}={v:.3f}" for k, v in m.items() if k.startswith("same_track/ctx_ratio/"))
    floor = f", noise floor {m['noise_floor']:.3f}" if "noise_floor" in m else ""
    gap = f"  gap closed {100 * m['gap_closed']:.0f}%" if "gap_closed" in m else ""
    best = "  *best" if m.get("is_best") else ""
    return "\n".join(
        [
            f"epoch {m['epoch']:3d}  train_loss {m['train_loss']:.4f}  val_objective {m['val_objective']:.4f}"
            f" (baseline 1.0{floor})  with context {m.get('val_objective_ctx', nan):.4f}{gap}"
            f"  {m['epoch_time_s']:.1f}s{best}",
            f"    ratios   {ratios}",
            f"    MAE      {maes}",
            f"    baseline {bmaes}",
            f"    keyframe F1 {m.get('keyframe_f1', nan):.3f} (within 1 step {m.get('keyframe_f1_within1', nan):.3f};"
            f" baseline {m.get('baseline/keyframe_f1', 0.0):.3f})  interpolation acc {m.get('interp_acc', nan):.3f}"
            f" (baseline {m.get('baseline/interp_acc', nan):.3f})",
            f"    vs the best constant for the validation data: {m.get('val_objective_vs_data', nan):.4f}, with context"
            f" {m.get('val_objective_ctx_vs_data', nan):.4f} (same-track rule"
            f" {m.get('same_track/ctx_objective_vs_data', nan):.4f};"
            f" model/rule {m.get('val_objective_ctx_vs_same_track', nan):.4f})",
            f"    ratios   {vs_data}",
            f"    context  {ctx_vs_data}",
            f"    rule     {rule}",
        ]
    )
