"""Architecture and loss weights together."""

from __future__ import annotations

import optuna

from search_spaces import architecture, loss_weights


def space(trial: optuna.Trial) -> dict:
    """Sample the architecture space, then the loss-weight space."""
    derived = architecture.space(trial)
    loss_weights.space(trial)
    return derived
