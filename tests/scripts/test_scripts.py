"""The single-node entry points as a user runs them: subprocesses from the repo root."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path = ROOT, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def train_tiny(data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    """``scripts/train.py`` for one epoch of the tiny model on the exports in ``data``."""
    return run(
        *("scripts/train.py", "--data", str(data), "--no-progress", "--out", str(out)),
        *("--model.preset", "tiny", "--train.epochs", "1", *extra),
    )


def test_train_debug_then_resume_then_annotate(tmp_path):
    out = tmp_path / "run"
    cache = tmp_path / "cache"
    # progress on (the default) with stdout and stderr going to files, as in a log: no bar, so no '\r'
    with open(tmp_path / "stdout.log", "w") as so, open(tmp_path / "stderr.log", "w") as se:
        code = subprocess.run(
            [sys.executable, "scripts/train.py", "--debug", "--out", str(out), "--data.cache_dir", str(cache)],
            cwd=ROOT,
            stdout=so,
            stderr=se,
            timeout=600,
        ).returncode
    stdout, stderr = (tmp_path / "stdout.log").read_text(), (tmp_path / "stderr.log").read_text()
    assert code == 0, stderr[-3000:]
    assert "\r" not in stdout and "\r" not in stderr
    assert stdout.count("train_loss") == 2  # one report per epoch is the progress in a file
    for needle in ("val_objective", "ratios", "MAE", "keyframe F1", "baseline", "best epoch"):
        assert needle in stdout, needle
    assert (out / "checkpoints" / "best" / "state.pt").is_file()
    assert (out / "config.yaml").is_file()
    # --resume with more epochs continues at epoch 3, not 1
    r = run("scripts/train.py", "--resume", str(out), "--no-progress", "--train.epochs", "3")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resumed from" in r.stdout and "epoch   3" in r.stdout and "epoch   1" not in r.stdout
    # annotate a generated timeline with the checkpoint's exported model
    from core.serve.export import export_model

    model_dir = export_model(out / "checkpoints" / "best", tmp_path / "model")
    xml = sorted(cache.rglob("synth_00000.xml"))[0]
    r = run("scripts/annotate.py", str(xml), "--model", str(model_dir), "--json", "--out", str(tmp_path / "a.xml"))
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads(r.stdout)
    clips = [c for tr in doc[0]["tracks"] for c in tr["clips"]]
    assert any(c["curves"] for c in clips)  # predicted curves, not only the (always present) empty dicts
    from core.data.formats import read_file

    assert read_file(tmp_path / "a.xml")[0].name == doc[0]["name"]


def test_train_reports_bad_files_and_goes_on(tmp_path):
    data = tmp_path / "exports"
    data.mkdir()
    from core.data.formats.xmeml_writer import write_xmeml
    from core.data.synth import generate_timeline

    for i in range(8):
        (data / f"good_{i}.xml").write_bytes(write_xmeml(generate_timeline(100 + i)))
    (data / "broken.xml").write_bytes(b"<xmeml><sequence>")
    (data / "evil.xml").write_bytes(
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xmeml>&e;</xmeml>'
    )
    r = train_tiny(
        data,
        tmp_path / "run",
        "--data.window",
        "50",
        "--data.val_fraction",
        "0.3",
        "--data.cache_dir",
        str(tmp_path / "cache"),
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "2 file(s) could not be used" in r.stderr
    assert "broken.xml: " in r.stderr and "evil.xml: " in r.stderr
    assert "root:" not in r.stdout + r.stderr  # /etc/passwd was never read
    assert "data: 10 files, 8 timelines" in r.stdout


def test_bad_config_is_a_clear_error(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model:\n  d_modle: 64\n")
    r = run("scripts/train.py", "--config", str(cfg))
    assert r.returncode == 2
    assert "unknown config key model.d_modle" in r.stderr


@pytest.mark.slow
def test_default_training_reaches_the_quality_figures(tmp_path):
    """`python scripts/train.py` with no arguments on the built-in corpus v3 (several minutes on 2 cores).

    Structure only, the model closes at least 60 % of the gap between the constant and the corpus's own
    noise floor on the heads the floor covers (0.780; a run closed 73 %: most of what an editor sets is a
    habit only the given clips reveal); with half the clips given it meets issue 6's <= 0.60. Per-head
    bounds: what a full run reached (benchmarks/RESULTS.md) with a margin."""
    r = run("scripts/train.py", "--no-progress", "--out", str(tmp_path / "run"), timeout=3600)
    assert r.returncode == 0, r.stderr[-3000:]
    best = json.loads((tmp_path / "run" / "checkpoints" / "best" / "metrics.json").read_text())
    assert best["gap_closed"] >= 0.6
    assert best["val_objective_ctx"] <= 0.60
    assert best["ratio/scale"] <= 0.85 and best["ratio/interpolation"] <= 0.7
    assert best["ratio/keyframe"] <= 0.95
    assert best["ctx_ratio/pan"] <= 0.3 and best["ctx_ratio/level_db"] <= 0.6  # track habits, from the given clips


REAL_SMALL = (
    "xmeml/xmeml__fcp.sample.xml",
    "xmeml/xmeml__Conecta_Test_XML.xml",
    "xmeml/otio-fcp-adapter__premiere_example.xml",
    "xmeml/xmeml__DNPR63700211_Bare_musikk-timeline.xml",
    "fcpxml/pipeline-neo__TimelineSample.fcpxml",
    "mlt/Shotcut-Autoexporter__media.mlt",
)


def test_train_and_evaluate_on_a_small_real_folder(tmp_path, realworld_dir):
    """Train briefly on a few real exports (linked, never copied), then scripts/evaluate.py on them."""
    from core.data.preprocess import split_of

    data = tmp_path / "exports"
    for rel in REAL_SMALL:
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        (data / rel).symlink_to(realworld_dir / rel)
    # a split seed that puts files on both sides (by file: five programmes of six small files)
    seed = next(s for s in range(50) if len({split_of(n, 0.4, s) for n in REAL_SMALL}) == 2)
    common = ["--data.cache_dir", str(tmp_path / "cache"), "--data.window", "50"]
    r = train_tiny(
        data,
        tmp_path / "run",
        "--data.split_by",
        "file",
        "--data.val_fraction",
        "0.4",
        "--data.split_seed",
        str(seed),
        *common,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "vs the best constant for the validation data" in r.stdout
    assert "against the validation files' own best constant (below 1 is better): " in r.stdout  # the last word
    run_dir = str(tmp_path / "run")
    r = run("scripts/evaluate.py", run_dir, "--data", str(data), "--context", "0.5", "--json", "--per-file", "3")
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads(r.stdout)
    # the files that carry the figures: three of the folder's, largest share first
    shares = [row["share"] for row in doc["per_file"]]
    assert len(shares) == 3 and shares == sorted(shares, reverse=True)
    assert {row["name"] for row in doc["per_file"]} <= set(REAL_SMALL)
    assert doc["files"] == len(REAL_SMALL) and doc["context"] == 0.5 and doc["windows"] > 0
    assert doc["draws"] == 5 and len(doc["per_draw"]) == 5  # with clips given: the mean of five draws by default
    assert doc["objective_vs_data_constant"] > 0
    heads = ("scale", "rotation", "center_x", "center_y", "opacity", "level_db", "pan", "keyframe", "interpolation")
    assert set(doc["heads"]) == set(heads)
    for h in heads:
        row = doc["heads"][h]
        for name in ("train_constant", "data_constant", "editor_default", "same_track"):
            assert row[f"ratio_vs_{name}"] is None or row[f"ratio_vs_{name}"] > 0, (h, name)
    # the data constant against itself is 1 on every head; the objective is the mean of the head ratios
    const = doc["comparators"]["data_constant"]
    assert const["objective_vs_data_constant"] == pytest.approx(1.0)
    ratios = [v["ratio_vs_data_constant"] for v in doc["heads"].values() if v["ratio_vs_data_constant"] is not None]
    assert doc["objective_vs_data_constant"] == pytest.approx(sum(ratios) / len(ratios), rel=1e-6)
    # the human-readable report names every comparator
    r = run("scripts/evaluate.py", str(tmp_path / "run" / "checkpoints" / "best"), "--data", str(data))
    assert r.returncode == 0, r.stderr[-3000:]
    for needle in ("train const", "data const", "editor dflt", "same_track", "objective", "keyframe F1"):
        assert needle in r.stdout, needle


def test_evaluate_names_what_is_wrong(tmp_path):
    r = run("scripts/evaluate.py", str(tmp_path), "--data", str(tmp_path))
    assert r.returncode == 1 and "neither an exported model" in r.stderr
    r = run("scripts/evaluate.py", str(tmp_path), "--data", str(tmp_path / "missing"))
    assert r.returncode == 2 and "is not a folder" in r.stderr


def test_train_with_average_with_trains_two_models_and_exports_their_mean(tmp_path):
    out, cache = tmp_path / "run", tmp_path / "cache"
    common = ("scripts/train.py", "--debug", "--no-progress", "--out", str(out), "--data.cache_dir", str(cache))
    # a wrong key fails before anything trains; a malformed item is a usage error
    r = run(*common, "--average-with", "loss.programme_flor=0.1")
    assert r.returncode != 0 and "programme_flor" in r.stderr and not (out / "checkpoints").exists()
    r = run(*common, "--average-with", "programme_floor")
    assert r.returncode == 2 and "SECTION.KEY=VALUE" in r.stderr
    r = run(*common, "--average-with", "loss.programme_floor=0.1", "train.seed=3")
    assert r.returncode == 0, r.stderr[-3000:]
    assert (out / "checkpoints" / "best" / "state.pt").is_file()
    assert (out / "average_with" / "checkpoints" / "best" / "state.pt").is_file()
    second = (out / "average_with" / "config.yaml").read_text()
    assert "programme_floor: 0.1" in second and "seed: 3" in second
    assert "their mean:" in r.stdout and "the best member" in r.stdout
    meta = json.loads((out / "mean_model" / "xmlai.json").read_text())
    assert [m["source"] for m in meta["members"]] == [
        f"run {out / 'checkpoints' / 'best'}",
        f"run {out / 'average_with' / 'checkpoints' / 'best'}",
    ]
    metrics = json.loads((out / "mean_model" / "metrics.json").read_text())["model"]
    assert set(metrics["members"]) == {"0", "1"} and metrics["val_objective_vs_data"] > 0
