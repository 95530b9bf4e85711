"""MultiTrackTransformer: shapes per preset, parameter counts, masking, TorchScript, a tiny overfit."""

from __future__ import annotations

import pytest
import torch

from core.config import CLASSIFICATION_TARGETS, MODEL_PRESETS, REGRESSION_TARGETS, LossConfig, ModelConfig
from core.data.batch import FEATURES
from core.data.context import N_SUMMARY
from core.learn.loss import MultiTrackLoss
from core.learn.model import SelfAttention, build_model, count_parameters

F = len(FEATURES)
R = len(REGRESSION_TARGETS)
ATTENTIONS = ("factorised", "full")


def make_batch(b: int = 3, k: int = 4, t: int = 12, seed: int = 0) -> dict[str, torch.Tensor]:
    """Synthetic batch with the shapes of core.data.batch and heavy padding.

    Window 0 has every track real, steps padded at the end; window 1 has a fully padded last track
    and tracks of different lengths; other windows have one real track and a padded middle track.
    """
    g = torch.Generator().manual_seed(seed)
    track_mask = torch.ones(b, k, dtype=torch.bool)
    track_mask[1:, -1] = False
    track_mask[2:, 1:] = False
    lengths = torch.randint(t // 2, t + 1, (b, k), generator=g)  # (B, K) valid steps per track
    lengths[0] = t - 3
    step_mask = (torch.arange(t)[None, None, :] < lengths[:, :, None]) & track_mask[:, :, None]  # (B, K, T)
    active = step_mask & (torch.rand(b, k, t, generator=g) < 0.8)
    given = (torch.rand(b, k, t, R, generator=g) < 0.2) & active[..., None]
    keyframe = (torch.rand(b, k, t, generator=g) < 0.1).long()
    return {
        "features": torch.randn(b, k, t, F, generator=g),
        "track_kind": torch.randint(0, 2, (b, k), generator=g) * track_mask,
        "track_index": torch.arange(k).expand(b, k) * track_mask,
        "track_mask": track_mask,
        "step_mask": step_mask,
        "targets": torch.randn(b, k, t, R, generator=g),
        "target_mask": active[..., None].expand(b, k, t, R) & ~given,
        "keyframe": keyframe,
        "keyframe_mask": active,
        "interpolation": torch.randint(0, 3, (b, k, t), generator=g),
        "interpolation_mask": active & keyframe.bool(),
        "context_values": torch.randn(b, k, t, R, generator=g) * given,
        "context_given": given.float(),
        "context_key": (torch.rand(b, k, t, generator=g) < 0.05).float() * active,
        "context_summary": torch.randn(b, k, t, N_SUMMARY, generator=g) * step_mask[..., None],
    }


def model_cfg(preset: str = "tiny", attention: str = "factorised", **kw) -> ModelConfig:
    return ModelConfig(**{**MODEL_PRESETS[preset], "attention": attention, **kw})


@pytest.mark.parametrize("attention", ATTENTIONS)
@pytest.mark.parametrize("preset", sorted(MODEL_PRESETS))
def test_output_shapes_every_preset(preset: str, attention: str) -> None:
    torch.manual_seed(0)
    model = build_model(model_cfg(preset, attention), F)
    if preset == "large":
        assert count_parameters(model) > 0  # build only: a forward pass of the large model is not needed here
        return
    b, k, t = 2, 3, 5
    out = model.eval()(make_batch(b, k, t))
    assert set(out) == set(REGRESSION_TARGETS) | set(CLASSIFICATION_TARGETS)
    for name in REGRESSION_TARGETS:
        assert out[name].shape == (b, k, t)
    assert out["keyframe"].shape == (b, k, t, 2)
    assert out["interpolation"].shape == (b, k, t, 3)


def test_heads_follow_config() -> None:
    cfg = model_cfg(targets=["scale", "pan"], classify=["keyframe"])
    out = build_model(cfg, F).eval()(make_batch(1, 2, 4))
    assert set(out) == {"scale", "pan", "keyframe"}


def test_parameter_counts_of_presets() -> None:
    counts = {p: count_parameters(build_model(model_cfg(p), F)) for p in MODEL_PRESETS}
    assert counts["tiny"] < counts["small"] < counts["base"] < counts["large"]
    assert 0.3e6 * 0.75 <= counts["small"] <= 0.3e6 * 1.25, counts
    assert 3.3e6 * 0.75 <= counts["large"] <= 3.3e6 * 1.25, counts


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_no_nan_with_heavy_padding(attention: str) -> None:
    torch.manual_seed(0)
    cfg = model_cfg(attention=attention)
    model = build_model(cfg, F)
    batch = make_batch(4, 4, 10)
    batch["step_mask"][3] = False  # a window with no valid step at all
    batch["track_mask"][3] = False
    for training in (True, False):
        model.train(training)
        out = model(batch)
        for name, v in out.items():
            assert torch.isfinite(v).all(), f"{name} not finite (training={training})"
    model.train()
    total, _ = MultiTrackLoss(LossConfig(), cfg)(model(batch), batch)
    total.backward()
    assert torch.isfinite(total)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_fully_masked_row_attends_to_everything() -> None:
    """The NaN guard: a row with no valid key is unmasked (some torch versions give NaN, newer ones 0)."""
    torch.manual_seed(0)
    attn = SelfAttention(16, 2).eval()
    x = torch.randn(3, 5, 16)  # (N, S, D)
    mask = torch.tensor([[True, True, False, False, False], [False] * 5, [True] * 5])  # (N, S)
    y = attn(x, mask)
    torch.testing.assert_close(y[1], attn(x[1:2], torch.ones(1, 5, dtype=torch.bool))[0])
    x2 = x.clone()
    x2[0, 2:] += 5.0  # masked keys of a row with valid keys stay invisible
    torch.testing.assert_close(attn(x2, mask)[0, :2], y[0, :2])
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_padded_positions_do_not_influence_valid_outputs(attention: str) -> None:
    torch.manual_seed(0)
    model = build_model(model_cfg(attention=attention, n_layers=2), F).eval()
    batch = make_batch(3, 4, 12)
    pad = ~batch["step_mask"]  # (B, K, T)
    changed = {k: v.clone() for k, v in batch.items()}
    changed["features"][pad] = torch.randn(int(pad.sum()), F) * 10
    changed["context_values"][pad] = 5.0
    changed["context_given"][pad] = 1.0
    changed["context_key"][pad] = 1.0
    changed["context_summary"][pad] = 2.0
    changed["track_kind"][~batch["track_mask"]] = 1
    changed["track_index"][~batch["track_mask"]] = 7
    valid = batch["step_mask"]
    with torch.no_grad():
        a, b = model(batch), model(changed)
    for name in a:
        torch.testing.assert_close(a[name][valid], b[name][valid], rtol=1e-5, atol=1e-5)
    # control: the check is not vacuous, a valid token does reach other valid tokens
    moved = {k: v.clone() for k, v in batch.items()}
    moved["features"][0, 0, 0] += 3.0
    with torch.no_grad():
        c = model(moved)
    assert not torch.allclose(a["scale"][0, 1:][valid[0, 1:]], c["scale"][0, 1:][valid[0, 1:]])
    assert not torch.allclose(a["scale"][0, 0, 1:][valid[0, 0, 1:]], c["scale"][0, 0, 1:][valid[0, 0, 1:]])


@pytest.mark.filterwarnings("ignore:`torch.jit.(script|load)` is deprecated")
@pytest.mark.parametrize("attention", ATTENTIONS)
def test_torchscript_matches_eager(attention: str, tmp_path) -> None:
    torch.manual_seed(0)
    model = build_model(model_cfg(attention=attention), F).eval()
    torch.jit.script(model).save(str(tmp_path / "model.ts"))  # as persistence exports it
    scripted = torch.jit.load(str(tmp_path / "model.ts"))
    for t in (7, 130):  # positional encoding is computed for any window length
        batch = make_batch(2, 3, t, seed=t)
        inputs = {
            k: batch[k]
            for k in (
                "features",
                "track_kind",
                "track_index",
                "track_mask",
                "step_mask",
                "context_values",
                "context_given",
                "context_key",
                "context_summary",
            )
        }
        with torch.no_grad():
            eager, script = model(inputs), scripted(inputs)
        assert eager.keys() == script.keys()
        for name in eager:
            torch.testing.assert_close(eager[name], script[name], rtol=1e-5, atol=1e-6)


def test_track_index_beyond_embedding_is_clamped() -> None:
    model = build_model(model_cfg(), F).eval()
    batch = make_batch(1, 2, 4)
    batch["track_index"] = torch.tensor([[0, 500]])
    assert torch.isfinite(model(batch)["scale"]).all()


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_tiny_overfit_one_batch(attention: str) -> None:
    """A few hundred steps on one batch with learnable targets cut the loss by far."""
    torch.manual_seed(0)
    cfg = model_cfg(attention=attention, dropout=0.0)
    batch = make_batch(4, 3, 16, seed=1)
    feats = batch["features"]
    batch["targets"] = torch.stack([feats[..., i % F] * (1 + i % 2) for i in range(R)], dim=-1)  # (B, K, T, R)
    batch["keyframe"] = (feats[..., 0] > 1.0).long()
    batch["interpolation"] = torch.bucketize(feats[..., 1].contiguous(), torch.tensor([-0.5, 0.5]))
    model = build_model(cfg, F)
    loss_fn = MultiTrackLoss(LossConfig(), cfg)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(150):
        total, _ = loss_fn(model(batch), batch)
        opt.zero_grad()
        total.backward()
        opt.step()
        losses.append(total.item())
    assert losses[-1] < 0.02 * losses[0], (losses[0], losses[-1])


def train_rule(model, cfg, fill, tracks: int, seed: int, steps: int = 150) -> None:
    """Adam steps on random batches of 4 windows x ``tracks`` x 16 steps whose summary and regression
    targets ``fill(summary, targets, generator)`` writes into zeros."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = MultiTrackLoss(LossConfig(), cfg)
    for _ in range(steps):
        batch = make_batch(4, tracks, 16, seed=int(torch.randint(0, 10**6, (1,), generator=g)))
        s, t = torch.zeros_like(batch["context_summary"]), torch.zeros_like(batch["targets"])
        fill(s, t, g)
        batch["context_summary"] = s * batch["step_mask"][..., None]
        batch["targets"] = t
        total, _ = loss_fn(model(batch), batch)
        opt.zero_grad()
        total.backward()
        opt.step()


def test_rule_trust_starts_full_and_falls_where_the_rule_misleads() -> None:
    """The same-track prior has one learned trust per head: 1.0 at the start (the model is the rule plus
    its deviations); where the given clips' mean says nothing about the other clips (here: noise, with
    targets at 0), training lowers that head's trust, and only that head's."""
    from core.data.context import TRACK_HAS, TRACK_MEAN, TRACK_MEDIAN

    torch.manual_seed(0)
    cfg = model_cfg(dropout=0.0)
    model = build_model(cfg, F)
    assert torch.allclose(model.trust().detach(), torch.ones(len(cfg.targets) + len(cfg.classify)))
    r_misled, r_kept = REGRESSION_TARGETS.index("scale"), REGRESSION_TARGETS.index("level_db")

    def misled_and_kept(s: torch.Tensor, t: torch.Tensor, g: torch.Generator) -> None:
        s[..., TRACK_HAS.start + r_misled] = 1.0
        s[..., TRACK_HAS.start + r_kept] = 1.0
        mean = torch.randn(4, 3, 1, generator=g).expand(4, 3, 16)  # one mean per track
        s[..., TRACK_MEAN.start + r_misled] = mean  # a misleading rule: the targets are 0
        s[..., TRACK_MEAN.start + r_kept] = mean  # a right one: the targets are the mean
        s[..., TRACK_MEDIAN.start + r_misled] = mean  # one value per track: its median is its mean
        s[..., TRACK_MEDIAN.start + r_kept] = mean
        t[..., r_kept] = mean

    train_rule(model, cfg, misled_and_kept, tracks=3, seed=3)
    t = model.trust().detach()
    assert t[r_misled] < 0.5, t
    assert t[r_kept] > 0.9, t


def test_interpolation_evidence_keeps_a_barely_seen_dialect_at_its_prior() -> None:
    """A dialect with evidence 0 gets only the summary's prior (its format's habit) as interpolation logits;
    the others keep the network's own logits; a model without the buffer (older weights) keeps them all."""
    from core.data.batch import MODEL_FEATURES
    from core.data.context import TRACK_INTERP_LOG
    from core.data.timeline import DIALECTS

    torch.manual_seed(0)
    n = len(MODEL_FEATURES)
    model = build_model(model_cfg(dropout=0.0), n).eval()
    with torch.no_grad():  # a network with opinions of its own about interpolation
        model.classification["interpolation"].bias.copy_(torch.tensor([3.0, -2.0, 0.5]))
    batch = make_batch(2, 3, 10, seed=5)
    feats = torch.randn(2, 3, 10, n)
    col = MODEL_FEATURES.index(f"dialect_{DIALECTS[0]}")
    feats[..., col : col + len(DIALECTS)] = -0.5  # standardised one-hot: negative where not set
    feats[0, ..., col + DIALECTS.index("fcpxml")] = 1.2  # window 0 is FCPXML, window 1 xmeml
    feats[1, ..., col + DIALECTS.index("xmeml")] = 0.3
    batch["features"] = feats
    with torch.no_grad():
        before = model(batch)["interpolation"]
        model.set_interp_evidence({"xmeml": 1.0, "fcpxml": 0.0, "mlt": 0.5})
        after = model(batch)["interpolation"]
    prior = batch["context_summary"][..., TRACK_INTERP_LOG.start : TRACK_INTERP_LOG.start + 3]
    trust = model.trust()[-1]
    torch.testing.assert_close(after[0], trust * prior[0])  # FCPXML: nothing but the prior
    torch.testing.assert_close(after[1], before[1])  # xmeml: unchanged
    assert not torch.allclose(before[0], after[0])
    scripted = torch.jit.script(model)  # as exports are: the dialect weighting scripts too
    with torch.no_grad():
        torch.testing.assert_close(scripted(batch)["interpolation"], after)
    # weights written before the buffer existed load with 1 everywhere: their behaviour is kept
    state = {k: v for k, v in model.state_dict().items() if k != "interp_evidence"}
    again = build_model(model_cfg(dropout=0.0), n).eval()
    again.load_state_dict(state)
    assert torch.equal(again.interp_evidence, torch.ones(len(DIALECTS)))


