"""WindowDataset: batch contract, context selection, loss masks, determinism per epoch."""

from __future__ import annotations

from fractions import Fraction as Fr

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from core.config import REGRESSION_TARGETS
from core.data.batch import BATCH_KEYS, MODEL_FEATURES
from core.data.context import N_SUMMARY
from core.data.dataset import WindowDataset, collate
from core.data.frames import timeline_to_frames
from core.data.scalers import Scalers
from core.data.timeline import Clip, Curve, Key, Timeline, Track
from core.data.windows import concat_windows, make_windows


def corpus(n: int = 12) -> dict[str, np.ndarray]:
    """Timelines of many short clips on 2 video + 1 audio track, with keys, as raw windows."""
    rng = np.random.default_rng(0)
    parts = []
    for i in range(n):
        tracks = []
        for kind, idx, param in (("video", 0, "scale"), ("video", 1, "opacity"), ("audio", 0, "level_db")):
            clips, t = [], Fr(0)
            while t < 20:
                d = Fr(int(rng.integers(5, 30)), 10)
                clips.append(
                    Clip(
                        "c",
                        t,
                        t + d,
                        media_kind="audio" if kind == "audio" else "video",
                        curves={param: Curve([Key(t, float(rng.normal())), Key(t + d / 2, 5.0)])},
                    )
                )
                t += d + Fr(int(rng.integers(0, 5)), 10)
            tracks.append(Track(kind, idx, clips))
        tl = Timeline(f"t{i}", Fr(25), Fr(20), tracks)
        parts.append(make_windows(timeline_to_frames(tl), 50, 10, 4, timeline=i))
    return concat_windows(parts)


@pytest.fixture(scope="module")
def raw():
    return corpus()


@pytest.fixture(scope="module")
def scalers(raw):
    return Scalers.fit(raw)


def test_batch_contract(raw, scalers):
    ds = WindowDataset(raw, scalers, context=0.3)
    b = collate([ds[i] for i in range(4)])
    assert list(b) == list(BATCH_KEYS)
    B, K, T, F, R = 4, 4, 50, len(MODEL_FEATURES), len(REGRESSION_TARGETS)
    shapes = {
        "features": (B, K, T, F),
        "targets": (B, K, T, R),
        "target_mask": (B, K, T, R),
        "context_values": (B, K, T, R),
        "context_given": (B, K, T, R),
        "context_summary": (B, K, T, N_SUMMARY),
        "target_weight": (B, K, R),
        "track_kind": (B, K),
        "track_index": (B, K),
        "track_mask": (B, K),
    }
    for k, v in b.items():
        assert tuple(v.shape) == shapes.get(k, (B, K, T)), k
    for k in ("features", "targets", "context_values", "context_given", "context_key", "context_summary"):
        assert b[k].dtype == torch.float32, k
    assert b["target_weight"].dtype == torch.float32 and (b["target_weight"] == 1).all()  # no weights given
    for k in ("track_kind", "track_index", "keyframe", "interpolation"):
        assert b[k].dtype == torch.int64, k
    for k in ("track_mask", "step_mask", "target_mask", "keyframe_mask", "interpolation_mask"):
        assert b[k].dtype == torch.bool, k
    assert torch.isfinite(b["features"]).all() and torch.isfinite(b["targets"]).all()
    assert (b["features"][~b["step_mask"]] == 0).all()


def test_standardisation(raw, scalers):
    ds = WindowDataset(raw, scalers)
    b = collate([ds[i] for i in range(len(ds))])
    m = b["target_mask"]
    y = b["targets"][m]  # standardised over the data the scalers were fit on: mean 0 per target
    assert abs(float(b["targets"][..., 0][m[..., 0]].mean())) < 1e-3
    assert y.abs().max() < 50
    native = scalers.destandardise_targets(b["targets"])
    np.testing.assert_allclose(native[m].numpy(), raw["targets"][m.numpy()], rtol=1e-4, atol=1e-3)


