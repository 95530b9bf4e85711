"""Drawing training windows: the programme weights per window from the prepared data's programme map
(``train.programme_balance``), the sampler's draw (same set on every DDP rank, equal shares), the loaders of a
real prepared corpus drawing small files more often than a plain subset does, DDP ranks sharing one subset of
``train.epoch_windows``, two real gloo ranks training on one balanced draw, and the even subset of validation
windows that ``train.val_windows`` keeps (every file keeps its share; a run validates on it alone)."""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as tmp_mp
from torch.utils.data import DistributedSampler

from core.config import REGRESSION_TARGETS, config_from_dict
from core.data.preprocess import Prepared
from core.learn.hooks import Hooks
from core.learn.loaders import (
    BalancedSampler,
    build_loaders,
    even_windows,
    programme_target_weights,
    programme_weights,
)
from core.learn.train_loop import train

# two files of one programme (a: timelines 0-1, b: timeline 2), a file of its own (c: timeline 3)
META = {
    "timelines_of": {"a.xml": [0, 2], "b.xml": [2, 1], "c.xml": [3, 1]},
    "programmes": {"a.xml": "edit", "b.xml": "edit"},
}
WINDOWS = np.array([0, 0, 1, 2, 3, 3])  # programme "edit": 4 windows, c.xml: 2


def test_weights_count_windows_per_programme_then_file_then_timeline():
    assert programme_weights(META, WINDOWS, 1.0) == pytest.approx([1 / 4] * 4 + [1 / 2] * 2)
    assert programme_weights(META, WINDOWS, 0.5) == pytest.approx([4**-0.5] * 4 + [2**-0.5] * 2)
    assert programme_weights(META, WINDOWS, 0.0) == pytest.approx([1.0] * 6)
    by_file = {"timelines_of": META["timelines_of"], "programmes": {}}  # split by file: a.xml and b.xml apart
    assert programme_weights(by_file, WINDOWS, 1.0) == pytest.approx([1 / 3] * 3 + [1.0] + [1 / 2] * 2)
    # no map at all (older prepared data): each timeline is its own group
    assert programme_weights({}, WINDOWS, 1.0) == pytest.approx([1 / 2, 1 / 2, 1.0, 1.0, 1 / 2, 1 / 2])


def test_target_weights_divide_by_each_programmes_variance():
    """``loss.programme_floor``: per window and target, 1 / the variance of the target's standardised values in the
    window's programme (floored), scaled to a mean of 1 over the valid positions; a programme without a value of
    a target weighs 1 there before that scaling."""
    R = len(REGRESSION_TARGETS)
    scale, level = REGRESSION_TARGETS.index("scale"), REGRESSION_TARGETS.index("level_db")
    n, k, t = len(WINDOWS), 1, 2
    targets = np.zeros((n, k, t, R), np.float32)
    valid = np.zeros((n, k, t, R), bool)
    # scale: programme "edit" (windows 0-3) holds 100 and 140 (variance 400 native, 4 standardised at std 10);
    # c.xml (windows 4-5) holds 100 everywhere (variance 0: the floor)
    targets[:4, 0, :, scale] = [[100, 140], [100, 140], [100, 140], [100, 140]]
    targets[4:, 0, :, scale] = 100
    valid[..., scale] = True
    # level: only c.xml has values (-6 and 0 dB: variance 9 native, 0.09 standardised at std 10)
    targets[4:, 0, :, level] = [[-6, 0], [-6, 0]]
    valid[4:, ..., level] = True
    raw = {"timeline": WINDOWS, "targets": targets, "target_valid": valid, "step_mask": np.ones((n, k, t), bool)}
    scalers = SimpleNamespace(target_mean=np.full(R, 120.0), target_std=np.full(R, 10.0))
    w = programme_target_weights(raw, scalers, META, floor=0.5)
    assert w.shape == (n, R) and w.dtype == np.float32
    # scale: edit 1/4, c.xml 1/0.5 = 2, over 8 and 4 positions: mean 1 once divided by (8/4 + 4*2) / 12
    norm = (8 * 0.25 + 4 * 2.0) / 12
    assert w[:4, scale] == pytest.approx([0.25 / norm] * 4)
    assert w[4:, scale] == pytest.approx([2.0 / norm] * 2)
    assert (w[:, scale] * 2).sum() / 12 == pytest.approx(1.0)  # 2 positions per window
    # level: c.xml's variance 0.09 is under the floor; edit has no level value (weight 1, then scaled)
    assert w[4:, level] == pytest.approx([1.0] * 2)  # the only valid positions: mean 1 after scaling
    assert w[:4, level] == pytest.approx([0.5] * 4)  # 1 / (1 / 0.5)
    # every other target has no valid value anywhere: weight 1
    assert np.all(w[:, REGRESSION_TARGETS.index("pan")] == 1.0)
    # power 0.5: the square roots, scaled again
    half = programme_target_weights(raw, scalers, META, floor=0.5, power=0.5)
    norm = (8 * 0.5 + 4 * 2**0.5) / 12
    assert half[:4, scale] == pytest.approx([0.5 / norm] * 4)
    assert half[4:, scale] == pytest.approx([2**0.5 / norm] * 2)