def test_weights_written_before_the_robust_track_block_load_and_predict_as_then() -> None:
    """Weights of the mean-only summary layout (N_SUMMARY_MEAN_ONLY columns, no median in the rule) load into
    today's model and give exactly the outputs of that model: the new columns get zero weights and the rule
    keeps the mean alone, whatever the new columns hold."""
    from core.data.context import N_SUMMARY_MEAN_ONLY

    torch.manual_seed(0)
    cfg = model_cfg(dropout=0.0)
    model = build_model(cfg, F).eval()
    extra = N_SUMMARY - N_SUMMARY_MEAN_ONLY
    new = ("rule_median", "median_in_rule", "rule_geometry", "geometry_in_rule", "skip_own_only", "rule_median_spread")
    old = {k: v for k, v in model.state_dict().items() if k not in new}
    old["input.weight"] = old["input.weight"][:, :-extra]  # the summary is the last block of the input
    old["summary_skip.weight"] = old["summary_skip.weight"][:, :-extra]
    legacy = build_model(cfg, F).eval()
    legacy.load_state_dict(old)
    assert not bool(legacy.median_in_rule) and not bool(legacy.geometry_in_rule) and not bool(legacy.skip_own_only)
    assert torch.equal(legacy.median_share(), torch.zeros(len(cfg.targets)))
    assert torch.equal(legacy.geometry_share(), torch.zeros(len(cfg.targets)))
    with torch.no_grad():  # the model as it was: the mean alone, blind to the blocks appended since
        model.median_in_rule.fill_(False)
        model.geometry_in_rule.fill_(False)
        model.skip_own_only.fill_(False)
        model.input.weight[:, -extra:] = 0.0
        model.summary_skip.weight[:, -extra:] = 0.0
    batch = make_batch(seed=4)
    other = dict(batch, context_summary=batch["context_summary"].clone())
    other["context_summary"][..., N_SUMMARY_MEAN_ONLY:] += 3.0  # different robust columns change nothing
    with torch.no_grad():
        want = model(batch)
        for got in (legacy(batch), legacy(other)):
            for k in want:
                torch.testing.assert_close(got[k], want[k])


