"""What a search is (settings, result rows) and the names every part of it shares. Imports no Ray."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.config import Config, apply_overrides, config_from_dict

OBJECTIVE, MODE = "val_objective", "min"
BASELINE = 1.0  # the constant baseline's val_objective, by construction
STATE_FILE = "xmlai_search.json"
# set on the result a trial that had finished before its driver died reports again on --resume (distributed.tune):
# it ends the trial where it ended, and is not an epoch of its own
REPLAYED = "replayed"
SEARCHERS = ("tpe", "tpe-mv", "random")
ROOT = Path(__file__).resolve().parents[1]
# The laptop search: a small corpus and model so 64 trials finish in minutes on 2 cores. scripts/tune.py
# and the benchmarks start from it, so a measured search is the search a user runs. 80 timelines validate
# each trial on 16 timelines, not 8 (a ranking on 8 is mostly noise); an epoch draws 256 training windows,
# so that 64 trials of about the default model's size (the space holds it inside) take about 10 minutes.
LAPTOP_SEARCH = {
    "data.synth_count": 80,
    "train.epoch_windows": 256,
    # windows of the structure-only validation pass (what stage 1 ranks by): the built-in laptop problem has 321,
    # so it is unchanged; the real corpora have 6,600, whose two validation passes took most of a stage-1 epoch.
    # On 45 stage-1 checkpoints of a search on them, 2,048 evenly spaced windows ranked like all 6,600 (Spearman
    # 0.989, mean difference 0.009; 1,024: 0.971). The pass with clips given still sees all (core.learn.loaders)
    "train.val_windows": 2048,
    "data.window": 50,
    "data.overlap": 0,
    "model.preset": "tiny",
    "train.early_stopping": 0,
    "train.warmup_epochs": 0,
}


def trial_name(trial) -> str:
    """Tune's display name of a trial, ``xmlai_<index>_<id>``: the 0-based order in which the search created it
    (Tune's own ids are random) is what a fault (core.learn.faults) and a person refer to."""
    return f"xmlai_{int(trial.experiment_tag.split('_', 1)[0]) - 1}_{trial.trial_id}"


def trial_index(name: str | None) -> int | None:
    """The index in a name made by ``trial_name`` (None for another name)."""
    m = re.match(r"xmlai_(\d+)_", name or "")
    return int(m.group(1)) if m else None


def laptop_config(**overrides: Any) -> Config:
    """The default config with the laptop search settings and ``overrides`` (dotted keys) applied."""
    return apply_overrides(config_from_dict({}), {**LAPTOP_SEARCH, **overrides})


class SearchError(RuntimeError):
    """A search cannot start (storage, resources, resume); the message says what to change."""


@dataclass
class SearchSettings:
    """How a search runs (not what a trial trains: that is the Config and the space)."""

    trials: int = 64
    space: str = "full"  # a name in search_spaces.NAMES or a .py/.yaml path (scripts/tune.py's default too)
    epochs: int = 6  # ASHA max_t: the most epochs a trial trains (scripts/tune.py's default too)
    grace_period: int = 1  # epochs every trial gets before ASHA may stop it
    reduction_factor: int = 3
    workers_per_trial: int = 0  # 0 = train in the trial process; N >= 1 = TorchTrainer with N DDP workers
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0
    storage: str | None = None  # absolute path or URI (s3://, gs://); default ~/ray_results
    name: str | None = None  # experiment name; default xmlai-<space>-<time>
    resume: bool = False
    seed: int = 0
    max_concurrent: int | None = None  # default: from the cluster's resources
    address: str | None = None  # Ray cluster to join ("auto"); default: $RAY_ADDRESS, else a local Ray
    num_cpus: int | None = None  # CPUs of a local Ray (default: all)
    data_engine: str = "auto"  # ray | local | auto (ray on a multi-node cluster)
    shared_storage: bool = False  # the storage path is a shared file system mounted on every node
    resource_wait_s: float = 600.0  # how long to wait for an autoscaling cluster to offer one trial's resources
    top: int = 5
    verbose: bool = False  # worker logs and per-epoch lines
    # tpe-mv (multivariate TPE over groups of parameters that appear together, with the constant liar for
    # trials still running; with ASHA on two seeds it reached random search's best in 0.35x and 0.31x its
    # epochs and found the better best both times, univariate TPE 0.86x and 0.26x: benchmarks/bench_asha.py)
    # | tpe | random (Optuna's RandomSampler: the benchmark's reference)
    searcher: str = "tpe-mv"
    # trials a TPE searcher samples at random before it models the results (Optuna's n_startup_trials)
    startup_trials: int = 10
    early_stopping: bool = True  # ASHA; False = every trial runs all epochs (FIFO)
    # Retries of a failed trial (a lost node, a killed worker), each from its last checkpoint; Ray Train
    # restarts a trial's worker group as often. A trial that still fails ends as an error; the search goes on.
    max_failures: int = 2
    fault: str = ""  # injected failures for drills and tests (core.learn.faults); default $XMLAI_FAULT
    optuna_storage: str | None = None  # e.g. sqlite:////abs/path/study.db: optuna-dashboard can watch the search
    # points of the space the searcher evaluates first (OptunaSearch's points_to_evaluate): scripts/tune.py
    # starts from the default config's point, so TPE starts from it and stage 1 ranks it among the samples
    start_points: list[dict[str, Any]] = field(default_factory=list)
    # minutes for the whole search (stage 1 and the refit): stage 1 stops sampling when the refit would not
    # fit (distributed.budget); None = every one of ``trials``
    time_budget_min: float | None = None

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise SearchError(f"--trials must be >= 1, got {self.trials}")
        if self.epochs < 1 or self.grace_period < 1 or self.grace_period > self.epochs:
            raise SearchError(f"need 1 <= grace period ({self.grace_period}) <= epochs ({self.epochs})")
        if self.workers_per_trial < 0:
            raise SearchError("--workers-per-trial must be >= 0")
        if self.cpus_per_worker <= 0 and not self.gpus_per_worker:
            raise SearchError("--cpus-per-worker must be > 0 (or give --gpus-per-worker)")
        if self.searcher not in SEARCHERS:
            raise SearchError(f"searcher must be one of {', '.join(SEARCHERS)}, got {self.searcher!r}")
        if self.startup_trials < 0:
            raise SearchError(f"--startup-trials must be >= 0, got {self.startup_trials}")
        if self.time_budget_min is not None and not self.time_budget_min > 0:
            raise SearchError(f"--time-budget must be > 0 minutes, got {self.time_budget_min}")
        if self.max_failures < 0:
            raise SearchError(f"--max-failures must be >= 0, got {self.max_failures}")
        if self.data_engine not in ("ray", "local", "auto"):
            raise SearchError(f"data engine must be ray, local or auto, got {self.data_engine!r}")


@dataclass
class SearchResult:
    experiment_path: str
    rows: list[dict[str, Any]] = field(default_factory=list)  # one per trial, best first
    wall_s: float = 0.0
    train_s: float = 0.0  # summed epoch times of all trials
    epochs: int = 0  # summed epochs of all trials
    counts: dict[str, int] = field(default_factory=dict)
    reports: list[dict[str, Any]] = field(default_factory=list)  # every epoch of every trial, in time order

    @property
    def best(self) -> dict[str, Any] | None:
        return self.rows[0] if self.rows else None
