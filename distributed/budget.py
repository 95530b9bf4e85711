"""A wall-time budget for the whole search (``scripts/tune.py --time-budget MINUTES``).

The refit (stage 2) trains its configurations at the full budget, so its wall time is fixed once stage 1
has chosen them; what a budget can trade is stage 1's samples. ``BudgetedSearcher`` wraps stage 1's
searcher and stops proposing trials once the search would no longer fit: the time spent so far, plus
the longer of a new trial (its epochs at the typical stage-1 epoch time) and the trials still running,
plus the refit's estimate, plus a reserve for the export and report. Running trials finish (ASHA still
stops them), and the search goes on to the refit with the trials it has.

The refit's estimate comes from stage 1's own epoch times: the slowest of the configurations the refit
would train now (the ``refit_top`` best so far and the default config), times the ratio of a full epoch's
work to a stage-1 epoch's (``epoch_work``: training windows drawn per epoch plus the validation windows
evaluated at ``VAL_COST``, in window steps), times the refit's epochs and rounds. On the laptop search that
ratio is 18.0; session 11's search measured 18.3 for the default config and 17.9 for a d_model-96 model.

The searcher's clock survives a ``--resume``: its state keeps the seconds spent, and a resumed process
counts on from there (time between the crash and the resume is not counted).

The estimate can be short (on the real corpora a refit epoch took 22-25 stage-1 epochs where it said 18.6:
stage 1's 50-step windows cost less per step than the refit's 100-step ones, and two refits contend more than
two small trials). So stage 2 has a guard of its own, ``RefitDeadline``: a refit stops after the epoch whose
successor, as long as it, would end past what the budget leaves for stage 2; its best checkpoint so far is
what it offers, and the refit table shows the epochs it ran.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any

from ray.tune.search import Searcher
from ray.tune.stopper import Stopper

from distributed.storage import read_text, write_text

# A validation window step costs about this share of a training one (forward passes only, twice: structure
# only and with context). Fitted on the laptop search's stage-1 and refit epochs: 0.37.
VAL_COST = 0.4
RESERVE_S = 60.0  # export, report, the refit's start-up
MARKER = "stage1_budget.json"  # written when the budget stops stage 1's sampling
REFIT_MARKER = "refit_budget.json"  # stage 2's seconds allowed and spent, and the refits it stopped


def epoch_work(meta: dict[str, Any], epoch_windows: int, window: int, val_windows: int = 0) -> float:
    """One epoch's work in window steps: the training windows an epoch draws (``epoch_windows``, 0 = all)
    and the validation windows at ``VAL_COST`` (half for each of the two passes; the structure-only one
    evaluates at most ``val_windows``, 0 = all); ``meta`` is a prepared data set's (``Prepared.meta``)."""
    drawn = epoch_windows or int(meta["n_train_windows"])
    val = int(meta["n_val_windows"])
    structure_only = min(val, val_windows) if val_windows else val
    return (drawn + VAL_COST / 2 * (structure_only + val)) * window


@dataclass
class BudgetPlan:
    """What the budget needs to know of the search; plain values (pickled into the experiment)."""

    budget_s: float
    spent_s: float  # seconds the search spent before stage 1's first trial (data preparation)
    stage1_epochs: int
    refit_ratio: float  # a refit epoch's time over a stage-1 epoch's, same config (0: no refit)
    refit_epochs: int
    refit_rounds: int  # rounds of parallel refits (0: no refit)
    refit_top: int
    marker: str  # where to write MARKER (the experiment folder's path or URI)

    def describe(self) -> str:
        refit = "no refit" if not self.refit_rounds else f"a refit epoch ~{self.refit_ratio:.1f}x a stage-1 epoch"
        return (
            f"time budget {self.budget_s / 60:.1f} min for the whole search: stage 1 samples while the refit still "
            f"fits ({refit}, estimated from stage 1's epoch times)"
        )


def budget_stop(path: str) -> dict[str, Any] | None:
    """What the budget wrote when it stopped stage 1's sampling (None: it did not)."""
    text = read_text(f"{path}/{MARKER}")
    return json.loads(text) if text else None


