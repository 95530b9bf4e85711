"""Search, then refit: stage 2 retrains the top-K configurations of stage 1 at the full budget, beside the
default config, and exports the better.

Stage 1 (``distributed.tune.run_search``) samples cheaply: a small corpus, a small budget, ASHA. Its best
``val_objective`` is measured on its own small validation set, so it says little about the model a user
gets. Stage 2 trains each of the K best sampled configurations (their sampled values on top of the *full*
config: the one ``python scripts/train.py`` would train, or the user's ``--config``/``--data``) and the
full config itself (the reference), all on the same prepared data, for the same number of epochs, and
compares them on the same validation files. The mean of the best refit's and the default model's outputs
(``core.learn.ensemble``; no training) is scored on the same files too. The export is whichever of the three
scores best; the search ends with one line saying which.

The refits are trials of a second, small Tuner (``<experiment>/refit``) built from the same trainable as
stage 1 (``distributed.tune.make_trainable``), so they run in parallel within the same resource budget and
resume the same way. Files in the experiment folder:

- ``xmlai_refit.json``: K and the full config, written before stage 1 (``--resume`` reads them);
- ``stage1.json``: stage 1's rows, written once stage 1 has finished (a resume then skips stage 1);
- ``refit/``: the refit Tuner's experiment; ``refit.json``: its rows and the chosen checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray
from ray import tune
from ray.tune.schedulers import FIFOScheduler
from ray.tune.search import Searcher

import search_spaces
from core.config import Config, config_from_dict
from distributed.budget import (
    RESERVE_S,
    BudgetPlan,
    RefitDeadline,
    budget_stop,
    epoch_work,
    refit_budget,
    trials_due,
)
from distributed.cluster import alive_nodes, init_ray, plan_concurrency
from distributed.data import prepare_cached
from distributed.export import (
    MEAN_LABEL,
    REFIT_DIR,
    REFIT_RESULT,
    checkpoints,
    chosen_checkpoint,
    chosen_source,
    export_choice,
)
from distributed.refit_verdict import LABEL_KEY, comparison_line, epoch_jitter, format_refit_table
from distributed.results import make_progress, summarize_grid
from distributed.settings import MODE, OBJECTIVE, STATE_FILE, SearchError, SearchResult, SearchSettings
from distributed.storage import (
    is_uri,
    latest_experiment,
    local_experiment,
    read_text,
    resolve_storage,
    upload_dir,
    write_text,
)
from distributed.tune import make_trainable, new_tuner, resume_hint, run_search

REFIT_STATE = "xmlai_refit.json"
STAGE1_FILE = "stage1.json"
DEFAULT_LABEL = "default"
# Settings a resume takes from the command line rather than from the experiment (as run_search does).
RUNTIME_KEYS = ("address", "num_cpus", "max_concurrent", "verbose", "shared_storage", "resource_wait_s", "top")
REFIT_AUTO_MAX = 3  # --refit-top auto refits at most this many


def refit_settings(s: SearchSettings, full: Config) -> SearchSettings:
    """The refit's settings: ``full``'s epochs for every refit, no early stopping."""
    return dataclasses.replace(s, epochs=full.train.epochs, grace_period=1, early_stopping=False)


def refit_shape(rs: SearchSettings, k: int | None, log) -> tuple[int, int]:
    """(K, refits at a time) for ``--refit-top k`` (None: auto) under the refit's settings ``rs``: for auto, the
    slots for the largest auto refit (K + the default) size K and the concurrency at once."""
    if k is None:
        slots = plan_concurrency(dataclasses.replace(rs, trials=REFIT_AUTO_MAX + 1), log)
        k = auto_refit_top(slots)
        return k, min(slots, k + 1)
    return k, plan_concurrency(dataclasses.replace(rs, trials=k + 1), log)


def auto_refit_top(slots: int) -> int:
    """K for ``--refit-top auto``: as many of the best as fill one round of ``slots`` parallel trials beside the
    default config (at least 1, at most REFIT_AUTO_MAX), so that stage 2 costs about one full training's
    wall time: 1 on a 2-core laptop, 3 on a cluster with 4 or more trial slots."""
    return max(1, min(REFIT_AUTO_MAX, slots - 1))


@dataclass
class RefitResult:
    """Stage 2: one row per refit (best epoch's metrics), the best refit of a sampled config, the default."""

    experiment_path: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None  # the best refit of a stage-1 configuration
    default: dict[str, Any] | None = None  # the default (full) config trained the same way
    mean: dict[str, Any] | None = None  # the mean of best's and default's outputs (``mean_row``), not trained
    chosen: dict[str, Any] | None = None  # what was exported: the lowest val_objective of best, default and mean
    export_dir: str | None = None
    line: str = ""
    wall_s: float = 0.0


def candidates(rows: list[dict[str, Any]], k: int, exclude: list[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """The K best stage-1 rows (best first) with a finite objective and distinct configurations, leaving out
    the points in ``exclude`` (the default config's: the refit trains it anyway)."""
    out, seen = [], set()
    for r in rows:
        if len(out) >= k:
            break
        if r.get("status") == "error" or not math.isfinite(r.get(OBJECTIVE, math.nan)):
            continue
        if any(is_point(r, p) for p in exclude):
            continue
        key = json.dumps(refit_params(r["params"]), sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def is_point(row: dict[str, Any], point: dict[str, Any]) -> bool:
    """Whether a stage-1 row's trial sampled exactly ``point``."""
    return bool(point) and all(row["params"].get(k) == v for k, v in point.items())


def start_from_default(space_name: str, full: Config, log=print) -> list[dict[str, Any]]:
    """Stage 1's first point: the default config's, when the space holds it (else none, and why)."""
    point, outside = search_spaces.default_point(search_spaces.resolve(space_name), full)
    if outside:
        log(
            f"stage 1: the default config is not a point of the space {space_name!r} (outside it: "
            f"{', '.join(outside)}); the refit trains it beside the best"
        )
        return []
    log("stage 1: the first trial is the default config (a point of the space), so TPE starts from it")
    return [point]


def default_line(rows: list[dict[str, Any]], points: list[dict[str, Any]]) -> str | None:
    """Where the default config's stage-1 trial ranks, or None when stage 1 did not run it."""
    ranked = [r for r in rows if math.isfinite(r.get(OBJECTIVE, math.nan))]
    i = next((i for i, r in enumerate(ranked) if any(is_point(r, p) for p in points)), None)
    if i is None:
        return None
    return (
        f"stage 1: the default config scored {ranked[i][OBJECTIVE]:.4f}, rank {i + 1} of {len(ranked)} "
        f"({i} sampled configuration(s) did better on stage 1's small problem)"
    )


def refit_params(params: dict[str, Any]) -> dict[str, Any]:
    """The sampled values a refit keeps: everything but the data and the budget (those are the full config's)."""
    return {k: v for k, v in params.items() if not k.startswith("data.") and k != "train.epochs"}


def _points(top: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # the default first: with fewer slots than refits it is never the one left waiting
    return [{LABEL_KEY: DEFAULT_LABEL}] + [{LABEL_KEY: r["trial_id"], **refit_params(r["params"])} for r in top]


class FixedPoints(Searcher):
    """Hands out given configurations in order (the refits), then says it has finished. Unlike
    ``BasicVariantGenerator(points_to_evaluate=...)`` it takes keys that no param_space declares, and as a
    ``Searcher`` it honours ``max_concurrent_trials``; its state (the next point) survives a restore."""

    def __init__(self, points: list[dict[str, Any]]):
        super().__init__(metric=OBJECTIVE, mode=MODE)
        self.points, self.next = [dict(p) for p in points], 0

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if self.next >= len(self.points):
            return Searcher.FINISHED
        self.next += 1
        return dict(self.points[self.next - 1])

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        pass

    def save(self, checkpoint_path: str) -> None:
        Path(checkpoint_path).write_text(json.dumps({"points": self.points, "next": self.next}))

    def restore(self, checkpoint_path: str) -> None:
        state = json.loads(Path(checkpoint_path).read_text())
        self.points, self.next = state["points"], int(state["next"])


def experiment_name(s: SearchSettings, storage: str) -> str:
    """The experiment's name: --name, the latest under storage for --resume, else a new time-stamped one."""
    name = s.name or (latest_experiment(storage) if s.resume else None)
    if s.resume and not name:
        raise SearchError(f"--resume: no experiment under {storage}; give --name")
    return name or f"xmlai-{Path(s.space).stem}-{time.strftime('%Y%m%d-%H%M%S')}"


def _saved_settings(exp_path: str, s: SearchSettings) -> SearchSettings:
    saved = json.loads(read_text(f"{exp_path}/{STATE_FILE}") or "{}").get("settings")
    if not saved:
        raise SearchError(f"--resume: no search settings at {exp_path}/{STATE_FILE}")
    keep = {k: getattr(s, k) for k in RUNTIME_KEYS}
    return SearchSettings(**{**saved, **keep, "resume": True})


def search_and_refit(
    base: Config, full: Config, s: SearchSettings, refit_top: int | None = None, log=print, report: bool = True
) -> tuple[SearchResult, RefitResult | None]:
    """Stage 1 (``run_search`` on ``base``), then stage 2 (refit the ``refit_top`` best and ``full`` itself on
    ``full``'s data and epochs), export the better, write the report. ``refit_top`` None is ``auto``
    (``auto_refit_top``). ``--resume`` continues either stage."""
    t0 = time.perf_counter()
    storage = resolve_storage(s.storage)
    name = experiment_name(s, storage)
    s = dataclasses.replace(s, name=name)
    if not s.resume and not s.start_points:
        s = dataclasses.replace(s, start_points=start_from_default(s.space, full, log))
    exp_path = f"{storage}/{name}"
    state = read_text(f"{exp_path}/{REFIT_STATE}")
    if s.resume:
        if state is None:
            raise SearchError(f"--resume: {exp_path} has no {REFIT_STATE} (not a search with a refit stage)")
        saved = json.loads(state)
        k = saved["refit_top"]
        refit_top, full = (None if k is None else int(k)), config_from_dict(saved["full_config"])
    elif read_text(f"{exp_path}/{STATE_FILE}") is None:
        write_text(
            f"{exp_path}/{REFIT_STATE}", json.dumps({"refit_top": refit_top, "full_config": full.to_dict()}, indent=1)
        )
    # (an existing experiment without --resume: run_search refuses it with its own message)

    started = init_ray(s, log)
    try:
        stage1_text = read_text(f"{exp_path}/{STAGE1_FILE}") if s.resume else None
        if stage1_text is not None:
            res = SearchResult(**json.loads(stage1_text))
            log(f"stage 1 finished earlier ({len(res.rows)} trials with results): going on with the refits")
            s = _saved_settings(exp_path, s)
        else:
            full_meta = None
            if refit_top != 0:  # the refit's data first: a bad --data fails now, not after stage 1
                full_meta = _prepare(full, s, storage, log)[1].meta
            minutes = _saved_settings(exp_path, s).time_budget_min if s.resume else s.time_budget_min
            budget = _budget(base, full, s, minutes, refit_top, full_meta, exp_path, t0) if minutes else None
            res = run_search(base, s, log=log, budget=budget)
            ended = res.counts.get("finished", 0) + res.counts.get("errors", 0)
            if ended < trials_due(_saved_settings(exp_path, s).trials, budget_stop(exp_path)):
                return res, None  # interrupted: run_search said how to resume
            write_text(f"{exp_path}/{STAGE1_FILE}", json.dumps(dataclasses.asdict(res), default=str))
            s = _saved_settings(exp_path, s)
        line = default_line(res.rows, s.start_points)
        if line:
            log(line)
        refit = None
        if refit_top != 0:
            allowance = None
            if s.time_budget_min:  # what the budget leaves stage 2 (stage 1's own record where it ran before)
                stop = budget_stop(exp_path) or {}
                spent = max(time.perf_counter() - t0, res.wall_s, stop.get("elapsed_s", 0.0))
                allowance = 60.0 * s.time_budget_min - spent - RESERVE_S
            refit = run_refit(res, full, s, exp_path, refit_top, log, allowance_s=allowance)
        elif res.rows:  # no stage 2: the model is stage 1's best checkpoint
            ck, source = chosen_checkpoint(exp_path)
            log(f"exported {source} to {export_to_experiment(ck, exp_path, source)}")
        if report and (refit is None or refit.export_dir):
            try:
                from distributed.report import write_report

                log(f"report: {write_report(exp_path, log=log)}")
            except Exception as e:  # the report is a view of the results: never lose a search over it
                log(f"report not written ({type(e).__name__}: {e}); retry: python scripts/report.py {exp_path}")
        if s.time_budget_min:
            spent = (time.perf_counter() - t0) / 60
            log(f"wall time {spent:.1f} min (this process) against a budget of {s.time_budget_min:g} min")
        if refit is not None and refit.line:
            log(refit.line)  # the last word: the search's model against the default config's
        return res, refit
    finally:
        if started:
            ray.shutdown()


def run_refit(
    stage1: SearchResult,
    full: Config,
    s: SearchSettings,
    exp_path: str,
    k: int | None,
    log=print,
    allowance_s: float | None = None,
) -> RefitResult:
    """Train the K best stage-1 configurations (K None: ``auto_refit_top`` of the cluster's trial slots) and
    the full config at ``full``'s budget; export the better. ``allowance_s``: the seconds the time budget leaves
    stage 2 (``RefitDeadline`` stops a refit whose next epoch would end past them); None: no limit."""
    t0 = time.perf_counter()
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    storage, name = exp_path.rsplit("/", 1)
    refit_path = f"{exp_path}/{REFIT_DIR}"
    epochs = full.train.epochs
    rs = refit_settings(s, full)
    k, conc = refit_shape(rs, k, log)
    top = candidates(stage1.rows, k, exclude=s.start_points)
    points = _points(top)
    data_path, data = _prepare(full, s, storage, log)
    rs = dataclasses.replace(rs, trials=len(points))
    conc = min(conc, len(points))
    log(
        f"refit: the {len(top)} best configuration(s) of stage 1 and the default config, each for {epochs} epochs "
        f"on the full data ({full.data.data_dir or f'built-in corpus, {full.data.synth_count} timelines'}), "
        f"{conc} at a time"
    )
    trainable = make_trainable(full, data_path, rs, storage, f"{name}/{REFIT_DIR}")
    if tune.Tuner.can_restore(refit_path):  # a restored refit keeps its own deadline (RefitDeadline's marker)
        saved = refit_budget(exp_path)
        if saved:
            left = max(saved["allowance_s"] - saved["spent_s"], 0) / 60
            log(f"refit: resumed under the time budget, {left:.1f} min left of stage 2's allowance")
        tuner = tune.Tuner.restore(refit_path, trainable=trainable, resume_unfinished=True, resume_errored=True)
    else:
        deadline = RefitDeadline(allowance_s, exp_path, epochs) if allowance_s is not None else None
        if deadline is not None:
            log(
                f"refit: the time budget leaves stage 2 {max(allowance_s, 0) / 60:.1f} min; a refit whose next "
                "epoch would end later stops with its best checkpoint so far"
            )
        tuner = new_tuner(
            trainable,
            s,
            samples=len(points),
            concurrency=conc,
            searcher=FixedPoints(points),
            scheduler=FIFOScheduler(),
            name=REFIT_DIR,
            storage=exp_path,
            callbacks=[make_progress(len(points), epochs, log, what="refit")],
            max_failures=1,  # a refit is expensive: one retry
            stop=deadline,
        )
    grid = tuner.fit()
    cut = (refit_budget(exp_path) or {}).get("stopped") or {}
    if cut:
        runs = ", ".join(f"{t} after {n} of {epochs} epochs" for t, n in sorted(cut.items()))
        log(f"refit: the time budget stopped {len(cut)} refit(s) early ({runs}); each offers its best epoch so far")
    summary = summarize_grid(grid, refit_path, rs)
    out = RefitResult(experiment_path=exp_path)
    ck_by_trial: dict[str, dict[str, Any]] = {}
    refit_local = local_experiment(refit_path)  # itself, or a download of a bucket's copy
    for c in checkpoints(str(refit_local)):
        c["checkpoint_rel"] = f"{REFIT_DIR}/{Path(c['checkpoint']).relative_to(refit_local).as_posix()}"
        best = ck_by_trial.get(c["trial_id"])
        if best is None or c["metrics"][OBJECTIVE] < best["metrics"][OBJECTIVE]:
            ck_by_trial[c["trial_id"]] = c
    for row in summary.rows:
        row["label"] = str(row["params"].get(LABEL_KEY, "?"))
        ck = ck_by_trial.get(row["trial_id"])
        row["checkpoint"] = ck["checkpoint"] if ck else None  # a local folder (for a bucket: this run's download)
        row["checkpoint_rel"] = ck["checkpoint_rel"] if ck else None  # in the experiment: what export_best reads
        row["metrics"] = ck["metrics"] if ck else {}
        source = next((r for r in top if r["trial_id"] == row["label"]), None)
        row["stage1_" + OBJECTIVE] = source[OBJECTIVE] if source else math.nan
    out.rows = summary.rows
    missing = len(points) - summary.counts.get("finished", 0) - summary.counts.get("errors", 0)
    if missing > 0:  # not started, or interrupted mid-run (summarize_grid)
        log(resume_hint(f"refit interrupted with {missing} refit(s) unfinished", name, storage))
        out.wall_s = time.perf_counter() - t0
        return out
    usable = [r for r in out.rows if r["checkpoint"]]
    out.default = next((r for r in usable if r["label"] == DEFAULT_LABEL), None)
    out.best = next((r for r in usable if r["label"] != DEFAULT_LABEL), None)  # rows are best first
    jitter = epoch_jitter(summary.reports, out.default["trial_id"]) if out.default else None
    if out.best and out.default:  # no training: the two finished models' outputs averaged, on the same files
        out.mean = mean_row([out.best, out.default], full, data)
    out.line = comparison_line(out.best, out.default, jitter, out.mean)
    out.chosen = min(
        (r for r in (out.best, out.default, out.mean) if r is not None),
        key=lambda r: r[OBJECTIVE],
        default=None,
    )
    log(format_refit_table(out))
    if out.chosen is None:
        log("no refit finished: nothing to export")
        out.wall_s = time.perf_counter() - t0
        _save(out, refit_path)
        return out
    if out.chosen is out.mean:
        what = f"the mean of the refit of stage-1 trial {out.best['label']} and the default config"
    elif out.chosen is out.default:
        what = "the default config"
    else:
        what = f"the refit of stage-1 trial {out.chosen['label']}"
    out.export_dir = export_to_experiment(out.chosen, exp_path, source=f"{exp_path} {chosen_source(out.chosen)}")
    out.wall_s = time.perf_counter() - t0
    _save(out, refit_path)
    log(f"exported {what} to {out.export_dir}")
    return out  # search_and_refit ends with out.line


def mean_row(rows: list[dict[str, Any]], full: Config, data) -> dict[str, Any]:
    """The mean of the refits in ``rows`` (``core.learn.ensemble``) as a row of its own: its validation metrics
    exactly as the refits' (``core.learn.train_loop.validation_metrics``, ``full``'s validation files), and
    the members' checkpoints."""
    from core.learn.ensemble import load_mean
    from core.learn.train_loop import validation_metrics

    model, _, _ = load_mean([r["checkpoint"] for r in rows])
    m = validation_metrics(model, full, data)
    return {
        "label": MEAN_LABEL,
        "trial_id": "+".join(r["trial_id"] for r in rows),
        "members": [r["trial_id"] for r in rows],
        "labels": [r["label"] for r in rows],
        "checkpoints": [r["checkpoint"] for r in rows],
        "checkpoints_rel": [r["checkpoint_rel"] for r in rows],
        "metrics": m,
        OBJECTIVE: m[OBJECTIVE],
        "val_objective_ctx": m.get("val_objective_ctx", math.nan),
    }


def export_to_experiment(ck: dict[str, Any], exp_path: str, source: str) -> str:
    """Export a checkpoint (or a mean of refits: ``mean_row``) as ``<experiment>/best_model`` (written locally,
    then uploaded for a bucket)."""
    if not is_uri(exp_path):
        return str(export_choice(ck, f"{exp_path}/best_model", source, log=lambda _: None))
    with tempfile.TemporaryDirectory(prefix="xmlai-export-") as tmp:
        export_choice(ck, tmp, source, log=lambda _: None)
        upload_dir(tmp, f"{exp_path}/best_model")
    return f"{exp_path}/best_model"


def _budget(
    base: Config,
    full: Config,
    s: SearchSettings,
    minutes: float,
    refit_top: int | None,
    full_meta: dict[str, Any] | None,
    exp_path: str,
    t0: float,
) -> Callable[[dict[str, Any]], BudgetPlan]:
    """The ``--time-budget`` plan's maker for ``run_search``: given the stage-1 data's meta, the ratio of a refit
    epoch's work (``full_meta``: the refit's prepared data; None: no refit) to a stage-1 epoch's, the refit's
    shape, and the seconds spent since ``t0``."""
    k = rounds = 0
    work = 0.0
    if full_meta is not None:
        k, conc = refit_shape(refit_settings(s, full), refit_top, log=lambda _: None)
        rounds = math.ceil((k + 1) / conc)
        work = epoch_work(full_meta, full.train.epoch_windows, full.data.window, full.train.val_windows)

    def plan(stage1_meta: dict[str, Any]) -> BudgetPlan:
        stage1 = epoch_work(stage1_meta, base.train.epoch_windows, base.data.window, base.train.val_windows)
        return BudgetPlan(
            budget_s=60.0 * minutes,
            spent_s=time.perf_counter() - t0,
            stage1_epochs=s.epochs,
            refit_ratio=work / stage1 if rounds else 0.0,
            refit_epochs=full.train.epochs,
            refit_rounds=rounds,
            refit_top=k,
            marker=exp_path,
        )

    return plan


def _prepare(full: Config, s: SearchSettings, storage: str, log) -> tuple[str, Any]:
    """The refit's data, prepared once (cached): its cache path and the Prepared data (memory-mapped)."""
    engine = s.data_engine if s.data_engine != "auto" else ("ray" if alive_nodes() > 1 else "local")
    return prepare_cached(full.data, storage, engine=engine, log=log)


def _save(r: RefitResult, refit_path: str) -> None:
    write_text(f"{refit_path.rsplit('/', 1)[0]}/{REFIT_RESULT}", json.dumps(dataclasses.asdict(r), default=str))


def load_refit(exp_path: str) -> dict[str, Any] | None:
    """The saved stage-2 result of an experiment (``refit.json``), or None."""
    text = read_text(f"{exp_path}/{REFIT_RESULT}")
    return json.loads(text) if text else None


__all__ = ["search_and_refit", "run_refit", "candidates", "comparison_line", "load_refit"]
