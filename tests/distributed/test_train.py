"""The training function at 0, 1 and 2 workers (2 = real gloo DDP): the loss falls, and checkpoints from 1 and 2
workers load into the same model."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import apply_overrides, config_from_dict
from core.data.batch import MODEL_FEATURES
from core.learn.checkpoint import CHECKPOINT_FILE, load_checkpoint, load_state
from core.learn.model import build_model
from distributed import data as ddata
from distributed.train import fit

TINY = {
    "model.preset": "tiny",
    "model.dropout": 0.0,
    "train.epochs": 3,
    "train.batch_size": 8,
    "train.lr": 3e-3,
    "train.early_stopping": 0,
    "train.warmup_epochs": 0,
    "train.schedule": "none",
}


@pytest.fixture(scope="module")
def prepared(ray_session, data_cfg, tmp_path_factory):
    storage = str(tmp_path_factory.mktemp("storage"))
    path, _ = ddata.prepare_cached(data_cfg, storage, engine="local", log=lambda s: None)
    cfg = apply_overrides(config_from_dict({"data": data_cfg.__dict__}), TINY)
    return storage, path, cfg


@pytest.fixture(scope="module")
def runs(prepared):
    """The same config trained at 0, 1 and 2 workers (2 = real gloo DDP), once for the module."""
    storage, data_path, cfg = prepared
    # the same global batch (and so the same number of optimizer steps) at every size: DDP splits it
    sized = {w: apply_overrides(cfg, {"train.batch_size": 8 // max(1, w)}) for w in (0, 1, 2)}
    return {w: fit(sized[w], data_path, num_workers=w, storage_path=storage, name=f"exp/w{w}") for w in (0, 1, 2)}


@pytest.mark.ray
@pytest.mark.parametrize("workers", [0, 1, 2])
def test_train_function_at_0_1_2_workers(prepared, runs, workers):
    _, _, cfg = prepared
    run = runs[workers]
    assert run.error is None and run.checkpoint_dir
    history = load_state(Path(run.checkpoint_dir) / CHECKPOINT_FILE)["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert history[-1]["train_loss"] < history[0]["train_loss"]  # it learns
    assert run.metrics["epoch"] == 3 and run.metrics["val_objective"] > 0
    _, loaded_cfg, _ = load_checkpoint(run.checkpoint_dir)
    assert loaded_cfg.model == cfg.model


@pytest.mark.ray
def test_checkpoints_of_1_and_2_workers_load_into_the_same_model(prepared, runs):
    _, _, cfg = prepared
    states = {w: load_state(Path(runs[w].checkpoint_dir) / CHECKPOINT_FILE)["model"] for w in (1, 2)}
    assert states[1].keys() == states[2].keys()  # keys never carry a DDP "module." prefix
    for w in (1, 2):
        model = build_model(cfg.model, n_features=len(MODEL_FEATURES))
        model.load_state_dict(states[w])  # strict: same keys, same shapes
