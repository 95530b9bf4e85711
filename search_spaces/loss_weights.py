"""Loss-weight and loss-robustness space: one weight per head (log-uniform within 4x of 1), a factor on the
keyframe class weight (the data's own sqrt(neg/pos) times 1/4..4), Huber on every regression head or only on
``loss.huber_heads`` (the default: rotation and centre; "mse" below), and each programme's error weighed against
its own variance or not (``loss.programme_floor``, ``loss.programme_power``).

Trials are compared on val_objective (baseline-relative, equal per head), never on their own weighted loss,
so searching the weights is meaningful. Every range holds the default (all 1, factor 1, "mse"), so the
search's first trial can be the default config itself (``search_spaces.default_point``).
"""

from __future__ import annotations

import optuna

from core.config import CLASSIFICATION_TARGETS, REGRESSION_TARGETS

HEADS = tuple(REGRESSION_TARGETS) + tuple(CLASSIFICATION_TARGETS)


def space(trial: optuna.Trial) -> None:
    """Sample one weight per head; nothing derived."""
    for head in HEADS:
        trial.suggest_float(f"loss.weights.{head}", 0.25, 4.0, log=True)
    trial.suggest_float("loss.keyframe_pos_scale", 0.25, 4.0, log=True)
    trial.suggest_categorical("loss.regression", ["mse", "huber"])
    # the error per programme against its own variance (core.config.LossConfig.programme_floor): off, or on at
    # full or half power. On the real corpora it removed every head above 1.05 and cost splits where the
    # structure explains a widely spread head (benchmarks/RESULTS.md): another user's programmes may differ.
    # The power is asked only where the weighting is on (with it off, the power changes nothing: TPE would
    # spend its trials on an idle dimension)
    if trial.suggest_categorical("loss.programme_floor", [0.0, 0.1]) > 0:
        trial.suggest_categorical("loss.programme_power", [0.5, 1.0])
    return None
