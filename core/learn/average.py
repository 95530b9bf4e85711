"""An exponential moving average of a model's weights (``train.ema_decay``)."""

from __future__ import annotations

import copy

import torch


class WeightAverage:
    """An exponential moving average of a model's weights (``train.ema_decay``), updated after every step.

    On small real corpora the validation objective of the raw weights jumps from epoch to epoch (a head
    that is almost constant in the validation files costs 2x one epoch and 1x the next); the average
    is what is validated, checkpointed and exported, the raw weights are what the optimizer moves.
    """

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.steps = 0

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.steps += 1
        d = min(self.decay, (1 + self.steps) / (10 + self.steps))  # warm-up: early weights fade fast
        for a, p in zip(self.model.parameters(), model.parameters()):
            a.lerp_(p.detach(), 1.0 - d)
        for a, b in zip(self.model.buffers(), model.buffers()):
            a.copy_(b)
