"""Where keys go: one rule for evaluation (keyframe F1) and for prediction (annotated files).

A step gets a key where the calibrated key probability reaches the threshold and is the highest
of the step and both neighbours on its track (one key per bump, as an editor sets one). Steps
outside the mask (padding, steps no clip owns, given clips in evaluation) are never keys and
count as probability 0 for their neighbours; the first and last step have one neighbour only
(no wrap-around, so a fade-in key on a clip's first step stays).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pick_keys(prob: torch.Tensor, mask: torch.Tensor, threshold: float) -> torch.Tensor:
    """(..., T) key probabilities and bool mask -> (..., T) bool: True where a key goes."""
    p = prob.float().masked_fill(~mask, 0.0)
    t = p.shape[-1]
    flat = p.reshape(-1, 1, t)  # (N, 1, T): max_pool1d pads with -inf, so edges see one neighbour
    peak = F.max_pool1d(flat, 3, stride=1, padding=1).reshape(p.shape)
    return (p >= threshold) & (p >= peak) & mask


def key_probability(logits: torch.Tensor) -> torch.Tensor:
    """(..., 2) calibrated keyframe logits -> (...) probability of a key."""
    return torch.softmax(logits.float(), dim=-1)[..., 1]


__all__ = ["pick_keys", "key_probability"]
