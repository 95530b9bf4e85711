"""core.learn.ensemble: a mean of models outputs the weighted mean of its members' outputs, eager and as
TorchScript, and refuses members that were not trained on the same data."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from core.config import config_from_dict
from core.data.batch import MODEL_FEATURES
from core.data.dataset import WindowDataset, collate
from core.data.preprocess import prepare
from core.learn.checkpoint import PersistenceError
from core.learn.ensemble import MeanModel, check_members
from core.learn.model import build_model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    cfg = config_from_dict(
        {
            "data": {"synth_count": 8, "window": 40, "overlap": 0, "cache_dir": str(tmp_path_factory.mktemp("c"))},
            "model": {"preset": "tiny", "dropout": 0.0},
        }
    )
    data = prepare(cfg.data)
    ds = WindowDataset(data.val, data.scalers, context=0.5, seed=0, skip_empty=True)
    batch = collate([ds[i] for i in range(min(6, len(ds)))])
    return cfg, data, batch


def _models(cfg, n):
    out = []
    for seed in range(n):
        torch.manual_seed(seed)
        m = build_model(cfg.model, len(MODEL_FEATURES)).eval()
        with torch.no_grad():  # the heads start at their resting values; move them so members differ
            for p in m.parameters():
                p.add_(0.05 * torch.randn_like(p))
        out.append(m)
    return out


def test_the_mean_is_the_weighted_mean_of_every_output_eager_and_scripted(tiny):
    cfg, _, batch = tiny
    a, b = _models(cfg, 2)
    mean = MeanModel([a, b], [1.0, 3.0]).eval()
    assert mean.weights.tolist() == [0.25, 0.75]
    with torch.no_grad():
        oa, ob, got = a(batch), b(batch), mean(batch)
        scripted = torch.jit.script(mean)(batch)
    assert set(got) == set(oa) and len(got) >= len(cfg.model.heads)
    for k in oa:
        assert not torch.equal(oa[k], ob[k]), k  # the check below would hold for any weights otherwise
        torch.testing.assert_close(got[k], 0.25 * oa[k] + 0.75 * ob[k])
        torch.testing.assert_close(scripted[k], got[k])
    # weights are part of the state: a mean loaded into equal weights predicts the saved weights' mean
    other = MeanModel(_models(cfg, 2)).eval()
    other.load_state_dict(mean.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(other(batch)["scale"], got["scale"])


@pytest.mark.parametrize("weights", [[1.0], [1.0, -1.0], [0.0, 0.0], [float("nan"), 1.0]])
def test_bad_weights_are_refused(tiny, weights):
    with pytest.raises(ValueError, match="weights"):
        MeanModel(_models(tiny[0], 2), weights)


def test_members_trained_on_other_data_or_heads_are_named(tiny, tmp_path):
    cfg, data, _ = tiny
    other = prepare(dataclasses.replace(cfg.data, synth_count=6, cache_dir=str(tmp_path)))
    check_members([("a", cfg, data.scalers), ("b", cfg, data.scalers)])  # the same data: accepted
    with pytest.raises(PersistenceError, match=r"^b: trained on other data than a"):
        check_members([("a", cfg, data.scalers), ("b", cfg, other.scalers)])
    fewer = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, targets=["scale"]))
    with pytest.raises(PersistenceError, match=r"^c: model\.targets is \['scale'\]"):
        check_members([("a", cfg, data.scalers), ("c", fewer, data.scalers)])
    longer = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, window=80))
    with pytest.raises(PersistenceError, match=r"^d: data\.window is 80, a has 40"):
        check_members([("a", cfg, data.scalers), ("d", longer, data.scalers)])
