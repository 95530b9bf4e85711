"""scripts/export_best.py on a scripts/train.py run (a search's experiment is tests/distributed/test_tune.py's):
the run's best checkpoint becomes a model folder that loads and predicts as the checkpoint does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import torch

from core.data.formats import read_file
from core.learn.checkpoint import load_checkpoint
from core.serve.export import load_exported
from core.serve.predict import Predictor
from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "export_best.py"


def _run(*args) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, cwd=ROOT, timeout=300, env=env
    )


def test_a_training_run_exports_its_best_checkpoint(realworld_dir, tiny_model, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(tiny_model.parent / "run", run_dir)  # a copy: the default output lands inside the run
    proc = _run(run_dir)
    assert proc.returncode == 0, proc.stderr
    out = run_dir / "best_model"
    assert str(out) in proc.stdout and "val_objective" in proc.stdout
    best = json.loads((run_dir / "checkpoints" / "best" / "metrics.json").read_text())
    assert json.loads((out / "metrics.json").read_text())["model"]["val_objective"] == best["val_objective"]
    # the export predicts what the checkpoint predicts, eager and TorchScript
    (tl,) = read_file(realworld_dir / "xmeml" / "otio-fcp-adapter__premiere_example.xml")
    want = Predictor(*load_checkpoint(run_dir / "checkpoints" / "best")).predict_timeline(tl)
    for predictor in (load_exported(out), load_exported(out, torchscript=True)):
        got = predictor.predict_timeline(tl)
        torch.testing.assert_close(torch.as_tensor(got.values), torch.as_tensor(want.values), equal_nan=True)
        torch.testing.assert_close(torch.as_tensor(got.keyframe_prob), torch.as_tensor(want.keyframe_prob))
    # --out elsewhere; and a folder that is neither a run nor an experiment is a clear error
    assert _run(run_dir, "--out", tmp_path / "m").returncode == 0 and (tmp_path / "m" / "xmlai.json").is_file()
    proc = _run(tmp_path / "m")  # an exported model is not a run
    assert proc.returncode != 0 and "error" in proc.stderr.lower()


def test_two_runs_export_as_one_model_that_predicts_their_mean(realworld_dir, tiny_model, tmp_path):
    """The default model and one trained with loss.programme_floor on the same data: their mean is one model
    folder, scored beside its members on the split's validation files; a run on other data is refused."""
    from core.learn.ensemble import MeanModel
    from tests.core.serve._tiny import train_tiny_model

    a = tiny_model.parent / "run"
    b = train_tiny_model(tmp_path / "b", {"loss": {"programme_floor": 0.1}, "train": {"seed": 2}}).parent / "run"
    out = tmp_path / "mean"
    proc = _run(a, b, "--out", out, "--draws", "2")
    assert proc.returncode == 0, proc.stderr
    scored = [line for line in proc.stdout.splitlines() if "structure only /" in line]
    assert len(scored) == 3 and "their mean" in scored[2], proc.stdout
    # the figures are the split's own: a member scores what its training's validation said
    metrics = json.loads((out / "metrics.json").read_text())["model"]
    for i, run in enumerate((a, b)):
        trained = json.loads((run / "checkpoints" / "best" / "metrics.json").read_text())
        assert abs(metrics["members"][str(i)]["val_objective"] - trained["val_objective"]) < 1e-4
    assert 0 < metrics["val_objective_vs_data"] and 0 < metrics["val_objective_ctx_vs_data"]
    card = (out / "MODEL_CARD.md").read_text()
    assert str(a / "checkpoints" / "best") in card and str(b / "checkpoints" / "best") in card
    assert "| this model |" in card and "programme_floor: 0.1" in (out / "members" / "1" / "config.yaml").read_text()
    # the folder predicts what the mean of the two checkpoints predicts, eager and TorchScript
    (tl,) = read_file(realworld_dir / "xmeml" / "otio-fcp-adapter__premiere_example.xml")
    (ma, cfg, scalers), (mb, _, _) = (load_checkpoint(r / "checkpoints" / "best") for r in (a, b))
    want = Predictor(MeanModel([ma, mb]), cfg, scalers).predict_timeline(tl)
    alone = Predictor(ma, cfg, scalers).predict_timeline(tl)
    assert not np.allclose(np.nan_to_num(alone.values), np.nan_to_num(want.values))  # b counts
    for predictor in (load_exported(out), load_exported(out, torchscript=True)):
        got = predictor.predict_timeline(tl)
        torch.testing.assert_close(torch.as_tensor(got.values), torch.as_tensor(want.values), equal_nan=True)
        torch.testing.assert_close(torch.as_tensor(got.keyframe_prob), torch.as_tensor(want.keyframe_prob))
    # weights, and no scoring: nothing but the weights and the sources in the folder's metrics
    proc = _run(a, b, "--out", tmp_path / "w", "--weights", "1", "3", "--no-eval")
    assert proc.returncode == 0, proc.stderr
    meta = json.loads((tmp_path / "w" / "xmlai.json").read_text())
    assert [m["weight"] for m in meta["members"]] == [0.25, 0.75] and "structure only" not in proc.stdout
    # a run trained on other data is named; several paths need --out
    c = train_tiny_model(tmp_path / "c", {"data": {"synth_count": 10}}).parent / "run"
    proc = _run(a, c, "--out", tmp_path / "bad")
    assert proc.returncode == 2 and f"{c / 'checkpoints' / 'best'}: trained on other data" in proc.stderr
    assert not (tmp_path / "bad" / "weights.pt").exists()
    assert _run(a, b).returncode == 2