def test_the_rule_moves_to_the_median_where_one_odd_given_clip_pulls_the_mean() -> None:
    """The same-track prior starts halfway between the given clips' mean and median; where the other clips
    sit at the median (one odd clip among the given pulls the mean), training moves that head to the median."""
    from core.data.context import TRACK_HAS, TRACK_MEAN, TRACK_MEDIAN

    torch.manual_seed(0)
    cfg = model_cfg(dropout=0.0)
    model = build_model(cfg, F)
    share = model.median_share().detach()
    assert torch.allclose(share, torch.full_like(share, 0.5))
    r = REGRESSION_TARGETS.index("rotation")

    def odd_clip(s: torch.Tensor, t: torch.Tensor, g: torch.Generator) -> None:
        median = torch.randn(4, 3, 1, generator=g).expand(4, 3, 16)
        s[..., TRACK_HAS.start + r] = 1.0
        s[..., TRACK_MEDIAN.start + r] = median
        s[..., TRACK_MEAN.start + r] = median + 2.0 * torch.randn(4, 3, 1, generator=g)  # an odd clip's pull
        t[..., r] = median

    train_rule(model, cfg, odd_clip, tracks=3, seed=5)
    share = model.median_share().detach()
    rot = cfg.targets.index("rotation")
    assert share[rot] > 0.75, share  # and still rising: the deviation heads learn the same correction meanwhile
    others = torch.cat([share[:rot], share[rot + 1 :]])
    assert torch.equal(others, torch.full_like(others, 0.5))  # no given clips on them, nothing learned


