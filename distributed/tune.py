"""The Ray Tune driver: OptunaSearch (TPE, seeded) + ASHA on ``val_objective``, resume, results, best trial.

Three layers (STYLE.md 2): ``Tuner`` -> one trial function per sample -> either the training loop in
the trial process (``workers_per_trial=0``, the fast path on a laptop) or a ``TorchTrainer`` with N
DDP workers (``distributed.train.fit``), named ``<experiment>/train_runs/<trial_id>`` so a restored
experiment resumes each trial from its checkpoint.

Resources are explicit (ray-notes.md section 3): a Train-backed trial's driver reserves no CPU but
one unit of the custom ``trial_driver`` resource, its workers reserve their CPUs/GPUs, and
``max_concurrent_trials`` = what the cluster holds / what a trial needs, so nothing waits forever.

Layout of an experiment folder (``<storage>/<name>``): Tune's state, ``trial_<id>/`` per trial
(0-worker checkpoints are there), ``train_runs/<id>/`` (Train checkpoints), ``xmlai_search.json`` (the
settings and base config, for ``--resume``). Prepared data is cached in ``<storage>/_prepared/<key>``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.config import Config, config_from_dict

OBJECTIVE, MODE = "val_objective", "min"
BASELINE = 1.0  # the constant baseline's val_objective, by construction
STATE_FILE = "xmlai_search.json"
ROOT = Path(__file__).resolve().parents[1]
# The laptop search: a small corpus and model so 64 trials finish in minutes on 2 cores. scripts/tune.py
# and the benchmarks start from it, so a measured search is the search a user runs.
LAPTOP_SEARCH = {
    "data.synth_count": 40,
    "data.window": 50,
    "data.overlap": 0,
    "model.preset": "tiny",
    "train.early_stopping": 0,
    "train.warmup_epochs": 0,
}


def laptop_config(**overrides: Any) -> Config:
    """The default config with the laptop search settings and ``overrides`` (dotted keys) applied."""
    from core.config import apply_overrides

    return apply_overrides(config_from_dict({}), {**LAPTOP_SEARCH, **overrides})


class SearchError(RuntimeError):
    """A search cannot start (storage, resources, resume); the message says what to change."""


@dataclass
class SearchSettings:
    """How a search runs (not what a trial trains: that is the Config and the space)."""

    trials: int = 64
    space: str = "architecture"  # a name in search_spaces.NAMES or a .py/.yaml path
    epochs: int = 10  # ASHA max_t: the most epochs a trial trains
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
    searcher: str = "tpe"  # tpe | random (Optuna's RandomSampler: the benchmark's reference)
    early_stopping: bool = True  # ASHA; False = every trial runs all epochs (FIFO)

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise SearchError(f"--trials must be >= 1, got {self.trials}")
        if self.epochs < 1 or self.grace_period < 1 or self.grace_period > self.epochs:
            raise SearchError(f"need 1 <= grace period ({self.grace_period}) <= epochs ({self.epochs})")
        if self.workers_per_trial < 0:
            raise SearchError("--workers-per-trial must be >= 0")
        if self.cpus_per_worker <= 0 and not self.gpus_per_worker:
            raise SearchError("--cpus-per-worker must be > 0 (or give --gpus-per-worker)")
        if self.searcher not in ("tpe", "random"):
            raise SearchError(f"searcher must be tpe or random, got {self.searcher!r}")
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


# --------------------------------------------------------------------------------------------- resources


def trial_resources(s: SearchSettings) -> dict[str, float]:
    """What one trial reserves in total (driver plus workers)."""
    if s.workers_per_trial == 0:
        need = {"CPU": s.cpus_per_worker, "GPU": s.gpus_per_worker}
    else:
        n = s.workers_per_trial
        need = {"CPU": n * s.cpus_per_worker, "GPU": n * s.gpus_per_worker, "trial_driver": 1.0}
    return {k: v for k, v in need.items() if v > 0}


def concurrency(need: dict[str, float], available: dict[str, float]) -> int:
    """How many trials fit at once."""
    return int(min(math.floor(available.get(k, 0.0) / v + 1e-9) for k, v in need.items()))


def _plan_concurrency(s: SearchSettings, log) -> int:
    import ray

    need = trial_resources(s)
    n = concurrency(need, ray.cluster_resources())
    if n == 0 and _joined_cluster(s):
        # An autoscaling cluster may have no GPU node yet: ask for one trial's worth and wait, bounded.
        from ray.autoscaler.sdk import request_resources

        bundle = {k: v for k, v in need.items() if k != "trial_driver"}
        per_worker = {k: v / max(1, s.workers_per_trial) for k, v in bundle.items()}
        request_resources(bundles=[per_worker] * max(1, s.workers_per_trial))
        log(f"waiting up to {s.resource_wait_s:.0f}s for the cluster to offer one trial's resources {need}")
        deadline = time.monotonic() + s.resource_wait_s
        while n == 0 and time.monotonic() < deadline:
            time.sleep(5)
            n = concurrency(need, ray.cluster_resources())
    if n == 0:
        have = {k: ray.cluster_resources().get(k, 0) for k in need}
        raise SearchError(
            f"one trial needs {need} but the cluster has {have}: lower --workers-per-trial, "
            "--cpus-per-worker or --gpus-per-worker, or add nodes"
        )
    if s.max_concurrent:
        return max(1, min(s.max_concurrent, s.trials))  # an autoscaling cluster may grow past today's resources
    return max(1, min(n, s.trials))


# ------------------------------------------------------------------------------------------------- Ray


def _joined_cluster(s: SearchSettings) -> bool:
    return bool(s.address or os.environ.get("RAY_ADDRESS"))


def init_ray(s: SearchSettings, log=print) -> bool:
    """Join the given cluster, or start a local Ray sized for this machine. Returns True if we started it."""
    import ray

    if ray.is_initialized():
        return False
    # Workers import core/ and distributed/: from the installed package, or from this checkout.
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    runtime_env = {"env_vars": {"PYTHONPATH": path}}
    if _joined_cluster(s):
        ray.init(address=s.address or os.environ["RAY_ADDRESS"], runtime_env=runtime_env, log_to_driver=s.verbose)
        return True
    # Local only (these reach the Train controller's env through the local raylet): the preemption
    # watcher is noise on one machine; a faster health check cuts ~4 s off every TorchTrainer run.
    os.environ.setdefault("RAY_TRAIN_ENABLE_PREEMPTION_WATCHER", "0")
    os.environ.setdefault("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.25")
    cpus = s.num_cpus or os.cpu_count() or 1
    try:
        ray.init(
            num_cpus=cpus,
            resources={"trial_driver": max(64, cpus)},
            runtime_env=runtime_env,
            log_to_driver=s.verbose,
            configure_logging=True,
            logging_level="WARNING",
        )
    except ValueError as e:
        if "existing cluster" in str(e):
            raise SearchError(
                "a Ray cluster started with `ray start` runs on this machine (or left its "
                "ray_current_cluster file behind): pass --address auto to use it"
            ) from e
        raise
    log(f"started a local Ray with {cpus} CPUs")
    return True


def _alive_nodes() -> int:
    import ray

    return sum(1 for n in ray.nodes() if n.get("Alive"))


def resolve_storage(storage: str | None) -> str:
    """An absolute path or a URI (Ray resolves storage on every node; a relative path fails there)."""
    if storage and "://" in storage:
        return storage.rstrip("/")
    return str(Path(storage or Path.home() / "ray_results").expanduser().resolve())


def check_storage(storage: str, s: SearchSettings) -> None:
    """Refuse a node-local path where trials on other nodes would write checkpoints to their own disks."""
    if "://" in storage or s.shared_storage:
        return
    nodes = _alive_nodes()
    import ray

    grows = _joined_cluster(s) and s.gpus_per_worker > 0 and not ray.cluster_resources().get("GPU")
    if nodes > 1 or grows:
        why = f"the cluster has {nodes} nodes" if nodes > 1 else "the cluster will add GPU nodes"
        raise SearchError(
            f"--storage {storage} is a folder on this node's disk, but {why}: trials elsewhere would write "
            "their checkpoints to their own disks and the search could not resume or export them. Use a "
            "bucket (--storage s3://BUCKET/xmlai) or a shared file system mounted at the same path on every "
            "node (then add --shared-storage)."
        )


# ---------------------------------------------------------------------------------------------- state


def _write_text(uri: str, text: str) -> None:
    if "://" in uri:
        import pyarrow.fs as pafs

        fs, path = pafs.FileSystem.from_uri(uri)
        fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        with fs.open_output_stream(path) as f:
            f.write(text.encode())
    else:
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
        Path(uri).write_text(text)


def _read_text(uri: str) -> str | None:
    if "://" in uri:
        import pyarrow.fs as pafs

        fs, path = pafs.FileSystem.from_uri(uri)
        if fs.get_file_info(path).type == pafs.FileType.NotFound:
            return None
        with fs.open_input_stream(path) as f:
            return f.read().decode()
    return Path(uri).read_text() if Path(uri).is_file() else None


def latest_experiment(storage: str) -> str | None:
    """The most recently written experiment under a local storage folder (for --resume without --name)."""
    if "://" in storage or not Path(storage).is_dir():
        return None
    found = sorted(Path(storage).glob(f"*/{STATE_FILE}"), key=lambda p: p.stat().st_mtime)
    return found[-1].parent.name if found else None


# --------------------------------------------------------------------------------------------- trials


def trial_dirname(trial) -> str:
    """Short trial folder names (Tune's default puts every sampled value in it)."""
    return f"trial_{trial.trial_id}"


def make_trainable(base: dict[str, Any], data_path: str, s: SearchSettings, storage: str, experiment: str):
    """The Tune function trainable for these settings, wrapped with its resources."""
    from ray import tune

    epochs, wpt, cpus, gpus, verbose = s.epochs, s.workers_per_trial, s.cpus_per_worker, s.gpus_per_worker, s.verbose

    def trial_config(params: dict[str, Any]) -> dict[str, Any]:
        import search_spaces

        # The search budget wins over the config's epochs; ASHA stops at the same max_t.
        cfg = search_spaces.config_of(config_from_dict(base), {**params, "train.epochs": epochs})
        return cfg.to_dict()

    if wpt == 0:

        def xmlai_trial(params: dict[str, Any]) -> None:
            from distributed.train import train_in_trial

            train_in_trial(
                {"cfg": trial_config(params), "data_path": data_path, "cpus_per_worker": cpus, "verbose": verbose}
            )

        return tune.with_resources(xmlai_trial, {"CPU": cpus, "GPU": gpus} if gpus else {"CPU": cpus})

    def xmlai_trial(params: dict[str, Any]) -> None:  # noqa: F811 (one of the two is returned)
        from ray.tune.integration.ray_train import TuneReportCallback

        from distributed.train import fit

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


# ------------------------------------------------------------------------------------------- progress


def _make_progress(total: int, max_t: int, log):
    from ray import tune

    class Progress(tune.Callback):
        """One status line when something changes (at most every few seconds): running, finished, stopped, best."""

        def __init__(self):
            self.t0, self.last_line, self.last_time = time.monotonic(), "", 0.0

        def __getstate__(self):  # pickled into the experiment state; the clock restarts on resume
            return {}

        def __setstate__(self, state):
            self.__init__()

        def _status(self, trials) -> str:
            running = sum(t.status == "RUNNING" for t in trials)
            done = [t for t in trials if t.status == "TERMINATED"]
            early = sum(1 for t in done if (t.last_result or {}).get("epoch", max_t) < max_t)
            errors = sum(t.status == "ERROR" for t in trials)
            best, who = math.inf, ""
            for t in trials:
                v = t.metric_analysis.get(OBJECTIVE, {}).get("min", math.inf)
                if v < best:
                    best, who = v, t.trial_id
            best_s = f"best {OBJECTIVE} {best:.4f} (trial {who}; baseline {BASELINE:.1f})" if who else "no result yet"
            return (
                f"trials {len(done) + errors}/{total} done: {running} running, {len(done)} finished "
                f"({early} stopped early by ASHA), {errors} errors; {best_s}"
            )

        def on_step_end(self, iteration, trials, **info):
            line = self._status(trials)
            now = time.monotonic()
            if line != self.last_line and now - self.last_time >= 5:
                log(f"[{now - self.t0:6.0f}s] {line}")
                self.last_line, self.last_time = line, now

        def on_trial_error(self, iteration, trials, trial, **info):
            log(f"trial {trial.trial_id} failed: see {trial.local_path}/error.txt")

        def on_experiment_end(self, trials, **info):
            log(f"[{time.monotonic() - self.t0:6.0f}s] {self._status(trials)}")

    return Progress()


# ------------------------------------------------------------------------------------------- the search


def run_search(base: Config, s: SearchSettings, log=print) -> SearchResult:
    """Run (or resume) a search; prints live progress and the table of the best trials."""
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    import search_spaces
    from distributed.data import prepare_cached

    t0 = time.perf_counter()
    # Tune's own tables and boxes off (with verbose=0, the old engine prints nothing): Progress prints instead.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    storage = resolve_storage(s.storage)
    name = s.name or (latest_experiment(storage) if s.resume else None)
    if s.resume and not name:
        raise SearchError(f"--resume: no experiment under {storage}; give --name")
    name = name or f"xmlai-{Path(s.space).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    exp_path = f"{storage}/{name}"
    state_text = _read_text(f"{exp_path}/{STATE_FILE}")
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
        engine = s.data_engine if s.data_engine != "auto" else ("ray" if _alive_nodes() > 1 else "local")
        data_path, data = prepare_cached(base.data, storage, engine=engine, log=log)
        if getattr(data, "errors", None):
            log(f"data: {len(data.errors)} file(s) could not be used, e.g. {data.errors[0][0]}: {data.errors[0][1]}")
        del data  # trials load the cache themselves
        if not s.resume:
            settings = {k: v for k, v in dataclasses.asdict(s).items() if k != "resume"}
            _write_text(
                f"{exp_path}/{STATE_FILE}",
                json.dumps({"settings": settings, "base_config": base.to_dict(), "data_path": data_path}, indent=1),
            )
        max_conc = _plan_concurrency(s, log)
        log(
            f"experiment {exp_path}: {s.trials} trials of space {s.space!r}, up to {s.epochs} epochs each, "
            f"{max_conc} at a time; each trial reserves {trial_resources(s)}"
        )
        trainable = make_trainable(base.to_dict(), data_path, s, storage, name)
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
                    callbacks=[_make_progress(s.trials, s.epochs, log)],
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
                f"--name {name}" + ("" if "://" in storage else f" --storage {storage}")
            )
        return result
    finally:
        if started:
            ray.shutdown()


