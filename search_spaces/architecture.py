"""Architecture and optimisation space: width, heads, depth, feed-forward, dropout, attention, optimiser, schedule.

``space`` is sized for the laptop search (64 trials in minutes on 2 cores: width 16..96, 1-3 layers) with
the default model (``compact``: width 64, 4 heads, 2 layers, feed-forward 128) inside it, not at its edge:
a space that ended at the default's width and depth could only offer smaller models and lost the refit
to the default (benchmarks/RESULTS.md).
``space_large`` (named ``architecture_large``) is the same space with GPU-cluster sizes.
"""

from __future__ import annotations

import optuna


def optimisation(trial: optuna.Trial) -> None:
    """Learning rate, weight decay, dropout, batch size: shared with the training space (one distribution
    per name, so the spaces combine)."""
    trial.suggest_float("model.dropout", 0.0, 0.3)
    trial.suggest_float("train.lr", 3e-4, 1e-2, log=True)
    trial.suggest_float("train.weight_decay", 1e-5, 1e-1, log=True)
    trial.suggest_categorical("train.batch_size", [16, 32, 64])


def _sample(trial: optuna.Trial, heads: list[int], head_dims: list[int], max_layers: int) -> dict:
    # Heads always divide the width: sample heads and per-head size, derive the width (no dynamic choices).
    n_heads = trial.suggest_categorical("model.n_heads", heads)
    head_dim = trial.suggest_categorical("head_dim", head_dims)
    trial.suggest_int("model.n_layers", 1, max_layers)
    ff_mult = trial.suggest_categorical("ff_mult", [1, 2, 4])
    trial.suggest_categorical("model.attention", ["factorised", "full"])
    optimisation(trial)
    optimizer = trial.suggest_categorical("train.optimizer", ["adamw", "adam", "sgd"])
    if optimizer == "sgd":
        trial.suggest_float("train.momentum", 0.8, 0.99)
    schedule = trial.suggest_categorical("train.schedule", ["cosine", "step", "plateau", "none"])
    if schedule == "step":
        trial.suggest_int("train.step_size", 2, 6)
    d_model = n_heads * head_dim
    return {"model.d_model": d_model, "model.d_ff": d_model * ff_mult}


def space(trial: optuna.Trial) -> dict:
    """Laptop-sized: width 16..96, 1-3 layers. Returns the derived width and feed-forward size."""
    return _sample(trial, heads=[2, 4], head_dims=[8, 16, 24], max_layers=3)


def space_large(trial: optuna.Trial) -> dict:
    """GPU-cluster sizes: width 32..512, 1-6 layers."""
    return _sample(trial, heads=[2, 4, 8], head_dims=[16, 32, 64], max_layers=6)