def test_the_median_share_follows_the_spread_of_the_given_values() -> None:
    """Where the given values on a track agree (small spread) the other clips follow their mean, and where one
    odd clip spreads them the other clips sit at the median: no flat share fits both, and training gives the
    share a positive slope in the spread."""
    from core.data.context import TRACK_HAS, TRACK_MEAN, TRACK_MEDIAN, TRACK_SPREAD

    torch.manual_seed(0)
    cfg = model_cfg(dropout=0.0)
    model = build_model(cfg, F)
    rot = cfg.targets.index("rotation")
    assert model.rule_median_spread[rot].item() == 0.0  # a flat share at the start
    r = REGRESSION_TARGETS.index("rotation")

    def odd_or_uniform(s: torch.Tensor, t: torch.Tensor, g: torch.Generator) -> None:
        median = torch.randn(4, 4, 1, generator=g).expand(4, 4, 16)
        pull = 2.0 * torch.randn(4, 4, 1, generator=g).expand(4, 4, 16)
        odd = (torch.arange(4) % 2 == 1)[None, :, None].expand(4, 4, 16)  # tracks 1 and 3: one odd clip
        s[..., TRACK_HAS.start + r] = 1.0
        s[..., TRACK_MEDIAN.start + r] = median
        s[..., TRACK_MEAN.start + r] = median + pull
        s[..., TRACK_SPREAD.start + r] = torch.where(odd, 4.0, 0.1)
        t[..., r] = torch.where(odd, median, median + pull)  # uniform tracks: the mean

    train_rule(model, cfg, odd_or_uniform, tracks=4, seed=6)
    assert model.rule_median_spread[rot].item() > 0.0
    share = model.median_share(torch.tensor([[0.1], [4.0]]).expand(2, len(cfg.targets))).detach()[:, rot]
    assert share[1] > 0.8 and share[0] < 0.5, share


