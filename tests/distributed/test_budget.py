"""The search's wall-time budget (``--time-budget``): stage 1 stops sampling once the refit, estimated from
stage 1's own epoch times, would not fit; the clock survives a resume; a real search under a budget goes on
to the refit with the trials it has and says so."""

from __future__ import annotations

import json
import re

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from core.config import apply_overrides, config_from_dict
from distributed.budget import (
    MARKER,
    REFIT_MARKER,
    RESERVE_S,
    VAL_COST,
    BudgetedSearcher,
    BudgetPlan,
    RefitDeadline,
    epoch_work,
    overruns,
    trials_due,
)
from distributed.settings import SearchError, SearchSettings

SPACE = {"lr": FloatDistribution(1e-4, 1e-2, log=True), "width": CategoricalDistribution([16, 32])}
DEFAULT = {"lr": 1e-3, "width": 32}


def _plan(tmp_path, **kw) -> BudgetPlan:
    plan = dict(
        budget_s=200.0,
        spent_s=0.0,
        stage1_epochs=3,
        refit_ratio=10.0,
        refit_epochs=2,
        refit_rounds=1,
        refit_top=1,
        marker=str(tmp_path),
    )
    return BudgetPlan(**{**plan, **kw})


def _searcher(tmp_path, **kw) -> BudgetedSearcher:
    inner = OptunaSearch(SPACE, metric="val_objective", mode="min", points_to_evaluate=[dict(DEFAULT)], seed=0)
    return BudgetedSearcher(inner, _plan(tmp_path, **kw), [DEFAULT])


def _epochs(searcher, trial_id, seconds, values):
    done = len(searcher.epoch_s.get(trial_id, []))
    for i, (s, v) in enumerate(zip(seconds, values)):
        epoch = done + i + 1
        searcher.on_trial_result(
            trial_id, {"epoch_time_s": s, "val_objective": v, "epoch": epoch, "training_iteration": epoch}
        )


def test_epoch_work_counts_drawn_and_validation_windows():
    meta = {"n_train_windows": 3168, "n_val_windows": 728}
    assert epoch_work(meta, 0, 100) == pytest.approx((3168 + VAL_COST * 728) * 100)  # 0: every window
    assert epoch_work(meta, 256, 50) == pytest.approx((256 + VAL_COST * 728) * 50)
    # train.val_windows caps the structure-only pass, half the validation's cost; a cap above the count changes nothing
    assert epoch_work(meta, 256, 50, 300) == pytest.approx((256 + VAL_COST / 2 * (300 + 728)) * 50)
    assert epoch_work(meta, 256, 50, 2048) == epoch_work(meta, 256, 50)
    # the laptop search's stage-1 data (1,328 / 321 windows of 50 steps, 256 an epoch) against the built-in
    # default's: the ratio the budget uses, within 10 % of the 17.9-18.3x measured on those two (budget.py)
    ratio = epoch_work(meta, 0, 100) / epoch_work({"n_train_windows": 1328, "n_val_windows": 321}, 256, 50)
    assert 16.5 < ratio < 19.7


def test_refit_estimate_is_the_slowest_of_what_the_refit_would_train(tmp_path):
    b = _searcher(tmp_path)
    assert b.refit_estimate() == 0.0 and b.projected() is None  # nothing timed: no stop yet
    default, fast_best, slow_worse = (b.suggest(t) for t in ("d", "a", "b"))
    assert default == DEFAULT and b.defaults == {"d"} and fast_best and slow_worse
    _epochs(b, "d", [1.0, 1.0], [0.9, 0.9])
    _epochs(b, "a", [3.0, 2.0, 2.0], [0.8, 0.7, 0.6])  # the best: refit_top 1 picks it (median epoch 2 s)
    _epochs(b, "b", [5.0], [0.95])  # slower, but not among what the refit trains
    assert b.refit_estimate() == pytest.approx(1 * 2 * 10.0 * 2.0)  # rounds x epochs x ratio x slowest picked
    b.plan.refit_top = 2  # now the slow one is refitted too
    assert b.refit_estimate() == pytest.approx(2 * 10.0 * 5.0)
    b.plan.refit_rounds = 0  # no refit
    assert b.refit_estimate() == 0.0


