"""scripts/annotate.py as a user runs it: a subprocess from the repo root, a real tiny model,
real exports of each dialect."""

from __future__ import annotations

import os
import subprocess
import sys

from core.data.formats import read_file
from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "annotate.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # a shared 2-core machine: one torch thread is faster
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, cwd=ROOT, timeout=300, env=env
    )


def test_dry_run_prints_what_would_change_and_writes_nothing(realworld_dir, tiny_model, tmp_path):
    path = realworld_dir / "fcpxml" / "pipeline-neo__TimelineSample.fcpxml"
    out = tmp_path / "out.fcpxml"
    proc = _run(path, "--model", tiny_model, "--dry-run", "--out", out)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["track", "clip", "parameter", "keys", "values", "note"]
    rows = [line.split() for line in lines[1:-1]]
    assert rows and all(r[r.index("->") - 1] == "0" for r in rows)  # given curves are never in the table
    # a written row shows the predicted value in the parameter's units after its key counts
    written = [r for r in rows if r[r.index("->") + 1] != "0"]
    assert written
    for r in written:
        rest = r[r.index("->") + 2 :]  # "v [unit]" for one key, "first -> last [unit]" for more
        values = [rest[0], rest[2]] if rest[1:2] == ["->"] else [rest[0]]
        [float(v) for v in values]  # numbers, then the unit where the parameter has one
        if r[r.index("->") - 2] in ("scale", "opacity"):
            assert rest[len(values) * 2 - 1] == "%"
    assert "parameter(s) of" in lines[-1]
    assert not out.exists()


def test_out_writes_the_inputs_dialect_limited_to_params(realworld_dir, tiny_model, tmp_path):
    path = realworld_dir / "mlt" / "kdenlive-test-suite__audio-mix.kdenlive"
    out = tmp_path / "out.kdenlive"
    proc = _run(path, "--model", tiny_model, "--params", "level_db,pan", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes().lstrip().startswith(b"<?xml") and b"<mlt" in out.read_bytes()[:400]
    before, after = read_file(path), read_file(out)
    new = set()
    for tl_a, tl_b in zip(before, after):
        assert tl_b.dialect == "mlt"
        for (_, ca), (_, cb) in zip(tl_a.iter_clips(), tl_b.iter_clips()):
            assert (ca.start, ca.end) == (cb.start, cb.end)
            for p, curve in ca.curves.items():
                assert cb.curves[p].keys == curve.keys
            new |= set(cb.curves) - set(ca.curves)
    assert new and new <= {"level_db", "pan"}


def test_xmeml_in_xmeml_out(realworld_dir, tiny_model, tmp_path):
    path = realworld_dir / "xmeml" / "otio-fcp-adapter__premiere_example.xml"
    out = tmp_path / "out.xml"
    proc = _run(path, "--model", tiny_model, "--out", out, "--json")
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes().startswith(path.read_bytes()[:60])  # the prolog is the input's
    (tl,) = read_file(out)
    assert tl.dialect == "xmeml" and any(c.curves for _, c in tl.iter_clips())
    assert '"curves"' in proc.stdout


def test_bad_arguments_are_clear_errors(realworld_dir, tiny_model):
    path = realworld_dir / "xmeml" / "xmeml__Fade_inn_og_ut.xml"
    proc = _run(path, "--model", tiny_model, "--params", "volume")
    assert proc.returncode == 2 and "unknown parameter(s) ['volume']" in proc.stderr and "level_db" in proc.stderr
    proc = _run(path, "--model", tiny_model, "--out", path)
    assert proc.returncode == 2 and "is the input file" in proc.stderr


def test_a_training_run_annotates_as_its_export_does(realworld_dir, tiny_model, tmp_path):
    """`--model RUN` (a scripts/train.py run folder) predicts from the run's best checkpoint: the same curves as the
    model exported from it, with no export step; TorchScript needs the export, and a folder that is neither says so."""
    run_dir = tiny_model.parent / "run"  # train_tiny_model trains there and exports its checkpoints/best
    path = realworld_dir / "xmeml" / "otio-fcp-adapter__premiere_example.xml"
    from_run, from_export = _run(path, "--model", run_dir, "--json"), _run(path, "--model", tiny_model, "--json")
    assert from_run.returncode == 0 and from_export.returncode == 0, from_run.stderr + from_export.stderr
    assert '"curves"' in from_run.stdout and from_run.stdout == from_export.stdout
    proc = _run(path, "--model", run_dir, "--torchscript")
    assert proc.returncode == 1 and "export it first" in proc.stderr
    proc = _run(path, "--model", tmp_path)
    assert proc.returncode == 1 and "neither an exported model" in proc.stderr and str(tmp_path) in proc.stderr