def overruns(stop: dict[str, Any]) -> bool:
    """Whether the search was over its budget at the stop even without another trial: the time spent, the refit
    and the reserve alone exceed it (a budget too small for the refit)."""
    return stop["elapsed_s"] + stop["refit_estimate_s"] + RESERVE_S > stop["budget_s"]


def trials_due(trials: int, stop: dict[str, Any] | None) -> int:
    """The trials stage 1 has to end before it is complete: ``trials``, or as many as started before the budget
    stopped the sampling (``budget_stop``); fewer ended means an interrupted stage 1."""
    return trials if stop is None else min(trials, int(stop["trials_started"]))


class BudgetedSearcher(Searcher):
    """Stage 1's searcher under a wall-time budget (module docstring); everything else is the wrapped one's."""

    def __init__(self, searcher: Searcher, plan: BudgetPlan, default_points: list[dict[str, Any]] = ()):
        self.searcher, self.plan = searcher, plan
        self.default_points = [dict(p) for p in default_points]
        self.epoch_s: dict[str, list[float]] = {}  # trial -> its epochs' seconds
        self.best: dict[str, float] = {}  # trial -> best objective so far
        self.live: set[str] = set()
        self.defaults: set[str] = set()  # trials of the default config
        self.started = 0
        self.stopped: dict[str, Any] | None = None
        self.spent_s = plan.spent_s
        self._clock = time.monotonic()
        super().__init__(metric=searcher.metric, mode=searcher.mode)

    # --- the budget -------------------------------------------------------------------------------------
    def elapsed(self) -> float:
        return self.spent_s + time.monotonic() - self._clock

    def _epoch(self, trial_id: str) -> float | None:
        xs = self.epoch_s.get(trial_id)
        return statistics.median(xs) if xs else None

    def refit_estimate(self) -> float:
        """Seconds the refit would take if stage 1 stopped now (0 before any epoch has been timed)."""
        p = self.plan
        if not p.refit_rounds:
            return 0.0
        timed = {t: e for t in self.epoch_s if (e := self._epoch(t)) is not None}
        if not timed:
            return 0.0
        sampled = sorted((t for t in timed if t in self.best and t not in self.defaults), key=self.best.get)
        pick = [timed[t] for t in sampled[: p.refit_top]] + [timed[t] for t in self.defaults if t in timed]
        slowest = max(pick or [statistics.median(timed.values())])
        return p.refit_rounds * p.refit_epochs * p.refit_ratio * slowest

    def projected(self) -> float | None:
        """The search's projected wall time if one more trial started now (None before any epoch is timed)."""
        timed = [e for t in self.epoch_s if (e := self._epoch(t)) is not None]
        if not timed:
            return None
        e = self.plan.stage1_epochs
        new = e * statistics.median(timed)
        running = [(e - len(self.epoch_s.get(t, []))) * (self._epoch(t) or statistics.median(timed)) for t in self.live]
        return self.elapsed() + max([new, *running]) + self.refit_estimate() + RESERVE_S

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if self.stopped is None:
            projected = self.projected()
            if projected is not None and projected > self.plan.budget_s:
                self.stopped = {
                    "trials_started": self.started,
                    "elapsed_s": round(self.elapsed(), 1),
                    "refit_estimate_s": round(self.refit_estimate(), 1),
                    "projected_s": round(projected, 1),
                    "budget_s": self.plan.budget_s,
                }
                write_text(f"{self.plan.marker}/{MARKER}", json.dumps(self.stopped, indent=1))
        if self.stopped is not None:
            return Searcher.FINISHED
        config = self.searcher.suggest(trial_id)
        if config is not None and config != Searcher.FINISHED:
            self.started += 1
            self.live.add(trial_id)
            if any(all(config.get(k) == v for k, v in p.items()) for p in self.default_points if p):
                self.defaults.add(trial_id)
        return config

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        seconds = result.get("epoch_time_s", result.get("time_this_iter_s"))
        if seconds is not None and math.isfinite(seconds):
            self.epoch_s.setdefault(trial_id, []).append(float(seconds))
        value = result.get(self.searcher.metric)
        if value is not None and math.isfinite(value):
            self.best[trial_id] = min(value, self.best.get(trial_id, math.inf))
        self.searcher.on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        self.live.discard(trial_id)
        self.searcher.on_trial_complete(trial_id, result=result, error=error)

    # --- the wrapped searcher, as ray.tune.search.ConcurrencyLimiter delegates ------------------------------
    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        return self.searcher.set_search_properties(metric, mode, config, **spec)

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        return self.searcher.set_max_concurrency(max_concurrent)

    def add_evaluated_point(self, parameters, value, error=False, pruned=False, intermediate_values=None):
        return self.searcher.add_evaluated_point(parameters, value, error, pruned, intermediate_values)

    def get_state(self) -> dict:
        state = {k: v for k, v in self.__dict__.items() if k not in ("searcher", "_clock")}
        state["spent_s"] = self.elapsed()
        state["plan"] = asdict(self.plan)
        return json.loads(json.dumps(state, default=sorted))  # sets as lists: plain data

    def set_state(self, state: dict) -> None:
        state = dict(state)
        self.plan = BudgetPlan(**state.pop("plan"))
        self.__dict__.update(state)
        self.live, self.defaults = set(self.live), set(self.defaults)
        self._clock = time.monotonic()  # a resumed process counts on from the seconds spent

    def __setstate__(self, state: dict) -> None:  # unpickled with the experiment (Tuner.restore)
        self.__dict__.update(state)
        self._clock = time.monotonic()

    def save(self, checkpoint_path: str) -> None:
        self.searcher.save(checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        self.searcher.restore(checkpoint_path)


class RefitDeadline(Stopper):
    """Stage 2 under the budget: a refit stops after an epoch when its next one, taking as long as that epoch,
    would end more than ``allowance_s`` seconds after stage 2 began. The seconds spent and the refits stopped are
    kept in ``REFIT_MARKER`` under ``marker`` (the experiment), so a resumed refit goes on with what was left;
    the time between a crash and the resume is not counted, as in stage 1."""

    def __init__(self, allowance_s: float, marker: str, epochs: int):
        self.allowance_s, self.marker, self.epochs = float(allowance_s), marker, int(epochs)
        self.spent_s = 0.0
        self.stopped: dict[str, int] = {}  # trial -> the epochs it had run when stopped
        self._clock = time.monotonic()

    def spent(self) -> float:
        return self.spent_s + time.monotonic() - self._clock

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        seconds = result.get("epoch_time_s", result.get("time_this_iter_s"))
        epoch = int(result.get("training_iteration", 0))
        stop = (
            epoch < self.epochs  # after its last epoch a refit ends anyway: nothing cut
            and seconds is not None
            and math.isfinite(seconds)
            and self.spent() + float(seconds) > self.allowance_s
        )
        if stop:
            self.stopped[trial_id] = epoch
        self._write()
        return stop

    def stop_all(self) -> bool:
        return False

    def _write(self) -> None:
        state = {"allowance_s": round(self.allowance_s, 1), "spent_s": round(self.spent(), 1), "stopped": self.stopped}
        write_text(f"{self.marker}/{REFIT_MARKER}", json.dumps(state, indent=1))

    def __getstate__(self) -> dict:
        return {"allowance_s": self.allowance_s, "marker": self.marker, "epochs": self.epochs}

    def __setstate__(self, state: dict) -> None:  # unpickled with the experiment (Tuner.restore): on from the marker
        self.__init__(state["allowance_s"], state["marker"], state["epochs"])
        saved = refit_budget(self.marker)
        if saved:
            self.spent_s, self.stopped = float(saved["spent_s"]), {k: int(v) for k, v in saved["stopped"].items()}


def refit_budget(path: str) -> dict[str, Any] | None:
    """What ``RefitDeadline`` last wrote under the experiment ``path`` (None: stage 2 ran without a budget)."""
    text = read_text(f"{path}/{REFIT_MARKER}")
    return json.loads(text) if text else None