def _searcher(space, s: SearchSettings):
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial otherwise

    sampler = optuna.samplers.RandomSampler(seed=s.seed) if s.searcher == "random" else None
    # seed only without a sampler: OptunaSearch builds a seeded TPE itself and refuses both
    return OptunaSearch(space, metric=OBJECTIVE, mode=MODE, sampler=sampler, seed=None if sampler else s.seed)


def _describe(params: dict[str, Any], width: int = 70) -> str:
    parts = []
    order = ("model.d_model", "model.n_layers", "model.n_heads", "model.d_ff", "model.attention", "train.lr")
    keys = sorted((k for k in params if "." in k), key=lambda k: (order.index(k) if k in order else len(order), k))
    for k in keys:
        v = params[k]
        short = k.split(".")[-1]
        parts.append(f"{short}={v:.3g}" if isinstance(v, float) else f"{short}={v}")
    text = " ".join(parts)
    return text if len(text) <= width else text[: width - 3] + "..."


def summarize_grid(grid, exp_path: str, s: SearchSettings) -> SearchResult:
    """One row per trial (best epoch's metrics), best first; counts and summed training time."""
    res = SearchResult(experiment_path=exp_path)
    counts = {"finished": 0, "stopped_early": 0, "errors": 0}
    for r in grid:
        df = r.metrics_dataframe
        if r.error is not None:
            counts["errors"] += 1
        if df is None or OBJECTIVE not in df or df[OBJECTIVE].isna().all():
            continue
        last_epoch = int(df["epoch"].max())
        if r.error is None:
            counts["finished"] += 1
            counts["stopped_early"] += last_epoch < s.epochs
        res.train_s += float(df["epoch_time_s"].sum()) if "epoch_time_s" in df else 0.0
        res.epochs += int(len(df))
        best = df.loc[df[OBJECTIVE].idxmin()]
        trial_id = str(df["trial_id"].iloc[-1]) if "trial_id" in df else Path(r.path).name
        for _, row in df.iterrows():
            res.reports.append(
                {
                    "trial_id": trial_id,
                    "epoch": int(row["epoch"]),
                    OBJECTIVE: float(row[OBJECTIVE]),
                    "timestamp": float(row.get("timestamp", 0)),
                    "time_total_s": float(row.get("time_total_s", 0)),
                }
            )
        res.rows.append(
            {
                "trial_id": trial_id,
                "status": "error" if r.error is not None else ("stopped" if last_epoch < s.epochs else "done"),
                "epochs": last_epoch,
                "best_epoch": int(best["epoch"]),
                OBJECTIVE: float(best[OBJECTIVE]),
                "val_objective_ctx": float(best.get("val_objective_ctx", math.nan)),
                "noise_floor": float(best.get("noise_floor", math.nan)),
                "params": dict(r.config or {}),
            }
        )
    res.rows.sort(key=lambda row: row[OBJECTIVE])
    res.reports.sort(key=lambda row: row["timestamp"])
    res.counts = counts
    return res


