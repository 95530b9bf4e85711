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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pyarrow.fs as pafs
import ray
from ray import tune
from ray.air.constants import EXPR_PROGRESS_FILE, EXPR_RESULT_FILE
from ray.tune.integration.ray_train import TuneReportCallback
from ray.tune.result import AUTO_RESULT_KEYS
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
from ray.tune.search.optuna import OptunaSearch

import search_spaces
from core.config import Config, config_from_dict
from core.learn.faults import ENV as FAULT_ENV
from core.learn.faults import FaultSpecError, parse_faults
from distributed.budget import BudgetedSearcher, BudgetPlan, budget_stop, overruns, trials_due
from distributed.cluster import alive_nodes, check_storage, init_ray, plan_concurrency, trial_resources
from distributed.data import prepare_cached
from distributed.results import format_table, make_progress, summarize_grid
from distributed.samplers import sampler_of
from distributed.settings import (
    MODE,
    OBJECTIVE,
    REPLAYED,
    STATE_FILE,
    SearchError,
    SearchResult,
    SearchSettings,
    trial_index,
    trial_name,
)
from distributed.storage import (
    is_uri,
    json_lines,
    latest_experiment,
    list_dirs,
    read_text,
    remove_tree,
    resolve_storage,
    write_text,
)
from distributed.train import clean_metrics, fit, train_in_trial

DONE_MARKER = "xmlai_done.json"
RESULT_LOGS = (EXPR_RESULT_FILE, EXPR_PROGRESS_FILE)  # a trial's result logs (Tune's JSON and CSV loggers)
TUNE_KEYS = frozenset(AUTO_RESULT_KEYS) | {"done", "should_checkpoint"}  # what Tune adds to each report


def _is_file(fs: pafs.FileSystem, path: str) -> bool:
    return fs.get_file_info(path).type == pafs.FileType.File


def _same_file(fs: pafs.FileSystem, local: str, path: str) -> bool:
    """Whether the storage path ``path`` is the local file ``local`` (copying a file onto itself empties it)."""
    return isinstance(fs, pafs.LocalFileSystem) and Path(local).resolve() == Path(path).resolve()


def trial_dirname(trial) -> str:
    """Short trial folder names (Tune's default puts every sampled value in it)."""
    return f"trial_{trial.trial_id}"


