"""Injected faults strike the chosen trial, rank and epoch, through the loop's own checks: NaN and exploding
gradients and out-of-memory end as TrainingError naming the epoch, ``raise`` as the exception, ``exit`` kills the
process; ``once`` fires a single time; a bad spec is a clear error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.config import config_from_dict
from core.data.preprocess import prepare
from core.learn.faults import EXIT_CODE, Fault, FaultSpecError, fault_for, parse_faults
from core.learn.train_loop import Hooks, TrainingError, train

ROOT = Path(__file__).resolve().parents[3]
CFG = {
    "data": {"synth_count": 10, "window": 40, "overlap": 0, "max_tracks": 8},
    "model": {"preset": "tiny"},
    "train": {"epochs": 2, "batch_size": 16, "early_stopping": 0, "warmup_epochs": 0},
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    cfg = config_from_dict({**CFG, "data": {**CFG["data"], "cache_dir": str(cache)}})
    data = prepare(cfg.data)
    data.train = {k: v[:48] for k, v in data.train.items()}  # 3 batches an epoch: the faults, not the training
    data.val = {k: v[:16] for k, v in data.val.items()}
    return cfg, data


class _Recording(Hooks):
    def __init__(self, fault: Fault | None) -> None:
        self.fault, self.epochs = fault, []

    def report(self, metrics, checkpoint_dir):
        self.epochs.append(metrics["epoch"])


def test_parse_and_match():
    faults = parse_faults("trial=2,epoch=2,kind=nan; trial=ab12cd34,epoch=1,kind=raise,rank=1 ;")
    assert faults == [Fault(2, "nan", "2"), Fault(1, "raise", "ab12cd34", rank=1)]
    assert fault_for("trial=2,epoch=2,kind=nan", "ffffffff", 2) == faults[0]  # by creation index
    assert fault_for("trial=2,epoch=2,kind=nan", "ffffffff", 3) is None
    assert fault_for("trial=ab12cd34,epoch=1,kind=raise,rank=1", "ab12cd34", 7, rank=1) == faults[1]  # by id
    assert fault_for("trial=ab12cd34,epoch=1,kind=raise,rank=1", "ab12cd34", 7, rank=0) is None
    assert fault_for("epoch=3,kind=oom", None, None).kind == "oom"  # no trial named: every trial
    assert fault_for("", "x", 0) is None


@pytest.mark.parametrize(
    "spec, message",
    [
        ("trial=1,epoch=2,kind=melt", "kind must be one of"),
        ("trial=1,epoch=0,kind=nan", "epoch must be an integer >= 1"),
        ("trial=1,kind=nan", "epoch must be an integer"),
        ("trial=1,epoch=2,kind=nan,when=now", "cannot read 'when=now'"),
        ("trial=1,epoch=2,kind=nan,rank=x", "rank must be an integer"),
    ],
)
def test_bad_spec_names_the_part(spec, message):
    with pytest.raises(FaultSpecError, match=message):
        parse_faults(spec)


@pytest.mark.parametrize(
    "kind, error, message",
    [
        ("nan", TrainingError, "non-finite training loss .* at epoch 2, batch 0"),
        ("explode", TrainingError, "non-finite gradient norm \\(exploding gradients\\) at epoch 2, batch 0"),
        ("oom", TrainingError, "out of memory at epoch 2, batch 0 .*lower train.batch_size"),
        ("raise", RuntimeError, "injected fault raise .* at epoch 2, batch 0"),
    ],
)
def test_fault_strikes_at_the_chosen_epoch_through_the_loops_checks(tiny, kind, error, message):
    cfg, data = tiny
    hooks = _Recording(Fault(epoch=2, kind=kind))
    with pytest.raises(error, match=message):
        train(cfg, data, hooks, progress=False, log=lambda s: None)
    assert hooks.epochs == [1]  # epoch 1 ran and reported; the fault struck at the start of epoch 2


def test_once_fires_a_single_time(tiny, tmp_path):
    cfg, data = tiny
    marker = tmp_path / "fired"
    fault = Fault(epoch=1, kind="raise", once=str(marker))
    with pytest.raises(RuntimeError, match="injected"):
        train(cfg, data, _Recording(fault), progress=False, log=lambda s: None)
    assert marker.exists()
    again = _Recording(fault)
    train(cfg, data, again, progress=False, log=lambda s: None)  # the retry runs clean
    assert again.epochs == [1, 2]


def test_exit_kills_the_process(tiny, tmp_path):
    cfg, data = tiny
    data.save(tmp_path / "data")
    code = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from core.config import config_from_dict
from core.data.preprocess import Prepared
from core.learn.faults import Fault
from core.learn.train_loop import Hooks, train
hooks = Hooks()
hooks.fault = Fault(epoch=1, kind="exit")
train(config_from_dict({cfg.to_dict()!r}), Prepared.load({str(tmp_path / "data")!r}), hooks, progress=False)
print("survived")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == EXIT_CODE, proc.stderr
    assert "survived" not in proc.stdout and "injected fault exit" in proc.stderr
