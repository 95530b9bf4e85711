"""One key-picking rule for evaluation and prediction (core.learn.keys.pick_keys)."""

from __future__ import annotations

import numpy as np
import torch

from core.learn.evaluate import keyframe_decisions
from core.learn.keys import key_probability, pick_keys


def test_a_key_on_the_first_step_stays_whatever_the_last_step_holds():
    # A fade-in key on a clip's first step: a wrap-around comparison (np.roll) would compare it with
    # the last step, higher, and drop it.
    p = torch.tensor([0.6, 0.2, 0.1, 0.1, 0.3, 0.9])
    assert pick_keys(p, torch.ones(6, dtype=torch.bool), 0.5).tolist() == [True, False, False, False, False, True]
    rolled = (p >= 0.5) & (p >= p.roll(1)) & (p >= p.roll(-1))
    assert not rolled[0]  # what prediction used to do


def test_one_key_per_bump_threshold_and_mask():
    p = torch.tensor([0.1, 0.4, 0.7, 0.5, 0.2, 0.3, 0.6, 0.8])
    mask = torch.tensor([True] * 7 + [False])
    # step 1 reaches the threshold but is not its bump's peak; a masked step counts as 0 for its
    # neighbours, so step 6 is a peak when step 7 is masked and not otherwise
    assert pick_keys(p, mask, 0.4).tolist() == [False, False, True, False, False, False, True, False]
    everything = torch.ones(8, dtype=torch.bool)
    assert pick_keys(p, everything, 0.4).tolist() == [False, False, True, False, False, False, False, True]
    assert pick_keys(p, everything, 0.75).tolist() == [False] * 7 + [True]


def test_evaluation_decides_with_the_same_function():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 2, 20, 2, generator=g)
    mask = torch.rand(3, 2, 20, generator=g) > 0.2
    expected = pick_keys(torch.softmax(logits, -1)[..., 1], mask, 0.4)
    assert torch.equal(keyframe_decisions(logits, mask, 0.4), expected)
    assert torch.allclose(key_probability(logits), torch.softmax(logits, -1)[..., 1])
    assert expected.any() and not expected.all()


def test_numpy_input_through_torch_gives_the_same_keys():
    rng = np.random.default_rng(1)
    p = rng.random((4, 30))
    mask = rng.random((4, 30)) > 0.1
    a = pick_keys(torch.from_numpy(p), torch.from_numpy(mask), 0.5).numpy()
    b = np.stack([pick_keys(torch.from_numpy(p[i]), torch.from_numpy(mask[i]), 0.5).numpy() for i in range(4)])
    assert (a == b).all()  # rows are independent tracks: no key leaks across them