def format_table(res: SearchResult, top: int = 5) -> str:
    c = res.counts
    lines = [
        f"\n{len(res.rows)} trials with results: {c.get('finished', 0)} finished "
        f"({c.get('stopped_early', 0)} stopped early by ASHA), {c.get('errors', 0)} errors; "
        f"{res.epochs} epochs trained in total",
        f"{'rank':>4}  {'trial':<10} {OBJECTIVE:>13} {'w/ context':>10} {'epoch':>6} {'status':<8} params",
        f"{'-':>4}  {'baseline':<10} {BASELINE:>13.4f} {BASELINE:>10.4f} {'-':>6} {'':<8} constant: train mean "
        "per target, base rates",
    ]
    floor = next((r["noise_floor"] for r in res.rows if math.isfinite(r["noise_floor"])), math.nan)
    if math.isfinite(floor):
        lines.append(
            f"{'-':>4}  {'noise':<10} {floor:>13.4f} {'':>10} {'-':>6} {'':<8} best achievable (built-in corpus)"
        )
    for i, r in enumerate(res.rows[:top], 1):
        lines.append(
            f"{i:>4}  {r['trial_id']:<10} {r[OBJECTIVE]:>13.4f} {r['val_objective_ctx']:>10.4f} "
            f"{r['best_epoch']:>3}/{r['epochs']:<2} {r['status']:<8} {_describe(r['params'])}"
        )
    lines.append(f"experiment: {res.experiment_path}  ({res.wall_s:.0f}s wall, {res.train_s:.0f}s of training)")
    lines.append(f"export the best: python scripts/export_best.py {res.experiment_path}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------- best trial, export


def _local_experiment(exp_path: str) -> Path:
    if "://" not in exp_path:
        p = Path(exp_path).expanduser().resolve()
        if not p.is_dir():
            raise SearchError(f"{p}: no such experiment folder")
        return p
    import tempfile

    import pyarrow.fs as pafs

    local = Path(tempfile.mkdtemp(prefix="xmlai-exp-"))
    pafs.copy_files(exp_path, str(local))
    return local


def checkpoints(exp_path: str) -> list[dict[str, Any]]:
    """Every retained checkpoint of an experiment (Tune's trial folders and Train's runs) with its metrics."""
    exp = _local_experiment(exp_path)
    found = []
    for metrics_file in exp.glob("**/checkpoint_*/metrics.json"):
        ck = metrics_file.parent
        try:
            m = json.loads(metrics_file.read_text())
        except (OSError, json.JSONDecodeError):
            continue  # a checkpoint being written right now
        if not isinstance(m.get(OBJECTIVE), (int, float)) or not (ck / "state.pt").is_file():
            continue
        trial = ck.parent.name.removeprefix("trial_")
        found.append({"trial_id": trial, "checkpoint": str(ck), "metrics": m})
    return found


def best_checkpoint(exp_path: str) -> dict[str, Any]:
    """The retained checkpoint with the lowest val_objective over all trials and epochs."""
    cks = checkpoints(exp_path)
    if not cks:
        raise SearchError(f"{exp_path}: no trial checkpoint with a {OBJECTIVE} (did any trial finish an epoch?)")
    return min(cks, key=lambda c: c["metrics"][OBJECTIVE])


def export_best(exp_path: str, out_dir: str | None = None, log=print) -> Path:
    """Export the best trial's best checkpoint as a self-contained model folder; returns it."""
    from core.serve.persistence import export_model

    best = best_checkpoint(exp_path)
    m = best["metrics"]
    baseline = {k[len("baseline/") :]: v for k, v in m.items() if k.startswith("baseline/")}
    baseline[OBJECTIVE] = BASELINE
    out = Path(out_dir) if out_dir else Path(_local_experiment(exp_path)) / "best_model"
    export_model(
        best["checkpoint"],
        out,
        metrics=m,
        baseline=baseline,
        source=f"{exp_path} trial {best['trial_id']} epoch {m.get('epoch')}",
    )
    log(
        f"best trial {best['trial_id']} (epoch {m.get('epoch')}, {OBJECTIVE} {m[OBJECTIVE]:.4f}; baseline "
        f"{BASELINE:.1f}) exported to {out}\nload it with: core.serve.persistence.load_exported({str(out)!r})"
    )
    return out


# ------------------------------------------------------------------------------------------------ debug


def debug_search(base: Config, s: SearchSettings, out_dir: str | None = None, log=print) -> SearchResult:
    """The search without Ray: sample the same space with Optuna and train each trial in this process.

    Seconds on a shrunk corpus, and any error surfaces with its full stack trace.
    """
    import optuna
    import torch

    import search_spaces
    from core.data.preprocess import prepare
    from core.learn.train_loop import LocalHooks, train

    t0 = time.perf_counter()
    # One thread per trial, as in the Ray path: on a busy 2-core machine torch's default threads made a
    # 2-trial debug run take 74 s instead of 5 s.
    torch.set_num_threads(max(1, int(s.cpus_per_worker)))
    out = Path(out_dir or Path(resolve_storage(s.storage)) / f"debug-{time.strftime('%Y%m%d-%H%M%S')}")
    space = search_spaces.resolve(s.space)
    data = prepare(base.data)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=s.seed))
    res = SearchResult(experiment_path=str(out), counts={"finished": 0, "stopped_early": 0, "errors": 0})
    for i in range(s.trials):
        trial = study.ask()
        derived = space(trial) or {}
        params = {**trial.params, **derived}
        cfg = search_spaces.config_of(base, {**params, "train.epochs": s.epochs})
        log(f"debug trial {i}: {_describe(params, 200)}")
        tr = train(
            cfg, data, LocalHooks(out / f"trial_{i:03d}"), progress=False, log=log if s.verbose else (lambda _: None)
        )
        study.tell(trial, tr.best[OBJECTIVE])
        res.counts["finished"] += 1
        res.epochs += tr.epochs_run
        res.train_s += sum(h.get("epoch_time_s", 0.0) for h in tr.history)
        res.rows.append(
            {
                "trial_id": f"{i:03d}",
                "status": "done",
                "epochs": tr.epochs_run,
                "best_epoch": tr.best["epoch"],
                OBJECTIVE: tr.best[OBJECTIVE],
                "val_objective_ctx": tr.best.get("val_objective_ctx", math.nan),
                "noise_floor": (tr.noise_floor or {}).get("objective", math.nan),
                "params": params,
            }
        )
    res.rows.sort(key=lambda row: row[OBJECTIVE])
    res.wall_s = time.perf_counter() - t0
    log(format_table(res, s.top).replace("export the best: python scripts/export_best.py", "checkpoints under"))
    return res


__all__ = [
    "SearchSettings",
    "SearchResult",
    "SearchError",
    "run_search",
    "debug_search",
    "best_checkpoint",
    "export_best",
    "checkpoints",
    "trial_resources",
    "concurrency",
    "resolve_storage",
    "init_ray",
]

if __name__ == "__main__":  # pragma: no cover
    sys.exit("use scripts/tune.py")
