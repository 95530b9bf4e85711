"""One epoch of the training loop: ``train_epoch`` (forward, loss, clipped step, the failure
checks, the weight average's update) and ``validate`` (the objective and its comparators), and the
epoch's report line.
"""

from __future__ import annotations

import contextlib
import math
import statistics
import sys
from typing import Any

import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from core.config import Config
from core.data.batch import trim_tracks
from core.learn.average import WeightAverage
from core.learn.checkpoint import unwrap
from core.learn.evaluate import compare, gap_closed
from core.learn.faults import Fault
from core.learn.hooks import TrainingError
from core.learn.rules import comparators


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
    ctx_data_constant: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, float]]:
    """val_objective (and with context), per-head ratios, MAE, F1; plus the constant baseline's metrics.

    ``val_objective`` divides by the train constant (what trials are compared on). Beside it, against
    the best constant for the validation data (``data_constant``, core.learn.rules.constant_of) and
    against the same-track rule: ``val_objective_vs_data`` / ``val_objective_ctx_vs_data``,
    ``vs_data/ratio/<head>`` (structure only), ``ctx_vs_data/ratio/<head>`` and
    ``val_objective_ctx_vs_same_track``; and the rule's own ``same_track/ctx_objective_vs_data``.
    ``ctx_data_constant``: the context pass's, where it sees other windows (``train.val_windows``).
    """
    stds = torch.as_tensor(scalers.target_std, dtype=torch.float32)
    metrics: dict[str, Any] = {}
    base_metrics: dict[str, float] = {}
    for prefix, loader in loaders.items():
        const = ctx_data_constant if prefix and ctx_data_constant is not None else data_constant
        const = scalers.baseline if const is None else const
        comps = comparators(scalers, const, cfg.model.targets, cfg.model.classify)
        del comps["editor_default"]  # printed by scripts/evaluate.py; one pass less per epoch here
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