class TrialLedger(tune.Callback):
    """Driver-side bookkeeping that makes a resume after a killed driver exact.

    Tune snapshots its experiment state (and uploads the trials' result logs) at most every ~10 s, so a
    driver that dies leaves a snapshot a little behind the trials. Three gaps are closed here (paths come
    from Tune's own trial storage, so a moved or downloaded experiment is handled like the original):

    - a trial Tune completes gets ``DONE_MARKER`` in its folder at once, after its result logs (Tune uploads
      those with its snapshots only); a resumed trial that finds it trains nothing (no finished trial runs
      again, even one the snapshot still shows running): it puts the logs back and reports its last result
      again, so the table, ASHA and the progress lines see all of its epochs, not the snapshot's;
    - on the first step with trials, trial folders the snapshot does not know (trials created after it)
      are removed: the restored searcher proposes their configurations again, and export never picks a
      trial that is not in the results;
    - then every restored trial that will run again gets its result logs back (Tune does that only for a
      trial with a Tune checkpoint), with the epochs of Train's kept checkpoints they lack.
    """

    def __init__(self, log=print) -> None:
        self.log, self.swept = log, False

    def __getstate__(self):  # pickled into the experiment; a restored search sweeps again
        return {}

    def __setstate__(self, state):
        self.__init__()

    def on_step_begin(self, iteration, trials, **info):
        if self.swept or not trials:
            return
        self.swept = True
        fs, exp = trials[0].storage.storage_filesystem, trials[0].storage.experiment_fs_path
        known = {Path(t.path).name for t in trials} | {t.trial_id for t in trials}
        train_runs = set()  # the trials with a Train run (Train-backed trials)
        for folder, prefix in ((exp, "trial_"), (f"{exp}/train_runs", "")):
            for item in fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True)):
                if item.type == pafs.FileType.Directory and item.base_name.startswith(prefix):
                    if item.base_name not in known:
                        self.log(f"removing {item.path}: a trial started after Tune's last snapshot (sampled again)")
                        fs.delete_dir(item.path)
                    elif not prefix:
                        train_runs.add(item.base_name)

        # Every restored trial that will run again gets its result logs back before Tune's loggers open them:
        # Tune restores them only for a trial with a Tune checkpoint, so a Train-backed trial (its checkpoints
        # are Train's) or one that finished before the driver died would start an empty log, and the next
        # upload would replace the trial's earlier epochs with it.
        for t in trials:
            if t.status not in ("TERMINATED", "ERROR"):
                self._restore_logs(fs, t, f"{exp}/train_runs/{t.trial_id}" if t.trial_id in train_runs else None)

    @staticmethod
    def _restore_logs(fs: pafs.FileSystem, trial, train_run: str | None) -> None:
        """Put a restored trial's result logs back into its local folder from storage. A Train-backed trial
        resumes from Train's latest checkpoint, so the epochs it reported after Tune's last upload of its log
        are not run again: those whose checkpoint Train kept (its best and its last) go back into the log from
        the checkpoint's metrics, so that the table ranks the trial by its best."""
        local = Path(trial.local_path)
        local.mkdir(parents=True, exist_ok=True)
        for name in RESULT_LOGS:
            remote = f"{trial.path}/{name}"
            if _is_file(fs, remote) and not _same_file(fs, str(local / name), remote):
                pafs.copy_files(remote, str(local / name), source_filesystem=fs)
        if train_run is None:
            return
        log = local / EXPR_RESULT_FILE
        logged = {row.get("epoch") for row in json_lines(log)}
        rows = []
        for item in fs.get_file_info(pafs.FileSelector(train_run, allow_not_found=True)):
            metrics = f"{item.path}/metrics.json"
            if (
                item.type == pafs.FileType.Directory
                and item.base_name.startswith("checkpoint_")
                and _is_file(fs, metrics)
            ):
                with fs.open_input_stream(metrics) as f:
                    m = clean_metrics(json.loads(f.read().decode()))
                if OBJECTIVE in m and m.get("epoch") not in logged:
                    rows.append(m)
        if rows:
            with log.open("a") as f:
                f.writelines(json.dumps(m) + "\n" for m in sorted(rows, key=lambda m: m["epoch"]))

    def on_trial_complete(self, iteration, trials, trial, **info):
        fs = trial.storage.storage_filesystem
        try:
            fs.create_dir(trial.path, recursive=True)
            # the logs first: a marker promises that the trial folder holds every epoch's result
            for name in RESULT_LOGS:
                local = Path(trial.local_path, name)
                if local.is_file() and not _same_file(fs, str(local), f"{trial.path}/{name}"):
                    pafs.copy_files(str(local), f"{trial.path}/{name}", destination_filesystem=fs)
            last = {k: v for k, v in clean_metrics(trial.last_result or {}).items() if k not in TUNE_KEYS}
            with fs.open_output_stream(f"{trial.path}/{DONE_MARKER}") as f:
                f.write(json.dumps({"trial_id": trial.trial_id, "last_result": last}).encode())
        except OSError as e:  # the search goes on; a resume would only run this trial's last epochs again
            self.log(f"could not mark trial {trial.trial_id} finished: {e}")


