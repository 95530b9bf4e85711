"""Validation under DDP is exact: with a real gloo process group, 2 ranks give the same val_objective (and every
other validation metric) as 1 on the same model and data, on an odd-sized set and on a set that leaves one rank
with nothing. The padded DistributedSampler the loop used before gives a different number on the odd-sized set,
so the comparison can fail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as tmp_mp
from torch.utils.data import DataLoader, DistributedSampler

from core.config import config_from_dict
from core.data.batch import MODEL_FEATURES
from core.data.preprocess import Prepared, prepare
from core.learn.epoch import validate
from core.learn.loaders import build_loaders
from core.learn.loss import MultiTrackLoss
from core.learn.model import build_model

CFG = {
    "data": {"synth_count": 10, "window": 40, "overlap": 0, "max_tracks": 8},
    "model": {"preset": "tiny", "dropout": 0.0},
    "train": {"batch_size": 4, "seed": 3},
}


def _truncate(data: Prepared, n: int) -> Prepared:
    data.val = {k: v[:n] for k, v in data.val.items()}
    return data


def _metrics(cfg, data: Prepared, model_state, rank: int, world: int, padded: bool = False) -> dict:
    """validate() exactly as the training loop calls it, on this rank's loaders."""
    model = build_model(cfg.model, n_features=len(MODEL_FEATURES))
    model.load_state_dict(model_state)
    loss_fn = MultiTrackLoss(cfg.loss, cfg.model, keyframe_pos_weight=data.scalers.keyframe_pos_weight)
    loaders = build_loaders(cfg, data, rank, world, pin=False)
    val = loaders.val
    if padded:  # the old loaders: DistributedSampler repeats windows to even out the shards
        val = {
            k: DataLoader(
                dl.dataset,
                batch_size=cfg.train.batch_size,
                sampler=DistributedSampler(dl.dataset, num_replicas=world, rank=rank, shuffle=False),
            )
            for k, dl in val.items()
        }
    metrics, _ = validate(model, val, loss_fn, data.scalers, cfg, torch.device("cpu"), None, None)
    return {k: v for k, v in metrics.items() if isinstance(v, float)}


def _rank_main(rank: int, world: int, store: str, data_dir: str, sizes: list[int], cfg_dict: dict, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        cfg = config_from_dict(cfg_dict)
        state = torch.load(Path(data_dir) / "model.pt", weights_only=True)
        result = {}
        for n_val in sizes:
            data = _truncate(Prepared.load(data_dir), n_val)
            exact, padded = _metrics(cfg, data, state, rank, world), _metrics(cfg, data, state, rank, world, True)
            result[str(n_val)] = {"exact": exact, "padded": padded}
        if rank == 0:
            Path(out).write_text(json.dumps(result))
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("exact")
    cfg = config_from_dict({**CFG, "data": {**CFG["data"], "cache_dir": str(d / "cache")}})
    data = prepare(cfg.data)
    data.save(d / "data")
    torch.manual_seed(0)
    model = build_model(cfg.model, n_features=len(MODEL_FEATURES))
    torch.save(model.state_dict(), d / "data" / "model.pt")
    return cfg, d, model.state_dict()


def _single(setup, n_val: int) -> dict:
    cfg, d, state = setup
    return _metrics(cfg, _truncate(Prepared.load(d / "data"), n_val), state, 0, 1)


def test_two_ranks_equal_one_even_with_an_odd_set_and_an_empty_shard(setup):
    cfg, d, _ = setup
    n = len(Prepared.load(d / "data").val["timeline"])
    odd = n if n % 2 else n - 1  # a padded sampler would count one window twice
    assert odd >= 3
    out = d / "two.json"
    args = (2, str(d / "store"), str(d / "data"), [odd, 1], cfg.to_dict(), str(out))
    tmp_mp.spawn(_rank_main, args=args, nprocs=2)  # real gloo: one process per rank
    two = json.loads(out.read_text())
    for n_val in (odd, 1):  # with 1 window, rank 1's shard is empty
        one = _single(setup, n_val)
        assert set(two[str(n_val)]["exact"]) == set(one)
        for k, v in one.items():
            assert two[str(n_val)]["exact"][k] == pytest.approx(v, rel=1e-5, abs=1e-9, nan_ok=True), (n_val, k)
    # the comparison can fail: the old padded evaluation counts a window twice and moves the objective
    one = _single(setup, odd)
    assert two[str(odd)]["padded"]["val_objective"] != pytest.approx(one["val_objective"], rel=1e-5)