def test_sampling_stops_when_the_refit_would_not_fit_and_says_so(tmp_path):
    b = _searcher(tmp_path, budget_s=200.0)
    assert b.suggest("d") == DEFAULT
    _epochs(b, "d", [1.0], [0.9])
    b.on_trial_complete("d", {"val_objective": 0.9})
    # projected: spent + a new trial's 3 epochs of 1 s + the refit's 2 x 10 x 1 s + the reserve
    assert b.projected() == pytest.approx(3.0 + 20.0 + RESERVE_S, abs=0.5)
    assert isinstance(b.suggest("a"), dict)  # 83 s of 200: goes on
    b.spent_s += 150.0  # as if 150 s had gone by: 233 s projected
    assert b.suggest("b") == Searcher.FINISHED
    assert b.suggest("c") == Searcher.FINISHED  # and stays finished
    stop = json.loads((tmp_path / MARKER).read_text())
    assert stop["trials_started"] == 2 and stop["budget_s"] == 200.0
    assert stop["projected_s"] > 200.0 and stop["refit_estimate_s"] == pytest.approx(20.0)
    assert overruns(stop)  # 150 s spent + the refit's 20 + the reserve's 60: over 200 even without a new trial
    assert not overruns({**stop, "elapsed_s": 100.0})  # there only a new trial would not have fitted
    # stage 1 is complete once the two started trials have ended, not all of --trials
    assert trials_due(64, stop) == 2 and trials_due(64, None) == 64


def test_a_running_trials_remaining_epochs_count_too(tmp_path):
    b = _searcher(tmp_path, budget_s=200.0, refit_rounds=0)
    b.suggest("d")
    b.suggest("a")
    _epochs(b, "d", [1.0], [0.9])  # d: 2 epochs left at 1 s
    _epochs(b, "a", [30.0], [0.8])  # a: 2 epochs left at 30 s: the stage ends when it does
    assert b.projected() == pytest.approx(60.0 + RESERVE_S, abs=0.5)


def test_the_clock_and_the_stop_survive_a_resume(tmp_path):
    b = _searcher(tmp_path, budget_s=1000.0, spent_s=40.0)
    b.suggest("d")
    _epochs(b, "d", [1.0, 1.0], [0.9, 0.8])
    state = b.get_state()
    assert json.loads(json.dumps(state)) == state  # plain data
    again = _searcher(tmp_path, budget_s=1.0)  # what Tuner.restore unpickles, then set_state
    again.set_state(state)
    assert again.plan.budget_s == 1000.0 and again.defaults == {"d"} and again.live == {"d"}
    assert 40.0 <= again.elapsed() < 45.0  # counts on from the seconds spent, not from the first start
    assert again.refit_estimate() == pytest.approx(b.refit_estimate())
    b.spent_s = 10_000.0
    assert b.suggest("x") == Searcher.FINISHED
    stopped = _searcher(tmp_path)
    stopped.set_state(b.get_state())
    assert stopped.suggest("y") == Searcher.FINISHED


def test_a_refit_stops_when_its_next_epoch_would_end_past_the_allowance_and_a_restore_counts_on(tmp_path):
    import pickle

    d = RefitDeadline(100.0, str(tmp_path), epochs=6)
    assert d("a", {"epoch_time_s": 30.0, "training_iteration": 1}) is False
    d.spent_s = 60.0  # 60 s spent: a 30-s epoch still ends in time, a 50-s one would not
    assert d("a", {"epoch_time_s": 30.0, "training_iteration": 2}) is False
    assert d("b", {"epoch_time_s": 50.0, "training_iteration": 1}) is True and d.stopped == {"b": 1}
    assert d.stop_all() is False
    saved = json.loads((tmp_path / REFIT_MARKER).read_text())
    assert saved["allowance_s"] == 100.0 and saved["stopped"] == {"b": 1} and 60.0 <= saved["spent_s"] < 61.0
    again = pickle.loads(pickle.dumps(d))  # what Tuner.restore does: on from the marker's seconds, not from 0
    assert again.allowance_s == 100.0 and again.stopped == {"b": 1} and 60.0 <= again.spent() < 61.0
    assert again("c", {"epoch_time_s": 45.0, "training_iteration": 1}) is True
    # a refit past the allowance at its last epoch ends anyway: not stopped, not reported as cut
    assert again("d", {"epoch_time_s": 45.0, "training_iteration": 6}) is False and "d" not in again.stopped


def test_time_budget_must_be_positive():
    with pytest.raises(SearchError, match="time-budget"):
        SearchSettings(time_budget_min=0)
    assert SearchSettings(time_budget_min=0.5).time_budget_min == 0.5


