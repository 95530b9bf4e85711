"""The weight average (``train.ema_decay``): the update rule by hand, resume restores both sets of
weights, and the average never moves the raw weights (so ``ema_decay`` 0 trains as without it)."""

from __future__ import annotations

import pytest
import torch

from core.config import apply_overrides
from core.learn.average import WeightAverage
from core.learn.checkpoint import CHECKPOINT_FILE, load_state
from core.learn.train_loop import LocalHooks, train
from tests.core.learn._runs import Interrupt


class _Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(2, 1, bias=False)
        self.register_buffer("seen", torch.zeros(1))


def _set(model: _Tiny, w: list[float], seen: float = 0.0) -> None:
    with torch.no_grad():
        model.lin.weight.copy_(torch.tensor([w], dtype=torch.float64))
        model.seen.fill_(seen)


def _avg(average: WeightAverage) -> list[float]:
    return average.model.lin.weight.detach().double().flatten().tolist()


def test_update_is_the_hand_computed_lerp_with_warm_up():
    model = _Tiny().double()
    _set(model, [1.0, -2.0])
    average = WeightAverage(model, decay=0.5)
    assert not any(p.requires_grad for p in average.model.parameters())

    _set(model, [3.0, 4.0], seen=7.0)
    average.update(model)  # step 1: warm-up weight min(0.5, 2/11) = 2/11 on the old average
    expected = [2 / 11 * 1.0 + 9 / 11 * 3.0, 2 / 11 * -2.0 + 9 / 11 * 4.0]
    assert _avg(average) == pytest.approx(expected, rel=1e-12)
    assert average.model.seen.item() == 7.0  # buffers are copied, not averaged

    _set(model, [0.0, 0.0])
    average.update(model)  # step 2: min(0.5, 3/12) = 0.25
    expected = [0.25 * x for x in expected]
    assert _avg(average) == pytest.approx(expected, rel=1e-12)

    for _ in range(20):  # past the warm-up ((1 + n) / (10 + n) >= 0.5 from step 8): the decay itself
        average.update(model)
    before = _avg(average)
    _set(model, [10.0, -10.0])
    average.update(model)
    assert _avg(average) == pytest.approx([0.5 * before[0] + 5.0, 0.5 * before[1] - 5.0], rel=1e-12)
    # the average is a copy: moving the model without an update leaves it alone
    _set(model, [99.0, 99.0])
    assert _avg(average) == pytest.approx([0.5 * before[0] + 5.0, 0.5 * before[1] - 5.0], rel=1e-12)


def _states(out) -> dict:
    return load_state(out / "checkpoints" / "last" / CHECKPOINT_FILE)


def _assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)


def test_resume_restores_raw_and_averaged_weights(tiny, tmp_path):
    cfg, data = tiny
    cfg = apply_overrides(cfg, {"train.epochs": 3, "train.ema_decay": 0.9})
    with pytest.raises(KeyboardInterrupt):
        train(cfg, data, Interrupt(tmp_path / "cut", stop_after=2), progress=False, log=lambda s: None)
    resumed = LocalHooks(tmp_path / "cut", resume=tmp_path / "cut")
    train(cfg, data, resumed, progress=False, log=lambda s: None)
    full = LocalHooks(tmp_path / "full")
    train(cfg, data, full, progress=False, log=lambda s: None)

    assert [h["epoch"] for h in resumed.history] == [3]
    cut, whole = _states(tmp_path / "cut"), _states(tmp_path / "full")
    assert cut["ema_steps"] == whole["ema_steps"] > 0
    _assert_same_weights(cut["train_model"], whole["train_model"])  # the raw weights came back
    _assert_same_weights(cut["model"], whole["model"])  # and so did the average
    # the two are different weights, so the checks above can tell a swap or a lost average apart
    assert any(not torch.allclose(cut["model"][k], cut["train_model"][k]) for k in cut["model"])
    assert resumed.history[-1]["val_objective"] == pytest.approx(full.history[-1]["val_objective"], rel=1e-5)


def test_average_never_moves_the_raw_weights(tiny, tmp_path):
    cfg, data = tiny
    cfg = apply_overrides(cfg, {"train.epochs": 2})
    plain, averaged = LocalHooks(tmp_path / "plain"), LocalHooks(tmp_path / "ema")
    train(cfg, data, plain, progress=False, log=lambda s: None)
    train(apply_overrides(cfg, {"train.ema_decay": 0.9}), data, averaged, progress=False, log=lambda s: None)

    # the optimizer's path is the same with and without the average: same losses, same raw weights
    assert [h["train_loss"] for h in averaged.history] == pytest.approx([h["train_loss"] for h in plain.history])
    off, on = _states(tmp_path / "plain"), _states(tmp_path / "ema")
    _assert_same_weights(off["model"], on["train_model"])
    # ema_decay 0: no average at all, the checkpoint's model is the raw weights
    assert "train_model" not in off and "ema_steps" not in off
    # with it, what was validated (and checkpointed as "model") is the average, not the raw weights
    assert any(not torch.allclose(on["model"][k], on["train_model"][k]) for k in on["model"])