def test_loaders_weight_targets_only_with_a_programme_floor(tiny):
    cfg, data = tiny
    assert build_loaders(cfg, data, 0, 1, pin=False).train_ds.target_weight is None
    weighted = dataclasses.replace(cfg, loss=dataclasses.replace(cfg.loss, programme_floor=0.05))
    loaders = build_loaders(weighted, data, 0, 1, pin=False)
    w = loaders.train_ds.target_weight
    assert w.shape == (len(data.train["timeline"]), len(REGRESSION_TARGETS))
    assert np.isfinite(w).all() and w.min() > 0 and w.std(axis=0).max() > 0  # the built-in timelines differ
    batch = next(iter(loaders.train))
    assert batch["target_weight"].shape == (*batch["track_mask"].shape, len(REGRESSION_TARGETS))


def test_sampler_balances_and_ranks_share_one_draw():
    weights = programme_weights(META, WINDOWS, 1.0)
    gen = torch.Generator()
    counts = Counter()
    for epoch in range(400):
        gen.manual_seed(epoch)
        counts.update(BalancedSampler(weights, 6, 0, 1, gen))
    edit, own = sum(counts[i] for i in range(4)), counts[4] + counts[5]
    assert edit / own == pytest.approx(1.0, rel=0.1)  # one programme, one file: drawn alike (unweighted: 2:1)
    # two DDP ranks with the generator seeded alike: equal lengths, disjoint shares that make up one draw
    shares = []
    for rank in range(2):
        gen.manual_seed(7)
        shares.append(list(BalancedSampler(weights, 3, rank, 2, gen)))
    assert len(shares[0]) == len(shares[1]) == 2  # 3 rounded up to an even split
    gen.manual_seed(7)
    whole = torch.multinomial(torch.as_tensor(weights), 4, replacement=False, generator=gen).tolist()
    assert sorted(shares[0] + shares[1]) == sorted(whole)
    assert not set(shares[0]) & set(shares[1])


def test_loaders_draw_small_files_more_often(tiny):
    cfg, data = tiny

    def file_counts(balance: float) -> np.ndarray:
        t = dataclasses.replace(cfg.train, programme_balance=balance, epoch_windows=40)
        loaders = build_loaders(dataclasses.replace(cfg, train=t), data, 0, 1, pin=False)
        assert isinstance(loaders.train.sampler, BalancedSampler) == (balance > 0)
        counts = Counter()
        for epoch in range(30):
            loaders.generator.manual_seed(epoch)
            timelines = np.asarray(data.train["timeline"])[loaders.train_ds.indices[list(loaders.train.sampler)]]
            counts.update(timelines.tolist())
        return np.array([counts[t] for t in np.unique(data.train["timeline"])], float)

    plain, balanced = file_counts(0.0), file_counts(1.0)
    # the built-in timelines are 30-180 s long: a plain draw follows their window counts, a balanced one evens them
    cv = lambda c: c.std() / c.mean()  # noqa: E731
    assert cv(balanced) < 0.5 * cv(plain)


class _RankHooks(Hooks):
    def __init__(self, rank: int, world: int, out: Path) -> None:
        self.rank, self.world_size, self.out = rank, world, out

    def report(self, metrics, checkpoint_dir) -> None:
        with open(self.out / f"rank{self.rank}.jsonl", "a") as f:
            f.write(json.dumps({"epoch": metrics["epoch"]}) + "\n")