def test_weights_written_before_the_spread_slope_load_with_a_flat_share() -> None:
    """Weights without ``rule_median_spread`` load with slope 0 and predict as a model whose share is flat."""
    torch.manual_seed(0)
    cfg = model_cfg(dropout=0.0)
    model = build_model(cfg, F).eval()
    old = {k: v.clone() for k, v in model.state_dict().items() if k != "rule_median_spread"}
    with torch.no_grad():
        model.rule_median_spread.fill_(0.5)
    legacy = build_model(cfg, F).eval()
    with torch.no_grad():
        legacy.rule_median_spread.fill_(0.5)
    legacy.load_state_dict(old)
    assert torch.equal(legacy.rule_median_spread, torch.zeros(len(cfg.targets)))
    batch = make_batch(seed=7)
    with torch.no_grad():
        got, sloped = legacy(batch), model(batch)
        model.rule_median_spread.zero_()
        want = model(batch)
    for k in want:
        torch.testing.assert_close(got[k], want[k])
    assert any(not torch.allclose(sloped[k], want[k]) for k in cfg.targets)  # the slope does act


def test_the_rule_takes_the_same_size_clips_mean_alone_or_halfway_beside_the_track_mean() -> None:
    """The geometry block's mean (given clips of the token's source size) is the rule where the token's track
    has no given clip, and pulls the track's rule halfway at the start where it has."""
    from core.data.context import GEOMETRY_HAS, GEOMETRY_MEAN, TRACK_HAS, TRACK_MEAN, TRACK_MEDIAN

    torch.manual_seed(0)
    cfg = model_cfg(dropout=0.0, agree_rule=False)  # the given values here all agree (no spread): the learned rule
    model = build_model(cfg, F).eval()
    with torch.no_grad():  # only the rule sees the geometry mean here
        model.input.weight[:, -N_SUMMARY + GEOMETRY_MEAN.start : -N_SUMMARY + GEOMETRY_MEAN.stop] = 0.0
    r = REGRESSION_TARGETS.index("scale")
    head = cfg.targets.index("scale")
    batch = make_batch(seed=6)
    s = torch.zeros_like(batch["context_summary"])
    s[..., GEOMETRY_HAS.start + r] = 1.0
    s[..., GEOMETRY_MEAN.start + r] = 0.3
    outs = []
    for track_has in (0.0, 1.0):
        for geo in (0.3, 1.3):
            t = s.clone()
            t[..., TRACK_HAS.start + r] = track_has
            t[..., TRACK_MEAN.start + r] = track_has * -1.0
            t[..., TRACK_MEDIAN.start + r] = track_has * -1.0
            t[..., GEOMETRY_MEAN.start + r] = geo
            with torch.no_grad():
                outs.append(model(dict(batch, context_summary=t * batch["step_mask"][..., None]))["scale"])
    real = batch["step_mask"] & batch["track_mask"][:, :, None]
    moved_alone, moved_beside = (outs[1] - outs[0])[real], (outs[3] - outs[2])[real]
    torch.testing.assert_close(moved_alone, torch.ones_like(moved_alone))  # trust 1: the same-size mean itself
    torch.testing.assert_close(moved_beside, torch.full_like(moved_beside, 0.5))  # halfway beside the track's
    assert float(model.geometry_share()[head]) == 0.5