def make_trainable(base: Config, data_path: str, s: SearchSettings, storage: str, experiment: str):
    """The Tune function trainable for these settings, wrapped with its resources."""
    epochs, wpt, cpus, gpus, verbose = s.epochs, s.workers_per_trial, s.cpus_per_worker, s.gpus_per_worker, s.verbose
    fault, max_failures = s.fault, s.max_failures

    def finished_before(trial_id: str) -> bool:
        """Completed before a driver died (TrialLedger): nothing left to train. Its last result is reported
        again, so that Tune ends it where it ended and not at the epoch of the snapshot it was restored from."""
        marker = read_text(f"{storage}/{experiment}/trial_{trial_id}/{DONE_MARKER}")
        if marker is None:
            return False
        last = json.loads(marker).get("last_result")
        if last:
            tune.report({**last, REPLAYED: True})
        return True

    def trial_config(params: dict[str, Any]) -> Config:
        # The search budget wins over the config's epochs; ASHA stops at the same max_t.
        return search_spaces.config_of(base, {**params, "train.epochs": epochs})

    if wpt == 0:

        def xmlai_trial(params: dict[str, Any]) -> None:
            if finished_before(tune.get_context().get_trial_id()):
                return
            train_in_trial(
                {
                    "cfg": trial_config(params),
                    "data_path": data_path,
                    "cpus_per_worker": cpus,
                    "verbose": verbose,
                    "fault": fault,
                }
            )

        return tune.with_resources(xmlai_trial, {"CPU": cpus, "GPU": gpus} if gpus else {"CPU": cpus})

    def xmlai_trial(params: dict[str, Any]) -> None:  # noqa: F811 (one of the two is returned)
        ctx = tune.get_context()
        if finished_before(ctx.get_trial_id()):
            return
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
            max_failures=max_failures,
            verbose=verbose,
            fault=fault,
            trial_id=ctx.get_trial_id(),
            trial_index=trial_index(ctx.get_trial_name()),
        )
        if run.error:
            raise run.error

    # The driver only waits on fit(): no CPU, one trial_driver unit (ray-notes.md section 3).
    return tune.with_resources(xmlai_trial, {"CPU": 0, "trial_driver": 1})


def run_search(
    base: Config, s: SearchSettings, log=print, budget: Callable[[dict[str, Any]], BudgetPlan] | None = None
) -> SearchResult:
    """Run (or resume) a search; prints live progress and the table of the best trials. ``budget`` (for
    ``--time-budget``) makes the budget's plan from the prepared stage-1 data's meta."""
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
    # Our state file is written before Tune's first snapshot; a driver that died in between left no trial
    # state: such an experiment is started again (with its saved settings on --resume), never a dead name.
    snapshot = state_text is not None and tune.Tuner.can_restore(exp_path)
    if s.resume:
        if state_text is None:
            raise SearchError(f"--resume: nothing to resume at {exp_path}")
        saved = json.loads(state_text)
        keep = {
            k: getattr(s, k)
            for k in (
                "address",
                "num_cpus",
                "max_concurrent",
                "verbose",
                "shared_storage",
                "resource_wait_s",
                "top",
                "fault",
            )
        }
        s = SearchSettings(**{**saved["settings"], **keep, "resume": snapshot})
        base = config_from_dict(saved["base_config"])
    elif snapshot:
        raise SearchError(f"experiment {exp_path} exists: add --resume to continue it, or give another --name")
    if state_text is not None and not snapshot:
        log(f"experiment {exp_path} stopped before Tune's first snapshot (no trial to keep): starting it again")
        for d in list_dirs(exp_path):  # what trials left; the experiment's own files (settings, refit) stay
            if d.startswith("trial_") or d == "train_runs":
                remove_tree(f"{exp_path}/{d}")
    s = dataclasses.replace(s, fault=s.fault or os.environ.get(FAULT_ENV, ""))
    try:
        parse_faults(s.fault)  # a typo in a drill fails here, not in every trial
    except FaultSpecError as e:
        raise SearchError(str(e)) from e
    space = search_spaces.resolve(s.space)  # fail on a bad space before starting Ray

    started = init_ray(s, log)
    try:
        check_storage(storage, s)
        engine = s.data_engine if s.data_engine != "auto" else ("ray" if alive_nodes() > 1 else "local")
        data_path, data = prepare_cached(base.data, storage, engine=engine, log=log)
        if getattr(data, "errors", None):
            log(f"data: {len(data.errors)} file(s) could not be used, e.g. {data.errors[0][0]}: {data.errors[0][1]}")
        plan = budget(data.meta) if budget is not None and not s.resume else None
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
        if plan is not None:
            log(plan.describe())
        trainable = make_trainable(base, data_path, s, storage, name)
        if s.resume:
            # Finished trials stay finished; errored ones (their retries spent) stay errors with their reason;
            # unfinished ones continue from their last checkpoint. The searcher's state comes back with them.
            tuner = tune.Tuner.restore(exp_path, trainable=trainable, resume_unfinished=True, resume_errored=False)
        else:
            scheduler = (
                # time_attr = the 1-based epoch: it survives a restore, Tune's iteration counter does not
                ASHAScheduler(
                    time_attr="epoch",
                    max_t=s.epochs,
                    grace_period=s.grace_period,
                    reduction_factor=s.reduction_factor,
                )
                if s.early_stopping
                else FIFOScheduler()
            )
            tuner = new_tuner(
                trainable,
                s,
                samples=s.trials,
                concurrency=max_conc,
                searcher=_searcher(space, s, plan),
                scheduler=scheduler,
                name=name,
                storage=storage,
                callbacks=[make_progress(s.trials, s.epochs, log), TrialLedger(log)],
                # a lost node or a killed trial process: retried from the trial's last checkpoint
                max_failures=s.max_failures,
                trial_name_creator=trial_name,
            )
        grid = tuner.fit()
        result = summarize_grid(grid, exp_path, s)
        result.wall_s = time.perf_counter() - t0
        log(format_table(result, s.top))
        stop = budget_stop(exp_path) if s.time_budget_min else None
        if stop is not None:
            log(
                f"stage 1: the time budget stopped sampling after {stop['trials_started']} of {s.trials} trials "
                f"({stop['elapsed_s'] / 60:.1f} min spent, the refit estimated at {stop['refit_estimate_s'] / 60:.1f} "
                f"min, {s.time_budget_min:g} min in all)"
            )
            if overruns(stop):
                log(
                    f"stage 1: the refit alone will overrun the {s.time_budget_min:g}-min budget: give a larger "
                    "--time-budget, or a smaller --refit-top (0: no refit)"
                )
        unfinished = trials_due(s.trials, stop) - result.counts["finished"] - result.counts["errors"]
        if unfinished > 0:  # Ctrl-C: Tune saved its state and returned
            log(resume_hint(f"interrupted with {unfinished} trial(s) unfinished", name, storage))
        return result
    finally:
        if started:
            ray.shutdown()


