"""Loss-weight space: one weight per head (log-uniform around 1) and the keyframe class weight.

Trials are compared on val_objective (baseline-relative, equal per head), never on their own weighted loss,
so searching the weights is meaningful.
"""

from __future__ import annotations

import optuna

from core.config import CLASSIFICATION_TARGETS, REGRESSION_TARGETS

HEADS = tuple(REGRESSION_TARGETS) + tuple(CLASSIFICATION_TARGETS)


def space(trial: optuna.Trial) -> None:
    """Sample one weight per head; nothing derived."""
    for head in HEADS:
        trial.suggest_float(f"loss.weights.{head}", 0.1, 10.0, log=True)
    trial.suggest_float("loss.keyframe_pos_weight", 1.0, 30.0, log=True)
    return None