def test_feature_statistics_streamed_in_chunks_equal_the_whole_sets(raw, scalers):
    from core.data.batch import transform_features
    from core.data.scalers import _feature_moments

    x = transform_features(raw["features"][raw["step_mask"]]).astype(np.float64)
    for chunk in (1, 7, len(raw["step_mask"])):
        mean, std = _feature_moments(raw["features"], raw["step_mask"], chunk=chunk)
        np.testing.assert_allclose(mean, x.mean(axis=0), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(std, x.std(axis=0), rtol=1e-7, atol=1e-9)


def test_context_zero_gives_nothing(raw, scalers):
    ds = WindowDataset(raw, scalers, context=0.0)
    for i in range(len(ds)):
        item = ds[i]
        assert item["context_given"].sum() == 0 and item["context_key"].sum() == 0
        assert item["context_values"].abs().sum() == 0
        valid = raw["target_valid"][i] & raw["step_mask"][i, ..., None]
        assert torch.equal(item["target_mask"], torch.from_numpy(valid))
        assert torch.equal(item["keyframe_mask"], torch.from_numpy(raw["keyframe_valid"][i]))
        assert torch.equal(item["interpolation_mask"], torch.from_numpy(raw["interp_valid"][i]))


def test_context_half_gives_about_half_the_clips_and_leaves_the_loss(raw, scalers):
    ds = WindowDataset(raw, scalers, context=0.5)
    n_clips = n_given = 0
    for i in range(len(ds)):
        item = ds[i]
        given = ds.given_mask(i)  # (K, T)
        clip = raw["clip_id"][i]
        for k in range(clip.shape[0]):
            ids = set(clip[k][clip[k] >= 0].tolist())
            g = set(clip[k][given[k]].tolist())
            assert g <= ids
            # a clip is given entirely or not at all
            for c in g:
                assert given[k][clip[k] == c].all()
            n_clips, n_given = n_clips + len(ids), n_given + len(g)
        gv = torch.from_numpy(given)
        tv = torch.from_numpy(raw["target_valid"][i])
        assert not item["target_mask"][gv].any() and not item["keyframe_mask"][gv].any()
        assert not item["interpolation_mask"][gv].any()
        assert torch.equal(item["target_mask"], tv & ~gv[..., None])
        assert torch.equal(item["context_given"].bool(), tv & gv[..., None])
        assert torch.equal(item["context_values"][tv & gv[..., None]], item["targets"][tv & gv[..., None]])
        assert torch.equal(item["context_key"].bool(), gv & torch.from_numpy(raw["keyframe"][i] == 1))
    assert n_clips > 200
    assert 0.4 < n_given / n_clips < 0.6


def test_deterministic_per_epoch(raw, scalers):
    a = WindowDataset(raw, scalers, context=(0.0, 0.5), seed=3)
    b = WindowDataset(raw, scalers, context=(0.0, 0.5), seed=3)
    idx = range(0, len(a), 3)
    g0 = [a.given_mask(i) for i in idx]
    assert all(np.array_equal(x, b.given_mask(i)) for x, i in zip(g0, idx))
    a.set_epoch(1)
    g1 = [a.given_mask(i) for i in idx]
    assert any(not np.array_equal(x, y) for x, y in zip(g0, g1))
    a.set_epoch(0)
    assert all(np.array_equal(x, a.given_mask(i)) for x, i in zip(g0, idx))
    ev = WindowDataset(raw, scalers, context=0.5, seed=1)
    first = collate([ev[i] for i in range(len(ev))])
    again = collate([ev[i] for i in range(len(ev))])
    assert all(torch.equal(first[k], again[k]) for k in BATCH_KEYS)


def test_set_seed_draws_what_a_new_dataset_of_that_seed_draws(raw, scalers):
    """Several draws in one evaluation reuse one dataset: after ``set_seed`` its given clips and summaries are
    those of a dataset built with that seed, not the ones cached for the seed before."""
    a = WindowDataset(raw, scalers, context=0.5, seed=3)
    idx = range(0, len(a), 3)
    before = [a.context_of(i) for i in idx]
    a.set_seed(4)
    fresh = WindowDataset(raw, scalers, context=0.5, seed=4)
    after = [a.context_of(i) for i in idx]
    for (s, g), i in zip(after, idx):
        fs, fg = fresh.context_of(i)
        assert np.array_equal(g, fg) and np.array_equal(s, fs)
    assert any(not np.array_equal(g0, g1) for (_, g0), (_, g1) in zip(before, after))


def test_a_shuffled_dataloader_visits_every_window_once(raw, scalers):
    # (its speed is benchmarks/bench_train.py's business, never a test's)
    ds = WindowDataset(raw, scalers, context=(0.0, 0.5))
    loader = DataLoader(ds, batch_size=32, shuffle=True, collate_fn=collate, generator=torch.Generator().manual_seed(0))
    seen = torch.cat([b["features"][:, 0, 0, :].flatten() for b in loader])
    every = torch.cat([ds[i]["features"][0, 0, :].flatten() for i in range(len(ds))])
    assert len(seen) == len(every) and torch.equal(seen.sort().values, every.sort().values)


def test_given_clips_are_drawn_per_timeline_and_summarised(raw, scalers):
    """A clip given in one window is given in every window that shows it, and the track block of the
    summary is the mean of the given clips' clip means on that track, whichever window looks."""
    from core.data.context import TRACK_HAS, TRACK_MEAN

    ds = WindowDataset(raw, scalers, context=0.5, seed=4)
    seen: dict[tuple[int, int, int], bool] = {}
    for i in range(len(ds)):
        given = ds.given_mask(i)
        tl, rows = int(raw["timeline"][i]), raw["track_row"][i]
        clip, real = raw["clip_id"][i], raw["step_mask"][i] & (raw["clip_id"][i] >= 0)
        for k, t in zip(*np.nonzero(real)):
            key = (tl, int(rows[k]), int(clip[k, t]))
            assert seen.setdefault(key, bool(given[k, t])) == bool(given[k, t]), key
    for i in range(0, len(ds), 3):
        item = ds[i]
        tl, rows = int(raw["timeline"][i]), raw["track_row"][i]
        # the track block, recomputed from the raw windows of the whole timeline
        s = item["context_summary"].numpy()
        for k in np.flatnonzero(raw["track_mask"][i]):
            if not raw["step_mask"][i, k].any():
                continue
            same = (raw["timeline"] == tl)[:, None] & (raw["track_row"] == rows[k])  # (N, K) this track anywhere
            r = int(np.flatnonzero(raw["target_valid"][i, k].any(0))[0]) if raw["target_valid"][i, k].any() else None
            if r is None:
                continue
            vals: dict[int, list[float]] = {}
            for n, kk in zip(*np.nonzero(same)):
                for t in np.flatnonzero(raw["step_mask"][n, kk] & (raw["clip_id"][n, kk] >= 0)):
                    vals.setdefault(int(raw["clip_id"][n, kk, t]), []).append(
                        (raw["start_step"][n] + t, float(raw["targets"][n, kk, t, r]))
                    )
            given_means = [
                np.mean(list(dict(v).values())) for c, v in vals.items() if seen.get((tl, int(rows[k]), c), None)
            ]
            t0 = int(np.flatnonzero(raw["step_mask"][i, k])[0])
            if given_means:
                expect = (np.mean(given_means) - scalers.target_mean[r]) / scalers.target_std[r]
                assert s[k, t0, TRACK_HAS][r] == 1.0
                assert s[k, t0, TRACK_MEAN][r] == pytest.approx(expect, rel=1e-4, abs=1e-4)
    assert 0 < sum(seen.values()) < len(seen)


def test_a_share_of_timelines_is_given_nothing_the_others_as_before(raw, scalers):
    """``none_share``: per epoch, that share of timelines trains structure only; the others draw their given
    clips from ``context`` as without it."""
    plain = WindowDataset(raw, scalers, context=(0.2, 0.5), seed=4)
    mixed = WindowDataset(raw, scalers, context=(0.2, 0.5), seed=4, none_share=0.5)
    timelines = np.unique(raw["timeline"])
    assert len(timelines) >= 10
    empty = 0
    for epoch in range(8):
        plain.set_epoch(epoch)
        mixed.set_epoch(epoch)
        for tl in timelines:
            m, p = mixed.given_clips(int(tl)), plain.given_clips(int(tl))
            assert p.any()  # at least 20 % of the clips: never empty without the share
            empty += not m.any()
            assert not m.any() or m.sum() >= 0.15 * len(m)
    n = 8 * len(timelines)
    assert 0.3 * n < empty < 0.7 * n


def test_target_weights_apply_to_every_window_or_only_where_no_clip_is_given(raw, scalers):
    """``weight_scope`` (loss.programme_scope): "all" serves each window's target weights; "structure" serves them
    only for a timeline given no clip at the current epoch, and 1 where its timeline has one."""
    n, r = len(raw["timeline"]), len(REGRESSION_TARGETS)
    weights = np.arange(1, n * r + 1, dtype=np.float32).reshape(n, r)
    kw = {"context": 0.5, "seed": 3, "none_share": 0.5, "target_weight": weights}  # half the timelines given none
    every = WindowDataset(raw, scalers, **kw)
    only = WindowDataset(raw, scalers, **kw, weight_scope="structure")
    served = {"given": 0, "none": 0}
    for epoch in range(4):
        for ds in (every, only):
            ds.set_epoch(epoch)
        for i in range(n):
            k = raw["track_mask"][i].shape[0]
            np.testing.assert_array_equal(every[i]["target_weight"].numpy(), np.broadcast_to(weights[i], (k, r)))
            given = only.summary(int(raw["timeline"][i])).given.any()
            expected = np.ones((k, r), np.float32) if given else np.broadcast_to(weights[i], (k, r))
            np.testing.assert_array_equal(only[i]["target_weight"].numpy(), expected)
            served["given" if given else "none"] += 1
    assert served["given"] > 0 and served["none"] > 0, served
    with pytest.raises(ValueError, match="weight_scope"):
        WindowDataset(raw, scalers, target_weight=weights, weight_scope="some")