@pytest.mark.ray
def test_a_search_under_a_budget_refits_with_the_trials_it_has(ray_session, data_cfg, tmp_path):
    from distributed.refit import search_and_refit

    tiny = {"model.preset": "tiny", "train.batch_size": 16, "train.early_stopping": 0, "train.warmup_epochs": 0}
    base = apply_overrides(config_from_dict({"data": data_cfg.__dict__}), tiny)
    full = apply_overrides(config_from_dict({"data": data_cfg.__dict__}), {**tiny, "train.epochs": 2})
    # half a minute is less than the reserve alone: the first timed epoch stops the sampling
    s = SearchSettings(
        trials=8, space="loss_weights", epochs=2, storage=str(tmp_path), name="tb", num_cpus=2, time_budget_min=0.5
    )
    logs: list[str] = []
    res, refit = search_and_refit(base, full, s, log=logs.append, report=False)
    stop = json.loads((tmp_path / "tb" / MARKER).read_text())
    started = stop["trials_started"]
    assert 1 <= started < 8 and len(res.rows) == started, (stop, len(res.rows))
    said = [line for line in logs if line.startswith("stage 1: the time budget stopped sampling")]
    assert len(said) == 1 and f"after {started} of 8 trials" in said[0], logs
    assert not any("interrupted" in line for line in logs)
    # half a minute cannot hold even the reserve: the search says it will overrun, and what to change
    assert any("the refit alone will overrun the 0.5-min budget" in line for line in logs), logs
    # the refit ran on what stage 1 had, and exported; the budget was spent, so each refit stopped after one epoch
    assert refit is not None and refit.export_dir and (tmp_path / "tb" / "stage1.json").is_file()
    cut = json.loads((tmp_path / "tb" / REFIT_MARKER).read_text())
    assert cut["allowance_s"] < 0 and sorted(cut["stopped"].values()) == [1, 1], cut
    assert [row["epochs"] for row in refit.rows] == [1, 1]
    assert any(line.startswith("refit: the time budget stopped 2 refit(s) early") for line in logs), logs
    assert any(re.match(r"wall time \d+\.\d min \(this process\) against a budget of 0.5 min", x) for x in logs)
    assert logs[-1].startswith("refit best ")


def _budget_state(exp) -> dict:
    """The budget's part of Tune's newest saved search state (SearchGenerator keeps each wrapper's state). Tune
    pickles that file; this test reads the one its own search wrote moments before."""
    import pickle

    newest = max(exp.glob("search_gen_state-*.json"))  # one per driver session, named by its start time
    return pickle.loads(newest.read_bytes())["name:BudgetedSearcher"]


@pytest.mark.ray
def test_a_budgeted_search_interrupted_and_resumed_keeps_its_clock(ray_session, data_cfg, tmp_path):
    """Ctrl-C a real budgeted `scripts/tune.py` after a trial finished; --resume restores the budget through Tune's
    wrapper chain (ConcurrencyLimiter -> BudgetedSearcher -> OptunaSearch) and counts on from the time spent."""
    from distributed.refit import search_and_refit
    from tests.distributed.drivers import ctrl_c_when, finished_trials, tune_args

    name = "tbr"
    args = tune_args(
        data_cfg,
        *("--trials", "4", "--epochs", "2", "--grace-period", "2", "--time-budget", "100"),
        *("--storage", str(tmp_path), "--name", name, "--num-cpus", "2", "--max-concurrent", "1"),
    )
    exp = tmp_path / name
    out = ctrl_c_when(args, tmp_path / "driver.log", lambda: bool(finished_trials(exp)))
    assert "time budget 100.0 min for the whole search" in out, out
    before = _budget_state(exp)
    assert before["plan"]["budget_s"] == 6000.0 and before["stopped"] is None and before["spent_s"] > 0

    logs: list[str] = []
    s = SearchSettings(storage=str(tmp_path), name=name, resume=True)
    res, _ = search_and_refit(config_from_dict({}), config_from_dict({}), s, log=logs.append, report=False)
    assert res.counts["finished"] == 4, logs
    after = _budget_state(exp)
    assert after["plan"] == before["plan"] and after["spent_s"] > before["spent_s"]
    assert after["started"] == 4  # every trial started once, over the two processes
    assert not (exp / MARKER).exists()  # 100 minutes were never at risk
