"""Everything that decides quality: architecture, loss weights, training and fine-tuning options."""

from __future__ import annotations

import optuna

from search_spaces import architecture, loss_weights, training


def space(trial: optuna.Trial) -> dict:
    """Sample the architecture space, then the loss-weight and training spaces."""
    derived = architecture.space(trial)
    loss_weights.space(trial)
    training.space(trial)  # its optimiser settings repeat the architecture's: same values
    return derived
