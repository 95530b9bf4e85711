"""Architecture and optimisation space: width, heads, depth, feed-forward, dropout, attention, optimiser, schedule.

Sizes are chosen so one epoch of the biggest sample stays short on a 2-core laptop's search corpus;
widen them for a GPU cluster with a space file (see search_spaces/__init__.py).
"""

from __future__ import annotations

import optuna


def space(trial: optuna.Trial) -> dict:
    """Sample one architecture; returns the derived values (width, feed-forward size)."""
    # Heads always divide the width: sample heads and per-head size, derive the width (no dynamic choices).
    n_heads = trial.suggest_categorical("model.n_heads", [1, 2, 4])
    head_dim = trial.suggest_categorical("head_dim", [8, 16, 32])
    trial.suggest_int("model.n_layers", 1, 3)
    ff_mult = trial.suggest_categorical("ff_mult", [1, 2, 4])
    trial.suggest_float("model.dropout", 0.0, 0.3)
    trial.suggest_categorical("model.attention", ["factorised", "full"])
    trial.suggest_float("train.lr", 3e-4, 1e-2, log=True)
    trial.suggest_float("train.weight_decay", 1e-5, 1e-1, log=True)
    trial.suggest_categorical("train.batch_size", [16, 32, 64])
    optimizer = trial.suggest_categorical("train.optimizer", ["adamw", "adam", "sgd"])
    if optimizer == "sgd":
        trial.suggest_float("train.momentum", 0.8, 0.99)
    schedule = trial.suggest_categorical("train.schedule", ["cosine", "step", "plateau", "none"])
    if schedule == "step":
        trial.suggest_int("train.step_size", 2, 6)
    d_model = n_heads * head_dim
    return {"model.d_model": d_model, "model.d_ff": d_model * ff_mult}