def _rank_main(rank: int, world: int, store: str, data_dir: str, cfg_dict: dict, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        train(config_from_dict(cfg_dict), Prepared.load(data_dir), _RankHooks(rank, world, Path(out)), progress=False)
        dist.barrier()  # neither rank tears its group down while the other still uses it
    finally:
        dist.destroy_process_group()


def test_ddp_ranks_share_one_subset_of_epoch_windows(tiny):
    """``train.epoch_windows`` under DDP: the ranks split one subset of that size (before, each rank took a
    shard of every window, so an epoch under DDP was all the windows whatever the setting)."""
    cfg, data = tiny
    t = dataclasses.replace(cfg.train, epoch_windows=13, programme_balance=0.0)
    shares = []
    for rank in range(2):
        loaders = build_loaders(dataclasses.replace(cfg, train=t), data, rank, 2, pin=False)
        assert len(loaders.train.sampler) == 7  # 13 rounded up to an even split
        loaders.generator.manual_seed(5)
        shares.append(list(loaders.train.sampler))
    assert len(set(shares[0]) | set(shares[1])) == 14  # one draw without replacement, shared out
    t = dataclasses.replace(t, epoch_windows=0)  # every window: a DistributedSampler shard, as before
    assert isinstance(
        build_loaders(dataclasses.replace(cfg, train=t), data, 0, 2, pin=False).sampler, DistributedSampler
    )


def test_balanced_draw_trains_under_real_ddp(tiny, tmp_path):
    """Two gloo ranks train on one balanced draw of an odd number of windows: every rank takes the same
    number of steps (an uneven share would leave one rank waiting in all-reduce for ever) and both finish."""
    cfg, data = tiny
    data.save(tmp_path / "data")
    t = dataclasses.replace(cfg.train, programme_balance=1.0, epoch_windows=13, epochs=2, batch_size=4)
    cfg_dict = dataclasses.replace(cfg, train=t).to_dict()
    ctx = tmp_mp.get_context("spawn")
    args = (str(tmp_path / "store"), str(tmp_path / "data"), cfg_dict, str(tmp_path))
    procs = [ctx.Process(target=_rank_main, args=(r, 2, *args)) for r in range(2)]
    for p in procs:
        p.start()
    deadline = time.monotonic() + 240
    for p in procs:
        p.join(timeout=max(0.0, deadline - time.monotonic()))
    alive = [p for p in procs if p.is_alive()]
    for p in alive:
        p.kill()
    assert not alive, "a rank was still running after 4 minutes: the ranks' shares differ"
    assert [p.exitcode for p in procs] == [0, 0]
    for r in range(2):
        lines = (tmp_path / f"rank{r}.jsonl").read_text().splitlines()
        assert [json.loads(x)["epoch"] for x in lines] == [1, 2]


def test_even_windows_keep_every_file_its_share():
    timeline = np.repeat([0, 1, 2], [60, 30, 10])  # 3 files of 60, 30 and 10 windows, in file order
    keep = even_windows(100, 20)
    assert len(keep) == 20 and np.all(np.diff(keep) > 0) and keep[0] == 0 and keep[-1] == 99  # first to last, once
    assert np.bincount(timeline[keep]).tolist() == [12, 6, 2]  # each file's share of the 100
    assert even_windows(100, 20).tolist() == keep.tolist()  # the same subset every call
    assert even_windows(100, 0) is None and even_windows(100, 100) is None and even_windows(100, 500) is None


def test_a_run_validates_structure_only_on_the_capped_windows(tiny, tmp_path):
    """``train.val_windows``: the structure-only pass (the objective a search ranks by) evaluates the even subset,
    with the data's constant of those windows; the pass with clips given still sees every window, and the
    timeline summaries it gives are built from all of them."""
    from core.learn.assess import assess
    from core.learn.checkpoint import load_checkpoint
    from core.learn.train_loop import LocalHooks

    cfg, data = tiny
    total = len(data.val["features"])
    cap = total // 3
    t = dataclasses.replace(cfg.train, val_windows=cap, epochs=1)
    capped = dataclasses.replace(cfg, train=t)
    loaders = build_loaders(capped, data, 0, 1, pin=False)
    keep = even_windows(total, cap)
    assert len(loaders.val_raw["timeline"]) == cap and loaders.val[""].dataset.raw is data.val
    assert set(loaders.val[""].dataset.indices) <= set(keep.tolist())  # of the subset, less the empty windows
    everything = build_loaders(cfg, data, 0, 1, pin=False)
    assert loaders.val["ctx_"].dataset.indices.tolist() == everything.val["ctx_"].dataset.indices.tolist()
    lines = []
    res = train(capped, data, LocalHooks(tmp_path), progress=False, log=lines.append)
    n, n_all = len(loaders.val[""].dataset), len(loaders.val["ctx_"].dataset)
    assert f"{n_all} (structure only: {n} of them, train.val_windows) val windows" in lines[0]
    model, mcfg, scalers = load_checkpoint(tmp_path / "checkpoints" / "best")
    sub = {k: v[keep] for k, v in data.val.items()}
    on = lambda raw, c: assess(model, mcfg, scalers, raw, context=c, seed=t.seed + 1)  # noqa: E731
    assert res.best["val_objective"] == pytest.approx(on(sub, 0.0)["objective_vs_train_constant"], rel=1e-4)
    assert res.best["val_objective"] != pytest.approx(on(data.val, 0.0)["objective_vs_train_constant"], rel=1e-4)
    assert res.best["val_objective_ctx"] == pytest.approx(
        on(data.val, t.eval_context)["objective_vs_train_constant"], rel=1e-4
    )
