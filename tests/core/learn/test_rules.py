"""The constants and rules every evaluation prints (core.learn.rules), on a hand-made timeline whose
ratios are worked out by hand below."""

from __future__ import annotations

from fractions import Fraction as Fr

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from core.config import LossConfig, ModelConfig
from core.data.dataset import WindowDataset, collate
from core.data.frames import timeline_to_frames
from core.data.scalers import Scalers
from core.data.timeline import Clip, Curve, Key, Timeline, Track
from core.data.windows import make_windows
from core.learn.evaluate import RATIO_SMOOTHING, compare
from core.learn.loss import MultiTrackLoss
from core.learn.rules import comparators, constant_of, editor_default

# Two video tracks and two audio tracks of four 1-second clips; every clip holds one static value.
SCALE = {0: (110.0, 130.0, 110.0, 130.0), 1: (50.0, 70.0, 50.0, 70.0)}
PAN = {0: (-1.0,) * 4, 1: (1.0,) * 4}


def timeline() -> Timeline:
    tracks = []
    for kind, table, param in (("video", SCALE, "scale"), ("audio", PAN, "pan")):
        for idx, values in table.items():
            clips = [
                Clip(
                    f"{kind}{idx}_{j}.mov",
                    Fr(j),
                    Fr(j + 1),
                    media_kind=kind,
                    curves={param: Curve([Key(Fr(j), v)])},
                )
                for j, v in enumerate(values)
            ]
            tracks.append(Track(kind, idx, clips))
    return Timeline("hand", Fr(25), Fr(4), tracks)


class FirstTwoGiven(WindowDataset):
    """Clips 0 and 1 of every track are given, 2 and 3 are evaluated."""

    def given_clips(self, tl: int) -> np.ndarray:
        return self.clips.index[self.clips.rows(tl)] < 2


@pytest.fixture(scope="module")
def result():
    raw = make_windows(timeline_to_frames(timeline()), window=50, overlap=0, max_tracks=4)
    scalers = Scalers.fit(raw)
    cfg = ModelConfig(preset="tiny")
    loader = DataLoader(FirstTwoGiven(raw, scalers, context=0.5), batch_size=4, collate_fn=collate)
    loss_fn = MultiTrackLoss(LossConfig(), cfg, keyframe_pos_weight=1.0)
    const = constant_of(raw, scalers.target_mean, scalers.target_std)
    comps = comparators(scalers, const)
    stds = torch.as_tensor(scalers.target_std, dtype=torch.float32)
    return compare(None, loader, loss_fn, comps, stds, cfg, torch.device("cpu")), scalers, const


def smoothed(model_mse: float, base_mse: float) -> float:
    return (model_mse + RATIO_SMOOTHING) / (base_mse + RATIO_SMOOTHING)


def test_data_constant_is_the_per_kind_mean(result):
    _, scalers, const = result
    # every position of the video tracks: mean of 110, 130, 50, 70 = 90 %; audio pan: mean 0
    scale = const["regression"]["scale"]["video"] * scalers.target_std[0] + scalers.target_mean[0]
    assert scale == pytest.approx(90.0, abs=1e-4)
    pan = const["regression"]["pan"]["audio"] * scalers.target_std[6] + scalers.target_mean[6]
    assert pan == pytest.approx(0.0, abs=1e-6)


def test_ratios_worked_out_by_hand(result):
    res, scalers, _ = result
    c = res["comparators"]
    # scale: std over all positions = sqrt(mean of (20², 40², 40², 20²)) = sqrt(1000); evaluated clips 2, 3
    var = 1000.0
    assert scalers.target_std[0] == pytest.approx(np.sqrt(var), rel=1e-5)
    const_mse = ((110 - 90) ** 2 + (130 - 90) ** 2 + (50 - 90) ** 2 + (70 - 90) ** 2) / 4 / var  # 1.0
    track_mse = (10**2 + 10**2 + 10**2 + 10**2) / 4 / var  # track means 120 and 60 from clips 0, 1
    editor_mse = ((110 - 100) ** 2 + (130 - 100) ** 2 + (50 - 100) ** 2 + (70 - 100) ** 2) / 4 / var
    assert c["data_constant"]["ratio_vs_data_constant/scale"] == pytest.approx(1.0)
    assert c["same_track"]["ratio_vs_data_constant/scale"] == pytest.approx(smoothed(track_mse, const_mse), rel=1e-4)
    assert c["editor_default"]["ratio_vs_data_constant/scale"] == pytest.approx(
        smoothed(editor_mse, const_mse), rel=1e-4
    )
    # pan: -1 on one audio track, +1 on the other; the constant 0 misses by 1 (std 1), the rule by 0
    assert c["same_track"]["ratio_vs_data_constant/pan"] == pytest.approx(smoothed(0.0, 1.0), rel=1e-4)
    assert c["editor_default"]["ratio_vs_data_constant/pan"] == pytest.approx(1.0, rel=1e-4)
    # rotation is 0 everywhere: every comparator is exact, so every ratio is 1
    for name in ("same_track", "editor_default", "train_constant"):
        assert c[name]["ratio_vs_data_constant/rotation"] == pytest.approx(1.0)
    # the train constant was fit on the same timeline: it is the data constant on the regression heads
    assert c["train_constant"]["ratio_vs_data_constant/scale"] == pytest.approx(1.0, rel=1e-5)
    # MAE in native units: the rule is 10 % off on every evaluated scale step
    assert c["same_track"]["mae/scale"] == pytest.approx(10.0, rel=1e-4)


def test_editor_default_is_the_untouched_value():
    d = editor_default([90.0, 0.0, 0.0, 0.0, 100.0, -6.0, 0.0], [20.0, 1.0, 1.0, 1.0, 10.0, 3.0, 0.5])
    assert d["regression"]["scale"]["video"] == pytest.approx(0.5)  # (100 - 90) / 20
    assert d["regression"]["level_db"]["audio"] == pytest.approx(2.0)  # (0 - -6) / 3
    assert d["keyframe"]["video"] < 0.01 and d["interpolation"][0] > 0.9
