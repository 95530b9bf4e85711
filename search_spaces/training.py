"""Training and fine-tuning space: how much context training shows, how evenly programmes are drawn, warm-up,
gradient clipping, and the optimiser settings shared with the architecture space (lr, weight decay, dropout,
batch size).

Not searched, on purpose: ``train.eval_context`` and ``train.keyframe_threshold`` change only secondary
metrics (the with-context objective, keyframe F1), never ``val_objective``; ``data.*`` fields would
re-prepare the data per trial and are the full config's in the refit anyway.
"""

from __future__ import annotations

import optuna

from search_spaces.architecture import optimisation


def space(trial: optuna.Trial) -> None:
    """Sample the training options; nothing derived."""
    optimisation(trial)
    # training draws each window's given-clip fraction from U(0, context_max). The search ranks on the
    # structure-only val_objective, which never rewards context: a range from 0 let it pick ~0 (measured: the
    # three best of a 64-trial search), a model that ignores the keys a user gives. 0.25 keeps context learned.
    trial.suggest_float("train.context_max", 0.25, 0.9)
    # how evenly the programmes of a folder of exports are drawn (0: by their windows; the default 0.5 was
    # measured on two real corpora, benchmarks/RESULTS.md): another user's programmes may want another value
    trial.suggest_float("train.programme_balance", 0.0, 1.0)
    trial.suggest_int("train.warmup_epochs", 0, 2)
    trial.suggest_float("train.grad_clip", 0.25, 4.0, log=True)
    return None