def test_a_regression_head_skip_reads_only_its_own_targets_values() -> None:
    """The summary skip of a regression head reads its own target's value columns, without bias, flags or
    counts (a picture-in-picture track's centre spread must not rotate its clips, nor a track's having given
    clips shift them all); class heads read everything; weights written before the mask read every column,
    as then."""
    from core.data.context import SUMMARY_FEATURES

    torch.manual_seed(0)
    cfg = model_cfg(dropout=0.0)
    model = build_model(cfg, F).eval()
    n_in = model.input.in_features
    with torch.no_grad():
        model.summary_skip.weight.normal_()
        model.summary_skip.bias.normal_()
        model.input.weight[:, n_in - N_SUMMARY :] = 0.0  # the summary reaches the heads through the skip alone
    batch = make_batch(seed=5)
    cols = {c: SUMMARY_FEATURES.index(c) for c in ("track_spread_center_x", "track_spread_rotation")}
    cols |= {c: SUMMARY_FEATURES.index(c) for c in ("track_given_log1p", "track_has_rotation")}

    def moved(m, c: int) -> dict[str, float]:
        other = dict(batch, context_summary=batch["context_summary"].clone())
        other["context_summary"][..., c] += 13.0
        with torch.no_grad():
            a, b = m(batch), m(other)
        return {k: float((a[k] - b[k]).abs().max()) for k in ("rotation", "center_x", "keyframe")}

    d = moved(model, cols["track_spread_center_x"])
    assert d["rotation"] == 0.0 and d["center_x"] > 0.1 and d["keyframe"] > 0.1
    assert moved(model, cols["track_spread_rotation"])["rotation"] > 0.1
    assert moved(model, cols["track_given_log1p"])["rotation"] == 0.0
    # a flag reaches a regression head only through the rule it switches on, never through the skip
    r = list(model.regression).index("rotation")
    assert float(model.skip_mask[r, cols["track_has_rotation"]]) == 0.0
    batch["context_summary"].zero_()  # no summary at all: a regression head's skip adds nothing, no bias
    with torch.no_grad():
        skip_off = model(batch)["rotation"]
        model.summary_skip.bias.zero_()
        torch.testing.assert_close(model(batch)["rotation"], skip_off)
    old = {k: v.clone() for k, v in model.state_dict().items() if k != "skip_own_only"}
    legacy = build_model(cfg, F).eval()
    legacy.load_state_dict(old)
    assert moved(legacy, cols["track_spread_center_x"])["rotation"] > 0.1


