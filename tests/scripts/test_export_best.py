"""scripts/export_best.py on a scripts/train.py run (a search's experiment is tests/distributed/test_tune.py's):
the run's best checkpoint becomes a model folder that loads and predicts as the checkpoint does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

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
