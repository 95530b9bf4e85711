"""The Optuna sampler behind each ``--searcher``, shared by the Ray search and the debug search. Imports no Ray."""

from __future__ import annotations

import warnings

import optuna


def sampler_of(searcher: str, seed: int, startup_trials: int = 10) -> optuna.samplers.BaseSampler:
    """tpe-mv: multivariate TPE over groups of parameters that appear together (the define-by-run space's
    branches), with the constant liar for trials still running, so parallel trials do not all sample the
    same point; tpe: Optuna's univariate TPE; random: its RandomSampler (the benchmarks' reference). A TPE
    searcher samples its first ``startup_trials`` at random."""
    if searcher == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if searcher == "tpe-mv":
        with warnings.catch_warnings():  # multivariate, group and constant_liar are "experimental" in Optuna
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(
                seed=seed, n_startup_trials=startup_trials, multivariate=True, group=True, constant_liar=True
            )
    if searcher == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup_trials)
    raise ValueError(f"unknown searcher {searcher!r}")
