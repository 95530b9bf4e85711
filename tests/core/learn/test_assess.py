"""core.learn.assess: one evaluation beside the comparators, and the mean over draws of the given clips."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.data.batch import MODEL_FEATURES
from core.learn.assess import assess, average_reports, verdict, window_files
from core.learn.model import build_model


def test_average_reports_is_a_weighted_mean_number_by_number():
    a = {"x": 1.0, "n": 10, "name": "a", "heads": {"scale": 2.0, "pan": None}, "per": [1.0, 3.0], "ok": True}
    b = {"x": 4.0, "n": 20, "name": "b", "heads": {"scale": 5.0, "pan": 1.0}, "per": [3.0, 5.0], "ok": False}
    m = average_reports([a, b])
    assert m["x"] == 2.5 and m["n"] == 15 and m["heads"]["scale"] == 3.5
    assert m["heads"]["pan"] is None  # unknown in one report: unknown in the mean
    assert m["name"] == "a" and m["ok"] is True  # text and flags: the first report's
    assert m["per"] == [2.0, 4.0]  # lists of one length item by item
    w = average_reports([a, b], [3, 1])
    assert w["x"] == pytest.approx((3 * 1.0 + 4.0) / 4) and w["heads"]["scale"] == pytest.approx((3 * 2.0 + 5.0) / 4)


def test_draws_average_single_draws_of_the_given_clips(tiny):
    """``draws`` = 3 is the mean of the draws of seeds 5, 6 and 7, each kept in ``per_draw``; the draws differ
    (which clips are given changes the figures); structure only has one draw whatever ``draws`` says."""
    cfg, data = tiny
    torch.manual_seed(0)
    model = build_model(cfg.model, n_features=len(MODEL_FEATURES)).eval()
    scalers = data.scalers
    singles = [assess(model, cfg, scalers, data.val, context=0.5, seed=s) for s in (5, 6, 7)]
    mean = assess(model, cfg, scalers, data.val, context=0.5, seed=5, draws=3)
    assert mean["draws"] == 3 and len(mean["per_draw"]) == 3
    objectives = [s["objective_vs_data_constant"] for s in singles]
    assert len(set(objectives)) > 1  # three different draws, not one repeated
    assert mean["objective_vs_data_constant"] == pytest.approx(sum(objectives) / 3, rel=1e-9)
    assert [d["objective_vs_data_constant"] for d in mean["per_draw"]] == pytest.approx(objectives, rel=1e-9)
    for h in cfg.model.heads:
        per = [s["heads"][h]["ratio_vs_same_track"] for s in singles]
        if None not in per:
            assert mean["heads"][h]["ratio_vs_same_track"] == pytest.approx(sum(per) / 3, rel=1e-9), h
        rule = [s["comparators"]["same_track"]["heads"][h]["ratio_vs_data_constant"] for s in singles]
        assert [d["same_track"]["heads"][h] for d in mean["per_draw"]] == pytest.approx(rule, rel=1e-9), h
    assert mean["windows"] == singles[0]["windows"] and isinstance(mean["windows"], int)
    structure = assess(model, cfg, scalers, data.val, context=0.0, seed=5, draws=3)
    assert structure["draws"] == 1 and len(structure["per_draw"]) == 1


def test_file_shares_add_up_to_each_heads_ratio_to_the_data_constant(tiny):
    """Per file and head, (model loss - data constant's) / the constant's over all files: over the files, a head's
    shares add up to its unsmoothed ratio - 1, computed here from the whole set's loss sums in one pass."""
    import numpy as np
    from torch.utils.data import DataLoader

    from core.data.batch import trim_tracks
    from core.data.dataset import WindowDataset, collate
    from core.learn.assess import file_shares
    from core.learn.loss import MultiTrackLoss
    from core.learn.rules import comparators, constant_of

    cfg, data = tiny
    torch.manual_seed(0)
    model = build_model(cfg.model, n_features=len(MODEL_FEATURES)).eval()
    raw, scalers = data.val, data.scalers
    window_file = np.asarray(raw["timeline"]) % 3  # three "files" of whole timelines
    rows = file_shares(model.train(), cfg, scalers, raw, window_file, ["a", "b", "c"])
    assert model.training  # evaluated in eval mode, handed back as it came
    model.eval()
    assert sorted(r["name"] for r in rows) == ["a", "b", "c"]
    assert [r["share"] for r in rows] == sorted((r["share"] for r in rows), reverse=True)
    loss_fn = MultiTrackLoss(cfg.loss, cfg.model, keyframe_pos_weight=scalers.keyframe_pos_weight)
    constant = constant_of(raw, scalers.target_mean, scalers.target_std)
    const = comparators(scalers, constant, cfg.model.targets, cfg.model.classify)["data_constant"]

    def sums(windows=None) -> dict[str, list[float]]:  # {head: [model's loss sum, the constant's]}
        out: dict[str, list[float]] = {}
        ds = WindowDataset(raw, scalers, skip_empty=True, windows=windows)
        with torch.no_grad():
            for batch in DataLoader(ds, batch_size=7, collate_fn=collate):
                batch = trim_tracks(batch)
                for side, outputs in enumerate((loss_fn.calibrate(model(batch)), const(batch))):
                    for h, (s, _) in loss_fn.head_sums(outputs, batch).items():
                        out.setdefault(h, [0.0, 0.0])[side] += float(s)
        return out

    totals, of_b = sums(), sums(np.flatnonzero(window_file == 1))
    assert sum(r["windows"] for r in rows) == len(WindowDataset(raw, scalers, skip_empty=True))
    b = next(r for r in rows if r["name"] == "b")
    for h, (m, c) in totals.items():
        if c > 0:
            assert sum(r["shares"][h] for r in rows) == pytest.approx(m / c - 1, rel=1e-4, abs=1e-6), h
            assert b["shares"][h] == pytest.approx((of_b[h][0] - of_b[h][1]) / c, rel=1e-4, abs=1e-6), h


def test_verdict_names_the_heads_worse_than_the_data_constant_and_advises_only_where_one_is():
    best = {
        "val_objective_vs_data": 0.695,
        "val_objective_ctx_vs_data": 0.515,
        "same_track/ctx_objective_vs_data": 0.621,
    }
    best |= {"vs_data/ratio/scale": 1.11, "vs_data/ratio/pan": 0.27, "vs_data/ratio/opacity": 1.05}
    first, advice = verdict(best)
    assert "0.695 with no clip given (heads above 1.05: scale 1.11)" in first
    assert "0.515 with half the clips given (the same-track rule 0.621" in first
    assert advice.startswith("worse than that constant on scale:") and "--loss.programme_floor 0.1" in advice
    assert verdict(best, advise=False) == [first]  # trained with the floor already: the figures only
    worse = verdict({"val_objective_vs_data": 1.103, "vs_data/ratio/center_x": 2.22, "vs_data/ratio/scale": 1.45})
    assert "(heads above 1.05: center_x 2.22, scale 1.45)" in worse[0] and worse[1].startswith(
        "worse than that constant overall"
    )
    fine = verdict({"val_objective_vs_data": 0.8, "vs_data/ratio/scale": 0.9})
    assert len(fine) == 1 and "heads above 1.05: none" in fine[0]
    assert verdict({"val_objective": 0.8}) == []  # the built-in corpus: no data-constant figures


def test_window_files_maps_each_window_to_its_named_file():
    meta = {"timelines_of": {"a.xml": (0, 2), "b.xml": (2, 1), "c.xml": (3, 1)}, "n_timelines": 4}
    # windows of timelines 1, 0, 2, 3, 3: files a, a, b, then c, which is not named (-1)
    assert window_files(meta, np.array([1, 0, 2, 3, 3]), ["a.xml", "b.xml"]).tolist() == [0, 0, 1, -1, -1]
    assert window_files(meta, np.array([3, 2]), ["c.xml", "b.xml", "a.xml"]).tolist() == [0, 1]
