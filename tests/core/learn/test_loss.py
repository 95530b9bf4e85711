"""MultiTrackLoss: masking, head weights, empty heads, head_sums by hand, baseline outputs, pos weight."""

from __future__ import annotations

import math

import pytest
import torch

from core.config import REGRESSION_TARGETS, LossConfig, ModelConfig
from core.learn.loss import MultiTrackLoss, baseline_outputs
from tests.core.learn.test_model import make_batch

R = len(REGRESSION_TARGETS)
VIDEO = [REGRESSION_TARGETS.index(n) for n in ("scale", "rotation", "center_x", "center_y", "opacity")]
AUDIO = [REGRESSION_TARGETS.index(n) for n in ("level_db", "pan")]
SCALE = REGRESSION_TARGETS.index("scale")
LEVEL = REGRESSION_TARGETS.index("level_db")
HEADS = list(REGRESSION_TARGETS) + ["keyframe", "interpolation"]


def random_outputs(batch: dict[str, torch.Tensor], seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shape = batch["step_mask"].shape
    out = {name: torch.randn(shape, generator=g) for name in REGRESSION_TARGETS}
    out["keyframe"] = torch.randn(*shape, 2, generator=g)
    out["interpolation"] = torch.randn(*shape, 3, generator=g)
    return out


def hand_batch() -> dict[str, torch.Tensor]:
    """One window, a video track (0) and an audio track (1), 3 steps; step 2 is padding."""
    b, k, t = 1, 2, 3
    step_mask = torch.tensor([[[True, True, False], [True, True, False]]])
    target_mask = torch.zeros(b, k, t, R, dtype=torch.bool)
    target_mask[0, 0, :2, VIDEO] = True
    target_mask[0, 1, :2, AUDIO] = True
    targets = torch.zeros(b, k, t, R)
    targets[0, 0, :, SCALE] = torch.tensor([0.0, 4.0, 99.0])
    targets[0, 1, :, LEVEL] = torch.tensor([-1.0, 1.0, 99.0])
    keyframe = torch.tensor([[[1, 0, 0], [0, 1, 0]]])
    return {
        "track_kind": torch.tensor([[0, 1]]),
        "track_index": torch.tensor([[0, 0]]),
        "track_mask": torch.tensor([[True, True]]),
        "step_mask": step_mask,
        "targets": targets,
        "target_mask": target_mask,
        "keyframe": keyframe,
        "keyframe_mask": step_mask.clone(),
        "interpolation": torch.tensor([[[2, 0, 0], [0, 1, 0]]]),
        "interpolation_mask": step_mask & keyframe.bool(),
    }


def reference_sums(outputs, batch, pos_weight: float = 1.0) -> dict[str, tuple[float, float]]:
    """Loop-by-position reference: (sum, sum of weights) per head; CE class-weighted by ``pos_weight``."""
    ref: dict[str, list[float]] = {h: [0.0, 0.0] for h in HEADS}
    b, k, t = batch["step_mask"].shape
    for i in range(b):
        for j in range(k):
            for s in range(t):
                for r, name in enumerate(REGRESSION_TARGETS):
                    if batch["target_mask"][i, j, s, r]:
                        ref[name][0] += (float(outputs[name][i, j, s]) - float(batch["targets"][i, j, s, r])) ** 2
                        ref[name][1] += 1
                for name in ("keyframe", "interpolation"):
                    if batch[f"{name}_mask"][i, j, s]:
                        logits = [float(x) for x in outputs[name][i, j, s]]
                        y = int(batch[name][i, j, s])
                        ce = -(logits[y] - math.log(sum(math.exp(x) for x in logits)))
                        w = pos_weight if (name == "keyframe" and y == 1) else 1.0
                        ref[name][0] += w * ce
                        ref[name][1] += w
    return {h: (v[0], v[1]) for h, v in ref.items()}


def test_head_sums_match_hand_computation() -> None:
    batch = hand_batch()
    out = random_outputs(batch)
    out["scale"][0, 0] = torch.tensor([1.0, 2.0, -50.0])
    out["keyframe"][0, 0, 0] = torch.tensor([0.0, math.log(3.0)])  # p(key) = 3/4, and a key is there
    sums = MultiTrackLoss(LossConfig(), ModelConfig()).head_sums(out, batch)
    assert sums["scale"][0].item() == pytest.approx((1 - 0) ** 2 + (2 - 4) ** 2)
    assert sums["scale"][1].item() == 2
    assert sums["rotation"][1].item() == 2 and sums["pan"][1].item() == 2 and sums["interpolation"][1].item() == 2
    ce_00 = -math.log(0.75)
    other = [out["keyframe"][0, j, s] for j, s in ((0, 1), (1, 0), (1, 1))]
    labels = [0, 0, 1]
    expected = ce_00 + sum(-(x[y] - torch.logsumexp(x, 0)).item() for x, y in zip(other, labels))
    assert sums["keyframe"][0].item() == pytest.approx(expected, rel=1e-5)
    ref = reference_sums(out, batch)
    for head in HEADS:
        assert sums[head][0].item() == pytest.approx(ref[head][0], rel=1e-5, abs=1e-6), head
        assert sums[head][1].item() == ref[head][1], head


def test_forward_is_masked_mean_and_weighted_sum() -> None:
    batch = make_batch(3, 4, 12, seed=2)
    out = random_outputs(batch, seed=3)
    weights = {"scale": 3.0, "pan": 0.5, "keyframe": 0.0, "interpolation": 2.0}
    plain = MultiTrackLoss(LossConfig(huber_heads=[]), ModelConfig())  # MSE on every regression head
    weighted = MultiTrackLoss(LossConfig(weights=weights, huber_heads=[]), ModelConfig())
    total, per_head = plain(out, batch)
    total_w, per_head_w = weighted(out, batch)
    ref = reference_sums(out, batch)
    for head in HEADS:
        assert per_head[head].item() == pytest.approx(ref[head][0] / ref[head][1], rel=1e-5), head
        torch.testing.assert_close(per_head[head], per_head_w[head])  # per-head values are unweighted
    assert total.item() == pytest.approx(sum(v.item() for v in per_head.values()), rel=1e-6)
    expected = sum(weights.get(h, 1.0) * per_head[h].item() for h in HEADS)
    assert total_w.item() == pytest.approx(expected, rel=1e-6)


def test_target_weight_scales_each_tracks_squared_errors() -> None:
    """``target_weight`` (B, K, R), loss.programme_floor's per-programme weights, multiplies each regression
    target's squared errors on that track; the mean is still over the valid positions, and head_sums (what
    evaluation reports) stay unweighted."""
    batch = hand_batch()
    out = {name: torch.zeros(1, 2, 3) for name in REGRESSION_TARGETS}
    out["keyframe"] = torch.zeros(1, 2, 3, 2)
    out["interpolation"] = torch.zeros(1, 2, 3, 3)
    loss = MultiTrackLoss(LossConfig(huber_heads=[]), ModelConfig())
    _, plain = loss(out, batch)
    assert plain["scale"].item() == pytest.approx((0.0 + 16.0) / 2)  # padding's 99 never counts
    weight = torch.ones(1, 2, R)
    weight[0, 0, SCALE] = 3.0  # the video track's scale
    weight[0, 1, LEVEL] = 0.5
    weight[0, 1, SCALE] = 100.0  # the audio track has no valid scale: nothing changes
    _, weighted = loss(out, {**batch, "target_weight": weight})
    assert weighted["scale"].item() == pytest.approx(3.0 * 8.0)
    assert weighted["level_db"].item() == pytest.approx(0.5 * (1.0 + 1.0) / 2)
    assert weighted["pan"].item() == pytest.approx(plain["pan"].item())
    sums = loss.head_sums(out, {**batch, "target_weight": weight})
    assert sums["scale"][0].item() == pytest.approx(16.0)


def test_masked_positions_are_ignored() -> None:
    batch = make_batch(3, 4, 12, seed=4)
    out = random_outputs(batch, seed=5)
    loss_fn = MultiTrackLoss(LossConfig(), ModelConfig(), keyframe_pos_weight=5.0)
    total, per_head = loss_fn(out, batch)
    changed = {k: v.clone() for k, v in batch.items()}
    changed["targets"][~batch["target_mask"]] = float("nan")  # even NaN at masked positions must not leak
    changed["keyframe"][~batch["keyframe_mask"]] = 1 - batch["keyframe"][~batch["keyframe_mask"]]
    changed["interpolation"][~batch["interpolation_mask"]] = -100  # not even a valid class
    out2 = {k: v.clone().requires_grad_() for k, v in out.items()}
    with torch.no_grad():
        for name in REGRESSION_TARGETS:
            out2[name][~batch["target_mask"][..., REGRESSION_TARGETS.index(name)]] += 1e3
        out2["keyframe"][~batch["keyframe_mask"]] += 1e3
    total2, per_head2 = loss_fn(out2, changed)
    assert total2.item() == pytest.approx(total.item(), rel=1e-6)
    for head in HEADS:
        assert per_head2[head].item() == pytest.approx(per_head[head].item(), rel=1e-6), head
    total2.backward()
    assert (out2["scale"].grad[~batch["target_mask"][..., SCALE]] == 0).all()
    assert (out2["keyframe"].grad[~batch["keyframe_mask"]] == 0).all()
    sums, sums2 = loss_fn.head_sums(out, batch), loss_fn.head_sums(out2, changed)
    for head in HEADS:
        assert sums2[head][0].item() == pytest.approx(sums[head][0].item(), rel=1e-6), head


def test_head_without_valid_positions_gives_zero_not_nan() -> None:
    batch = make_batch(2, 3, 8, seed=6)
    batch["interpolation_mask"][:] = False
    batch["target_mask"][..., REGRESSION_TARGETS.index("pan")] = False
    out = {k: v.requires_grad_() for k, v in random_outputs(batch).items()}
    loss_fn = MultiTrackLoss(LossConfig(), ModelConfig())
    total, per_head = loss_fn(out, batch)
    assert per_head["interpolation"].item() == 0.0 and per_head["pan"].item() == 0.0
    assert torch.isfinite(total) and total.item() > 0
    total.backward()
    assert all(torch.isfinite(v.grad).all() for v in out.values())
    sums = loss_fn.head_sums(out, batch)
    assert sums["interpolation"][0].item() == 0.0 and sums["interpolation"][1].item() == 0.0
    # a batch where nothing at all is valid
    for key in ("target_mask", "keyframe_mask"):
        batch[key][:] = False
    total, per_head = loss_fn(out, batch)
    assert total.item() == 0.0 and all(v.item() == 0.0 for v in per_head.values())


def test_keyframe_pos_weight_changes_ce() -> None:
    batch = make_batch(3, 4, 12, seed=7)
    batch["keyframe"][0, 0, :3] = 1  # make sure keys are there
    out = random_outputs(batch, seed=8)
    cfg = ModelConfig()
    _, unweighted = MultiTrackLoss(LossConfig(), cfg)(out, batch)
    _, weighted = MultiTrackLoss(LossConfig(), cfg, keyframe_pos_weight=4.0)(out, batch)
    ref = reference_sums(out, batch, pos_weight=4.0)
    assert weighted["keyframe"].item() == pytest.approx(ref["keyframe"][0] / ref["keyframe"][1], rel=1e-5)
    assert weighted["keyframe"].item() != pytest.approx(unweighted["keyframe"].item(), rel=1e-3)
    for head in REGRESSION_TARGETS:
        assert weighted[head].item() == unweighted[head].item()
    # an explicit config value wins over the constructor's (train-derived) value
    _, from_cfg = MultiTrackLoss(LossConfig(keyframe_pos_weight=4.0), cfg, keyframe_pos_weight=9.0)(out, batch)
    assert from_cfg["keyframe"].item() == pytest.approx(weighted["keyframe"].item(), rel=1e-6)
    # the scale multiplies whichever weight applies: the train-derived one here (2 x 2 = 4)
    _, scaled = MultiTrackLoss(LossConfig(keyframe_pos_scale=2.0), cfg, keyframe_pos_weight=2.0)(out, batch)
    assert scaled["keyframe"].item() == pytest.approx(weighted["keyframe"].item(), rel=1e-6)
    # evaluation sums are plain CE, whatever the training weight
    a = MultiTrackLoss(LossConfig(), cfg).head_sums(out, batch)["keyframe"]
    b = MultiTrackLoss(LossConfig(), cfg, keyframe_pos_weight=4.0).head_sums(out, batch)["keyframe"]
    assert a[0].item() == pytest.approx(b[0].item()) and a[1].item() == b[1].item()


def test_baseline_outputs_give_expected_loss() -> None:
    batch = hand_batch()
    means = {name: {"video": 0.0, "audio": 0.0} for name in REGRESSION_TARGETS}
    means["scale"] = {"video": 1.0, "audio": 7.0}
    means["level_db"] = {"video": 5.0, "audio": 0.5}
    baseline = {"regression": means, "keyframe": {"video": 0.25, "audio": 0.5}, "interpolation": [0.5, 0.3, 0.2]}
    loss_fn = MultiTrackLoss(LossConfig(), ModelConfig())
    out = loss_fn.baseline_outputs(batch, baseline)
    model_like = random_outputs(batch)
    assert {k: v.shape for k, v in out.items()} == {k: v.shape for k, v in model_like.items()}
    sums = loss_fn.head_sums(out, batch)
    assert sums["scale"][0].item() == pytest.approx((0 - 1) ** 2 + (4 - 1) ** 2)  # video mean on the video track
    assert sums["level_db"][0].item() == pytest.approx((-1 - 0.5) ** 2 + (1 - 0.5) ** 2)  # audio mean
    assert sums["rotation"][0].item() == 0.0
    # keys: video (1, 0) at p = 0.25, audio (0, 1) at p = 0.5
    expected_kf = -math.log(0.25) - math.log(0.75) - 2 * math.log(0.5)
    assert sums["keyframe"][0].item() == pytest.approx(expected_kf, rel=1e-5)
    assert sums["interpolation"][0].item() == pytest.approx(-math.log(0.2) - math.log(0.3), rel=1e-5)
    # the module-level function (used by evaluation) defaults to every head the baseline describes
    plain = baseline_outputs(batch, baseline)
    assert plain.keys() == out.keys()
    for name in out:
        torch.testing.assert_close(plain[name], out[name])


def test_baseline_at_the_mean_scores_the_variance() -> None:
    batch = make_batch(4, 4, 16, seed=9)
    kinds = batch["track_kind"][:, :, None].expand(batch["step_mask"].shape)  # (B, K, T)
    means = {}
    for r, name in enumerate(REGRESSION_TARGETS):
        m = batch["target_mask"][..., r]
        y = batch["targets"][..., r]
        means[name] = {
            kind: float(y[m & (kinds == i)].mean()) if (m & (kinds == i)).any() else 0.0
            for i, kind in enumerate(("video", "audio"))
        }
    baseline = {"regression": means, "keyframe": {"video": 0.1, "audio": 0.1}, "interpolation": [1 / 3] * 3}
    loss_fn = MultiTrackLoss(LossConfig(), ModelConfig())
    sums = loss_fn.head_sums(baseline_outputs(batch, baseline), batch)
    for r, name in enumerate(REGRESSION_TARGETS):
        m = batch["target_mask"][..., r]
        y = batch["targets"][..., r]
        var = sum(
            ((y[m & (kinds == i)] - y[m & (kinds == i)].mean()) ** 2).sum().item()
            for i in (0, 1)
            if (m & (kinds == i)).any()
        )
        assert sums[name][0].item() == pytest.approx(var, rel=1e-4), name
    assert sums["interpolation"][0].item() == pytest.approx(math.log(3) * sums["interpolation"][1].item(), rel=1e-5)


def test_head_sums_add_up_across_batches() -> None:
    """Global masked means come from summed sums and counts, so splitting a batch changes nothing."""
    batch = make_batch(4, 3, 10, seed=10)
    out = random_outputs(batch, seed=11)
    loss_fn = MultiTrackLoss(LossConfig(), ModelConfig())
    whole = loss_fn.head_sums(out, batch)
    halves = [
        loss_fn.head_sums({k: v[sl] for k, v in out.items()}, {k: v[sl] for k, v in batch.items()})
        for sl in (slice(0, 1), slice(1, 4))
    ]
    for head in HEADS:
        assert sum(h[head][0].item() for h in halves) == pytest.approx(whole[head][0].item(), rel=1e-5)
        assert sum(h[head][1].item() for h in halves) == whole[head][1].item()


def test_low_precision_outputs_give_float32_loss() -> None:
    batch = make_batch(2, 3, 8, seed=12)
    out = {k: v.bfloat16() for k, v in random_outputs(batch).items()}
    total, per_head = MultiTrackLoss(LossConfig(), ModelConfig())(out, batch)
    assert total.dtype == torch.float32 and torch.isfinite(total)


def test_huber_is_mse_within_delta_and_finite_at_zero_error():
    cfg = ModelConfig(preset="tiny", targets=["scale"], classify=[])
    b, k, t = 1, 1, 4
    batch = {
        "targets": torch.zeros(b, k, t, 7),
        "target_mask": torch.ones(b, k, t, 7, dtype=torch.bool),
    }
    pred = torch.tensor([[[0.0, 0.5, -3.0, 1.0]]], requires_grad=True)
    huber = MultiTrackLoss(LossConfig(regression="huber", huber_delta=1.0), cfg)
    mse = MultiTrackLoss(LossConfig(), cfg)
    h, _ = huber({"scale": pred}, batch)
    m, _ = mse({"scale": pred}, batch)
    # e^2 within 1 std, 2|e| - 1 beyond: (0 + 0.25 + 5 + 1) / 4 against (0 + 0.25 + 9 + 1) / 4
    assert h.item() == pytest.approx((0 + 0.25 + 5 + 1) / 4)
    assert m.item() == pytest.approx((0 + 0.25 + 9 + 1) / 4)
    h.backward()
    assert torch.isfinite(pred.grad).all() and float(pred.grad[0, 0, 0]) == 0.0


def test_huber_heads_train_only_those_heads_with_the_huber_loss():
    cfg = ModelConfig(preset="tiny", targets=["scale", "rotation"], classify=[])
    batch = {
        "targets": torch.zeros(1, 1, 4, 7),
        "target_mask": torch.ones(1, 1, 4, 7, dtype=torch.bool),
    }
    pred = torch.tensor([[[0.0, 0.5, -3.0, 1.0]]])
    _, per_head = MultiTrackLoss(LossConfig(huber_heads=["rotation"]), cfg)({"scale": pred, "rotation": pred}, batch)
    assert per_head["rotation"].item() == pytest.approx((0 + 0.25 + 5 + 1) / 4)  # Huber
    assert per_head["scale"].item() == pytest.approx((0 + 0.25 + 9 + 1) / 4)  # MSE, as before
    with pytest.raises(ValueError, match="huber_heads"):
        LossConfig(huber_heads=["keyframe"])