def test_regression_outputs_stay_within_the_parameters_ranges_and_still_learn_from_beyond() -> None:
    """With ranges set, opacity never leaves 0-100 % and pan -1..1 (standardised bounds from the scalers);
    a token pushed above its range still gets the gradient that brings it down; weights written before the
    ranges existed stay unbounded."""
    from core.data.timeline import PARAM_RANGES

    torch.manual_seed(0)
    cfg = model_cfg(dropout=0.0)
    model = build_model(cfg, F).eval()
    mean = torch.zeros(R, dtype=torch.float64)
    std = torch.ones(R, dtype=torch.float64)
    mean[REGRESSION_TARGETS.index("opacity")], std[REGRESSION_TARGETS.index("opacity")] = 90.0, 10.0
    old = {k: v.clone() for k, v in model.state_dict().items() if k not in ("range_lo", "range_hi")}
    model.set_target_ranges(mean.numpy(), std.numpy())
    with torch.no_grad():
        model.rest.fill_(5.0)  # every head far above its mean: opacity 140 %, pan 5
    batch = make_batch(seed=6)
    batch["context_summary"].zero_()  # no given clip: the heads rest on `rest`
    out = model(batch)
    assert float(out["opacity"].max()) == pytest.approx(PARAM_RANGES["opacity"][1] / 10.0 - 9.0)  # (100 - 90) / 10
    assert float(out["pan"].max()) == pytest.approx(1.0) and float(out["scale"].min()) >= -1e-6
    assert float(out["rotation"].max()) > 4.0  # rotation has no range
    loss = ((out["opacity"] - 0.0) ** 2).sum()  # a target of 90 %: the clamped 100 % is too high
    loss.backward()
    assert float(model.rest.grad[list(model.regression).index("opacity")]) > 0.0  # gradient descent lowers it
    legacy = build_model(cfg, F).eval()
    legacy.load_state_dict(old)
    assert torch.isinf(legacy.range_hi).all() and torch.isinf(legacy.range_lo).all()


@pytest.mark.parametrize("agree_rule", [True, False])
def test_where_a_tracks_given_values_agree_evaluation_gives_that_value(agree_rule: bool) -> None:
    """In evaluation a regression head gives the given clips' value where every given clip of the token's track
    holds one value (their spread 0); elsewhere, in training, and with ``agree_rule`` off, the network's own."""
    from core.data.context import TRACK_HAS, TRACK_MEAN, TRACK_SPREAD

    torch.manual_seed(0)
    cfg = model_cfg(agree_rule=agree_rule)
    model = build_model(cfg, F)
    batch = make_batch()
    s = batch["context_summary"]
    s[..., TRACK_HAS] = 0.0
    r = REGRESSION_TARGETS.index("level_db")
    s[:, 0, :, TRACK_HAS.start + r] = 1.0  # track 0 has given levels: one value (0.7) ...
    s[:, 0, :, TRACK_MEAN.start + r] = 0.7
    s[:, 0, :, TRACK_SPREAD.start + r] = 0.0
    s[:, 1, :, TRACK_HAS.start + r] = 1.0  # ... track 1 too, but spread over several values
    s[:, 1, :, TRACK_SPREAD.start + r] = 0.5
    model.eval()
    with torch.no_grad():
        level = model(batch)["level_db"]
    if agree_rule:
        assert torch.equal(level[:, 0], torch.full_like(level[:, 0], 0.7))
    else:
        assert not torch.allclose(level[:, 0], torch.full_like(level[:, 0], 0.7))
    assert not torch.allclose(level[:, 1], torch.full_like(level[:, 1], 0.7))
    model.train()
    assert not torch.allclose(model(batch)["level_db"][:, 0], torch.full_like(level[:, 0], 0.7))
