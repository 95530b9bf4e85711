"""The Ray Tune driver: OptunaSearch (TPE, seeded) + ASHA on ``val_objective``, resume, results, best trial.

Three layers (STYLE.md 2): ``Tuner`` -> one trial function per sample -> either the training loop in
the trial process (``workers_per_trial=0``, the fast path on a laptop) or a ``TorchTrainer`` with N
DDP workers (``distributed.train.fit``), named ``<experiment>/train_runs/<trial_id>`` so a restored
experiment resumes each trial from its checkpoint.

Resources are explicit (ray-notes.md section 3): a Train-backed trial's driver reserves no CPU but
one unit of the custom ``trial_driver`` resource, its workers reserve their CPUs/GPUs, and
``max_concurrent_trials`` = what the cluster holds / what a trial needs, so nothing waits forever.

The settings, resources, storage, results table, export and the Ray-free debug search live in
distributed/{settings,cluster,storage,results,export,debug}.py.

Layout of an experiment folder (``<storage>/<name>``): Tune's state, ``trial_<id>/`` per trial
(0-worker checkpoints are there), ``train_runs/<id>/`` (Train checkpoints), ``xmlai_search.json`` (the
settings and base config, for ``--resume``). Prepared data is cached in ``<storage>/_prepared/<key>``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any

import optuna
import ray
from ray import tune
from ray.tune.integration.ray_train import TuneReportCallback
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
from ray.tune.search.optuna import OptunaSearch

import search_spaces
from core.config import Config, config_from_dict
from distributed.cluster import alive_nodes, check_storage, init_ray, plan_concurrency, trial_resources
from distributed.data import prepare_cached
from distributed.results import format_table, make_progress, summarize_grid
from distributed.settings import MODE, OBJECTIVE, STATE_FILE, SearchError, SearchResult, SearchSettings
from distributed.storage import is_uri, latest_experiment, read_text, resolve_storage, write_text
from distributed.train import fit, train_in_trial


def trial_dirname(trial) -> str:
    """Short trial folder names (Tune's default puts every sampled value in it)."""
    return f"trial_{trial.trial_id}"


def make_trainable(base: Config, data_path: str, s: SearchSettings, storage: str, experiment: str):
    """The Tune function trainable for these settings, wrapped with its resources."""
    epochs, wpt, cpus, gpus, verbose = s.epochs, s.workers_per_trial, s.cpus_per_worker, s.gpus_per_worker, s.verbose

    def trial_config(params: dict[str, Any]) -> Config:
        # The search budget wins over the config's epochs; ASHA stops at the same max_t.
        return search_spaces.config_of(base, {**params, "train.epochs": epochs})

    if wpt == 0:

        def xmlai_trial(params: dict[str, Any]) -> None:
            train_in_trial(
                {"cfg": trial_config(params), "data_path": data_path, "cpus_per_worker": cpus, "verbose": verbose}
            )

        return tune.with_resources(xmlai_trial, {"CPU": cpus, "GPU": gpus} if gpus else {"CPU": cpus})

    def xmlai_trial(params: dict[str, Any]) -> None:  # noqa: F811 (one of the two is returned)
        ctx = tune.get_context()
        run = fit(
            trial_config(params),
            data_path,
            num_workers=wpt,
            storage_path=storage,
            name=f"{experiment}/train_runs/{ctx.get_trial_id()}",
            use_gpu=gpus > 0,
            cpus_per_worker=cpus,
            gpus_per_worker=gpus,
            callbacks=[TuneReportCallback()],
            verbose=verbose,
        )
        if run.error:
            raise run.error

    # The driver only waits on fit(): no CPU, one trial_driver unit (ray-notes.md section 3).
    return tune.with_resources(xmlai_trial, {"CPU": 0, "trial_driver": 1})


def run_search(base: Config, s: SearchSettings, log=print) -> SearchResult:
    """Run (or resume) a search; prints live progress and the table of the best trials."""
    t0 = time.perf_counter()
    # Tune's own tables and boxes off (with verbose=0, the old engine prints nothing): Progress prints instead.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    storage = resolve_storage(s.storage)
    name = s.name or (latest_experiment(storage) if s.resume else None)
    if s.resume and not name:
        raise SearchError(f"--resume: no experiment under {storage}; give --name")
    name = name or f"xmlai-{Path(s.space).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    exp_path = f"{storage}/{name}"
    state_text = read_text(f"{exp_path}/{STATE_FILE}")
    if s.resume:
        if state_text is None or not tune.Tuner.can_restore(exp_path):
            raise SearchError(f"--resume: nothing to resume at {exp_path}")
        saved = json.loads(state_text)
        keep = {
            k: getattr(s, k)
            for k in ("address", "num_cpus", "max_concurrent", "verbose", "shared_storage", "resource_wait_s", "top")
        }
        s = SearchSettings(**{**saved["settings"], **keep, "resume": True})
        base = config_from_dict(saved["base_config"])
    elif state_text is not None:
        raise SearchError(f"experiment {exp_path} exists: add --resume to continue it, or give another --name")
    space = search_spaces.resolve(s.space)  # fail on a bad space before starting Ray

    started = init_ray(s, log)
    try:
        check_storage(storage, s)
        engine = s.data_engine if s.data_engine != "auto" else ("ray" if alive_nodes() > 1 else "local")
        data_path, data = prepare_cached(base.data, storage, engine=engine, log=log)
        if getattr(data, "errors", None):
            log(f"data: {len(data.errors)} file(s) could not be used, e.g. {data.errors[0][0]}: {data.errors[0][1]}")
        del data  # trials load the cache themselves
        if not s.resume:
            settings = {k: v for k, v in dataclasses.asdict(s).items() if k != "resume"}
            write_text(
                f"{exp_path}/{STATE_FILE}",
                json.dumps({"settings": settings, "base_config": base.to_dict(), "data_path": data_path}, indent=1),
            )
        max_conc = plan_concurrency(s, log)
        log(
            f"experiment {exp_path}: {s.trials} trials of space {s.space!r}, up to {s.epochs} epochs each, "
            f"{max_conc} at a time; each trial reserves {trial_resources(s)}"
        )
        trainable = make_trainable(base, data_path, s, storage, name)
        if s.resume:
            tuner = tune.Tuner.restore(exp_path, trainable=trainable, resume_unfinished=True, resume_errored=True)
        else:
            tuner = tune.Tuner(
                trainable,
                tune_config=tune.TuneConfig(
                    # metric/mode on both the searcher (define-by-run OptunaSearch ignores TuneConfig's) and
                    # TuneConfig (ASHA reads them there): ray-notes.md section 3
                    metric=OBJECTIVE,
                    mode=MODE,
                    num_samples=s.trials,
                    max_concurrent_trials=max_conc,
                    search_alg=_searcher(space, s),
                    # time_attr = the 1-based epoch: it survives a restore, Tune's iteration counter does not
                    scheduler=ASHAScheduler(
                        time_attr="epoch",
                        max_t=s.epochs,
                        grace_period=s.grace_period,
                        reduction_factor=s.reduction_factor,
                    )
                    if s.early_stopping
                    else FIFOScheduler(),
                    trial_dirname_creator=trial_dirname,
                    reuse_actors=False,
                ),
                run_config=tune.RunConfig(
                    name=name,
                    storage_path=storage,
                    verbose=0,
                    callbacks=[make_progress(s.trials, s.epochs, log)],
                    failure_config=tune.FailureConfig(max_failures=0),
                    # keep every checkpoint of a 0-worker trial (at most `epochs`, small): with num_to_keep set,
                    # Tune forces an experiment snapshot every few reports and warns that it is a bottleneck
                    checkpoint_config=tune.CheckpointConfig(num_to_keep=None),
                ),
            )
        grid = tuner.fit()
        result = summarize_grid(grid, exp_path, s)
        result.wall_s = time.perf_counter() - t0
        log(format_table(result, s.top))
        unfinished = s.trials - result.counts["finished"] - result.counts["errors"]
        if unfinished > 0:  # Ctrl-C: Tune saved its state and returned
            log(
                f"interrupted with {unfinished} trial(s) unfinished: continue with  python scripts/tune.py --resume "
                f"--name {name}" + ("" if is_uri(storage) else f" --storage {storage}")
            )
        return result
    finally:
        if started:
            ray.shutdown()


def _searcher(space, s: SearchSettings):
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial otherwise

    sampler = optuna.samplers.RandomSampler(seed=s.seed) if s.searcher == "random" else None
    # seed only without a sampler: OptunaSearch builds a seeded TPE itself and refuses both
    return OptunaSearch(space, metric=OBJECTIVE, mode=MODE, sampler=sampler, seed=None if sampler else s.seed)
