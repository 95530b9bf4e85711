"""Trials that fail: a real search on a local Ray with faults injected into chosen trials at a chosen epoch (NaN loss,
exploding gradients, an exception, out of memory, a killed trial process). Each failing trial ends as an error with
its reason in the final table after its retries, the others finish, and a trial whose process was killed once is
retried from its last checkpoint and finishes (faults injected = faults survived where a retry can help)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import apply_overrides, config_from_dict
from distributed.settings import SearchError, SearchSettings
from distributed.tune import run_search
from tests.distributed.drivers import checkpoints_written

TINY = {"model.preset": "tiny", "train.batch_size": 16, "train.early_stopping": 0, "train.warmup_epochs": 0}


def _checkpoints(exp: Path) -> dict[int, list[dict]]:
    """trial index (creation order) -> where.json of its checkpoints, by epoch (a checkpoint reaches storage before
    its report; Tune may lose the report of a trial that fails right after it, never the checkpoint)."""
    return {cks[0]["trial_index"]: [{**c, "trial_id": t} for c in cks] for t, cks in checkpoints_written(exp).items()}


@pytest.mark.ray
def test_failing_trials_end_as_errors_with_their_reason_and_the_search_goes_on(ray_session, data_cfg, tmp_path):
    once = tmp_path / "exit-fired"
    faults = [
        "trial=0,epoch=2,kind=nan",
        "trial=1,epoch=2,kind=explode",
        "trial=2,epoch=2,kind=raise",
        "trial=3,epoch=2,kind=oom",
        f"trial=4,epoch=2,kind=exit,once={once}",
    ]
    s = SearchSettings(
        trials=6,
        space="loss_weights",
        epochs=2,
        grace_period=2,  # no early stopping: every healthy trial reaches epoch 2
        storage=str(tmp_path),
        name="faults",
        num_cpus=2,
        max_failures=1,
        fault="; ".join(faults),
    )
    logs: list[str] = []
    base = apply_overrides(config_from_dict({"data": data_cfg.__dict__}), TINY)
    res = run_search(base, s, log=logs.append)
    table = logs[-1]
    print(table)

    assert res.counts["errors"] == 4 and res.counts["finished"] == 2, table
    rows = {r["trial_id"]: r for r in res.rows}
    seen = _checkpoints(tmp_path / "faults")
    assert sorted(seen) == list(range(6))  # every trial accounted for
    expected = {
        0: "TrainingError: non-finite training loss",
        1: "TrainingError: non-finite gradient norm (exploding gradients)",
        2: "RuntimeError: injected fault raise",
        3: "TrainingError: out of memory at epoch 2",
    }
    for index, reason in expected.items():
        row = rows[seen[index][0]["trial_id"]]
        assert row["status"] == "error" and row["error"].startswith(reason), row
        assert row["error"] in table  # the reason is in the final table
        # epoch 1 was checkpointed once; the retry resumed from it and failed again at the start of epoch 2
        assert [c["epoch"] for c in seen[index]] == [1]

    # the killed trial process: retried from its epoch-1 checkpoint in a new process, and it finished
    killed = seen[4]
    assert once.exists() and rows[killed[0]["trial_id"]]["status"] == "done"
    assert [c["epoch"] for c in killed] == [1, 2]  # not restarted from epoch 1
    assert killed[0]["pid"] != killed[1]["pid"]  # epoch 2 ran in the new process
    assert [c["epoch"] for c in seen[5]] == [1, 2] and rows[seen[5][0]["trial_id"]]["status"] == "done"


def test_a_bad_fault_spec_fails_before_ray_starts(tmp_path):
    s = SearchSettings(trials=1, storage=str(tmp_path), name="bad", fault="trial=0,epoch=2,kind=melt")
    with pytest.raises(SearchError, match="kind must be one of"):
        run_search(config_from_dict({}), s, log=lambda line: None)
