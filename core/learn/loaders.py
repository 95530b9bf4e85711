"""The training loop's data loaders: shuffled training windows (a random subset per epoch, the same subset
shared out among DDP ranks, a ``DistributedSampler`` shard of all windows under DDP, or a draw weighted
towards small programmes with ``train.programme_balance``) and fixed validation windows (all, or for the
structure-only pass an even subset of ``train.val_windows``), sharded so that every window is evaluated on
exactly one rank.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, Sampler

from core.config import Config
from core.data.dataset import WindowDataset
from core.learn.hooks import TrainingError


class ShardSampler(Sampler[int]):
    """Every ``world``-th index from ``rank``: each validation window is evaluated on exactly one rank.

    DistributedSampler pads the last round by repeating windows, so the summed metrics (and
    val_objective) would change with the number of workers; here the shards add up to the set exactly
    (a rank may get none, which ``compare`` allows).
    """

    def __init__(self, n: int, rank: int, world: int) -> None:
        self.indices = list(range(rank, n, world))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


class BalancedSampler(Sampler[int]):
    """``num_samples`` windows drawn with the given weights (all 1: a plain subset) from the loader's
    generator, then every ``world``-th from ``rank``: every rank draws the same set (the generator is
    reseeded per epoch with the same seed on every rank) and takes its own equal share, so DDP ranks run
    the same number of steps. Without replacement when the draw is a subset, so an epoch sees fresh
    windows; with it when it draws as many windows as there are, where without it would be a plain
    permutation."""

    def __init__(self, weights: np.ndarray, num_samples: int, rank: int, world: int, generator) -> None:
        self.weights = torch.as_tensor(np.asarray(weights, np.float64))
        self.per_rank = -(-int(num_samples) // world)
        self.rank, self.world, self.generator = rank, world, generator

    def __iter__(self):
        n = self.per_rank * self.world
        drawn = torch.multinomial(self.weights, n, replacement=n >= len(self.weights), generator=self.generator)
        return iter(drawn[self.rank :: self.world].tolist())

    def __len__(self) -> int:
        return self.per_rank


def programme_groups(meta: dict, timelines: np.ndarray) -> np.ndarray:
    """Per window (``timelines``: each window's global timeline number), the index of its programme: the
    file's programme where the data was split by programme (``meta["programmes"]``), else its file
    (``meta["timelines_of"]``), else its timeline."""
    group_of_timeline: dict[int, str] = {}
    programmes = meta.get("programmes") or {}
    for name, (first, count) in (meta.get("timelines_of") or {}).items():
        for t in range(int(first), int(first) + int(count)):
            group_of_timeline[t] = programmes.get(name, name)
    groups = np.array([group_of_timeline.get(int(t), f"timeline {int(t)}") for t in timelines])
    return np.unique(groups, return_inverse=True)[1].reshape(-1)


def programme_weights(meta: dict, timelines: np.ndarray, balance: float) -> np.ndarray:
    """Per window, ``n ** -balance`` with n the number of those windows in its programme (``programme_groups``)."""
    inverse = programme_groups(meta, timelines)
    return np.bincount(inverse)[inverse].astype(np.float64) ** -float(balance)


def programme_target_weights(
    raw: dict[str, np.ndarray], scalers, meta: dict, floor: float, power: float = 1.0
) -> np.ndarray:
    """(N, R) float32 per raw window and regression target: v ** -power, v the variance of the target's standardised
    values within the window's programme (``programme_groups``), at least ``floor``, scaled so that the
    mean over every valid position of the windows is 1 (the loss keeps its size). A programme without a
    valid value of a target weighs 1 there. ``loss.programme_floor``: a squared error so weighted is the
    error against the programme's own best constant that the evaluation reports."""
    n_win = len(raw["timeline"])
    groups = programme_groups(meta, np.asarray(raw["timeline"]))
    mean = np.asarray(scalers.target_mean, np.float64)
    std = np.asarray(scalers.target_std, np.float64)
    sums = np.zeros((3, n_win, len(mean)))  # count, sum, sum of squares per window and target
    for lo in range(0, n_win, 512):  # (N, K, T, R) in chunks: the real corpora's are hundreds of MB
        hi = min(lo + 512, n_win)
        valid = raw["target_valid"][lo:hi] & raw["step_mask"][lo:hi][..., None]
        z = np.where(valid, (raw["targets"][lo:hi] - mean) / std, 0.0)
        sums[0, lo:hi] = valid.sum(axis=(1, 2))
        sums[1, lo:hi] = z.sum(axis=(1, 2))
        sums[2, lo:hi] = np.square(z).sum(axis=(1, 2))
    per_group = np.zeros((3, groups.max(initial=-1) + 1, len(mean)))
    for j in range(3):
        np.add.at(per_group[j], groups, sums[j])
    count, total, squares = per_group
    with np.errstate(invalid="ignore", divide="ignore"):  # NaN where a programme has no value: weight 1 below
        var = squares / count - np.square(total / count)
    weight = np.where(count > 0, np.maximum(var, float(floor)) ** -float(power), 1.0)
    norm = (weight * count).sum(axis=0) / np.maximum(count.sum(axis=0), 1.0)  # (R,) mean weight per position
    return (weight / np.where(norm > 0, norm, 1.0))[groups].astype(np.float32)


def even_windows(total: int, n: int) -> np.ndarray | None:
    """Indices of at most ``n`` of ``total`` windows (None: all of them, ``n`` 0 or not below ``total``), evenly
    spaced in their order (file order), so that every file keeps about its share; the same on every call."""
    if n <= 0 or n >= total:
        return None
    return np.unique(np.linspace(0, total - 1, n).round().astype(np.int64))


@dataclass
class Loaders:
    train_ds: WindowDataset
    train: DataLoader
    val: dict[str, DataLoader]  # "" structure only, "ctx_" with train.eval_context of the clips given
    sampler: DistributedSampler | RandomSampler | BalancedSampler | None
    generator: torch.Generator  # reseeded every epoch: the shuffle order depends on the epoch only
    # the windows the structure-only pass evaluates (train.val_windows of them, or all), for its data constant and
    # noise floor: a subset holds their targets, not the model inputs (2,048 real windows' features are ~180 MB)
    val_raw: dict[str, np.ndarray]


def build_loaders(cfg: Config, data, rank: int, world: int, pin: bool) -> Loaders:
    """Training windows draw their context fraction per window; validation is fixed per seed."""
    t, scalers = cfg.train, data.scalers
    # windows with no active clip carry no loss position and no metric: skipped
    floor = cfg.loss.programme_floor
    train_ds = WindowDataset(
        data.train,
        scalers,
        context=(0.0, t.context_max),
        seed=t.seed,
        skip_empty=True,
        none_share=t.context_none,
        target_weight=(
            programme_target_weights(data.train, scalers, data.meta, floor, cfg.loss.programme_power)
            if floor > 0
            else None
        ),
        weight_scope=cfg.loss.programme_scope,
    )
    # train.val_windows caps the structure-only pass, the objective a search ranks by. The context pass sees every
    # window: a window's loss with clips given is heavy-tailed, so a subset misreads it (on the real corpora a
    # stage-1 model read 0.85 on all 2,199 windows with content and 1.25 on an even third of them)
    keep = even_windows(len(data.val["features"]), t.val_windows)
    val_raw = data.val if keep is None else {k: v[keep] for k, v in data.val.items() if k != "features"}
    val_sets = {"": WindowDataset(data.val, scalers, context=0.0, seed=t.seed + 1, skip_empty=True, windows=keep)}
    if t.eval_context > 0:
        val_sets["ctx_"] = WindowDataset(data.val, scalers, context=t.eval_context, seed=t.seed + 1, skip_empty=True)
    if len(train_ds) == 0 or len(val_sets[""]) == 0:
        raise TrainingError(
            f"need training and validation windows, got {len(train_ds)} and {len(val_sets[''])}: "
            "add timelines or lower data.val_fraction"
        )
    gen = torch.Generator()
    draw = t.epoch_windows if 0 < t.epoch_windows < len(train_ds) else len(train_ds)
    if t.programme_balance > 0:
        timelines = np.asarray(data.train["timeline"])[train_ds.indices]
        weights = programme_weights(data.meta, timelines, t.programme_balance)
        sampler = BalancedSampler(weights, draw, rank, world, gen)
    elif world > 1 and draw < len(train_ds):  # a subset per epoch under DDP too: the same epoch at any world size
        sampler = BalancedSampler(np.ones(len(train_ds)), draw, rank, world, gen)
    elif world > 1:
        sampler = DistributedSampler(train_ds, num_replicas=world, rank=rank, shuffle=True, seed=t.seed)
    elif draw < len(train_ds):
        sampler = RandomSampler(train_ds, num_samples=draw, generator=gen)  # a new subset each epoch
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
    return Loaders(train_ds, train_loader, {k: val_loader(ds) for k, ds in val_sets.items()}, sampler, gen, val_raw)
