"""benchmarks/val_subset.py on three real tiny runs laid out as a search's trials: all windows score each trial
as its own training loop did, a cap at or above the count changes nothing, and a smaller cap scores other
windows."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from core.config import config_from_dict
from core.data.preprocess import prepare
from core.learn.train_loop import LocalHooks, train
from tests.core.learn._runs import TINY

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "val_subset.py"
_spec = importlib.util.spec_from_file_location("val_subset", _PATH)
val_subset = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(val_subset)


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    """EXPERIMENT/trial_<seed>/checkpoint_000000 of three one-epoch runs that differ by their seed, and each
    run's own val_objective."""
    root = tmp_path_factory.mktemp("val_subset")
    cfg = config_from_dict({**TINY, "data": {**TINY["data"], "cache_dir": str(root / "cache")}})
    data = prepare(cfg.data)
    own = {}
    for seed in (1, 2, 3):
        run_cfg = config_from_dict({**cfg.to_dict(), "train": {**cfg.to_dict()["train"], "epochs": 1, "seed": seed}})
        run = root / f"run{seed}"
        train(run_cfg, data, LocalHooks(run), progress=False, log=lambda s: None)
        best = run / "checkpoints" / "best"
        shutil.copytree(best, root / "exp" / f"trial_{seed}" / "checkpoint_000000")
        own[f"trial_{seed}"] = json.loads((best / "metrics.json").read_text())["val_objective"]
    return root / "exp", own, len(data.val["features"])


def test_all_windows_score_as_training_did_and_a_cap_above_the_count_changes_nothing(experiment):
    exp, own, total = experiment
    cks = val_subset.last_checkpoints(exp)
    assert sorted(cks) == ["trial_1", "trial_2", "trial_3"]
    table = val_subset.scores(cks, [total, total // 3], log=lambda s: None)
    for name, value in own.items():  # the training loop's own structure-only objective, on every window
        assert table.loc[name, 0] == pytest.approx(value, rel=1e-4)
    assert table[total].tolist() == table[0].tolist()  # a cap at the count is every window
    same = val_subset.agreement(table, total)
    assert same == {"spearman": pytest.approx(1.0), "mean_diff": 0.0, "max_diff": 0.0, "same_best": True}
    part = val_subset.agreement(table, total // 3)
    assert part["max_diff"] > 0  # a third of the windows scores otherwise
    assert part["mean_diff"] <= part["max_diff"] and -1.0 <= part["spearman"] <= 1.0


def test_an_experiment_without_two_checkpointed_trials_is_refused(tmp_path, capsys):
    assert val_subset.main([str(tmp_path)]) == 2
    assert "needs at least two trials with a checkpoint, found 0" in capsys.readouterr().out