def new_tuner(
    trainable,
    s: SearchSettings,
    *,
    samples: int,
    concurrency: int,
    searcher,
    scheduler,
    name: str,
    storage: str,
    callbacks: list,
    max_failures: int,
    trial_name_creator=None,
    stop=None,
) -> tune.Tuner:
    """A Tuner as both stages run one: the search (stage 1) and the refit (stage 2); ``stop``: a Tune stopper
    (the refit's ``RefitDeadline`` under a time budget)."""
    return tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            # metric/mode on both the searcher (define-by-run OptunaSearch ignores TuneConfig's) and
            # TuneConfig (ASHA reads them there): ray-notes.md section 3
            metric=OBJECTIVE,
            mode=MODE,
            num_samples=samples,
            max_concurrent_trials=concurrency,
            search_alg=searcher,
            scheduler=scheduler,
            trial_dirname_creator=trial_dirname,
            trial_name_creator=trial_name_creator,
            # a 0-worker trial's process (torch imported, data mapped) serves the next trial
            reuse_actors=s.workers_per_trial == 0,
        ),
        run_config=tune.RunConfig(
            name=name,
            storage_path=storage,
            verbose=0,
            callbacks=callbacks,
            stop=stop,
            failure_config=tune.FailureConfig(max_failures=max_failures),
            # keep every checkpoint of a 0-worker trial (at most `epochs`, small): with num_to_keep set,
            # Tune forces an experiment snapshot every few reports and warns that it is a bottleneck
            checkpoint_config=tune.CheckpointConfig(num_to_keep=None),
        ),
    )


def resume_hint(what: str, name: str, storage: str) -> str:
    """``what`` and the command that continues the experiment."""
    where = "" if is_uri(storage) else f" --storage {storage}"
    return f"{what}: continue with  python scripts/tune.py --resume --name {name}{where}"


def _searcher(space, s: SearchSettings, plan: BudgetPlan | None = None):
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial otherwise

    # a database optuna-dashboard can watch live (the study is named after the experiment)
    storage = optuna.storages.RDBStorage(s.optuna_storage) if s.optuna_storage else None
    searcher = OptunaSearch(
        space,
        metric=OBJECTIVE,
        mode=MODE,
        sampler=sampler_of(s.searcher, s.seed, s.startup_trials),
        storage=storage,
        study_name=s.name if storage else None,
        points_to_evaluate=[dict(p) for p in s.start_points] or None,
    )
    return searcher if plan is None else BudgetedSearcher(searcher, plan, s.start_points)
