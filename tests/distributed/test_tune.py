"""A small real search (Tune + OptunaSearch + ASHA on a local Ray): it completes, ASHA stops some trials, the best
trial exports and the exported folder predicts the same numbers as the trial's checkpoint. Resume: interrupt a
search, --resume, and no finished trial runs again."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.config import apply_overrides, config_from_dict
from distributed.cluster import concurrency
from distributed.export import best_checkpoint, export_best
from distributed.settings import SearchError, SearchSettings
from distributed.storage import resolve_storage
from distributed.tune import run_search
from tests.distributed.drivers import ctrl_c_when, tune_args

ROOT = Path(__file__).resolve().parents[2]
TINY = {"model.preset": "tiny", "train.batch_size": 16, "train.early_stopping": 0, "train.warmup_epochs": 0}


def _base(data_cfg):
    return apply_overrides(config_from_dict({"data": data_cfg.__dict__}), TINY)


def _settings(tmp_path, name: str, **kw) -> SearchSettings:
    """A search of the small space on this session's 2 CPUs, stored under ``tmp_path/name``."""
    return SearchSettings(space="loss_weights", storage=str(tmp_path), name=name, num_cpus=2, **kw)


def test_concurrency_from_resources():
    assert concurrency({"CPU": 1}, {"CPU": 2}) == 2
    assert concurrency({"CPU": 2, "GPU": 2, "trial_driver": 1}, {"CPU": 16, "GPU": 4, "trial_driver": 64}) == 2
    assert concurrency({"CPU": 1, "GPU": 1}, {"CPU": 8}) == 0  # no GPU: refused, never waits forever


def test_storage_paths_are_absolute_or_uris():
    # that a node-local folder is refused on a multi-node cluster is proven on a real one: test_cluster.py
    assert resolve_storage("relative/dir") == str(Path("relative/dir").resolve())  # Ray needs absolute paths
    assert resolve_storage("s3://bucket/xmlai/") == "s3://bucket/xmlai"


@pytest.mark.ray
def test_search_runs_asha_stops_some_and_best_exports(ray_session, data_cfg, tmp_path):
    s = _settings(tmp_path, "small", trials=6, epochs=4, grace_period=1, reduction_factor=2, seed=1)
    logs: list[str] = []
    res = run_search(_base(data_cfg), s, log=logs.append)
    assert res.counts["errors"] == 0 and res.counts["finished"] == 6, "\n".join(logs)
    assert res.counts["stopped_early"] >= 1  # ASHA stopped some trials before max_t
    assert res.epochs < 6 * 4
    assert "baseline" in logs[-1] and str(tmp_path / "small") in logs[-1]  # the final table
    assert any("running" in line for line in logs)  # live progress lines

    best = best_checkpoint(res.experiment_path)
    assert best["metrics"]["val_objective"] == pytest.approx(res.best["val_objective"])
    with pytest.raises(SearchError, match="--resume"):  # an existing experiment is never overwritten
        run_search(_base(data_cfg), s, log=logs.append)

    out = export_best(res.experiment_path, str(tmp_path / "model"), log=logs.append)
    from core.learn.checkpoint import load_checkpoint
    from core.serve.export import load_exported
    from core.serve.predict import Predictor

    exported = load_exported(out)
    model, cfg, scalers = load_checkpoint(best["checkpoint"])
    timeline = sorted(Path(data_cfg.data_dir).glob("synth_*.xml"))[0]
    a = exported.predict_file(timeline)[0]
    b = Predictor(model, cfg, scalers).predict_file(timeline)[0]
    np.testing.assert_allclose(a.values, b.values, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(a.keyframe_prob, b.keyframe_prob, rtol=1e-6, atol=1e-6)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["baseline"]["val_objective"] == 1.0 and (out / "model.ts").is_file()


def _finished_trials(exp: Path, max_t: int) -> dict[str, int]:
    """trial folder -> reported epochs, for trials whose last report reached max_t."""
    done = {}
    for f in exp.glob("trial_*/result.json"):
        epochs = [json.loads(line)["epoch"] for line in f.read_text().splitlines() if line.strip()]
        if epochs and epochs[-1] >= max_t:
            done[f.parent.name] = len(epochs)
    return done


@pytest.mark.ray
@pytest.mark.slow
def test_interrupt_and_resume(ray_session, data_cfg, tmp_path):
    """SIGINT a real `scripts/tune.py` run after a trial finished; --resume completes it without re-running it."""
    name, max_t = "resume", 3
    args = tune_args(
        data_cfg,
        *("--trials", "6", "--epochs", str(max_t), "--grace-period", str(max_t)),  # no early stop: all reach max_t
        *("--storage", str(tmp_path), "--name", name, "--num-cpus", "2", "--max-concurrent", "1"),
    )
    exp = tmp_path / name
    out = ctrl_c_when(args, tmp_path / "driver.log", lambda: len(_finished_trials(exp, max_t)) >= 1)
    before = _finished_trials(exp, max_t)
    assert before and len(before) < 6, out

    s = SearchSettings(storage=str(tmp_path), name=name, resume=True)
    res = run_search(config_from_dict({}), s, log=lambda line: None)  # settings and config come from the experiment
    after = _finished_trials(exp, max_t)
    assert len(after) == 6 and res.counts["finished"] == 6
    for trial, n in before.items():
        assert after[trial] == n  # a finished trial was not run again


@pytest.mark.ray
@pytest.mark.slow
def test_search_with_train_workers_exports_best(ray_session, data_cfg, tmp_path):
    """workers_per_trial=1: each trial drives a TorchTrainer (TuneReportCallback), checkpoints live in train_runs/."""
    s = _settings(tmp_path, "nested", trials=2, epochs=2, grace_period=2, workers_per_trial=1, cpus_per_worker=1.0)
    res = run_search(_base(data_cfg), s, log=lambda line: None)
    assert res.counts["finished"] == 2 and res.counts["errors"] == 0
    best = best_checkpoint(res.experiment_path)
    assert "/train_runs/" in best["checkpoint"]
    assert best["metrics"]["val_objective"] == pytest.approx(res.best["val_objective"])
    assert (export_best(res.experiment_path, str(tmp_path / "m"), log=lambda line: None) / "model.ts").is_file()
