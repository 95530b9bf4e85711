"""Search, then refit (real local Ray, real Optuna): stage 2 retrains the best stage-1 configurations and the
default config on the same data and budget, exports the better and says which; a crash in stage 2 resumes
without redoing stage 1; the report's plots exist and are not empty."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from core.config import apply_overrides, config_from_dict
from distributed.refit import DEFAULT_LABEL, auto_refit_top, candidates, refit_params
from distributed.refit_verdict import comparison_line, epoch_jitter
from distributed.settings import SearchSettings

TINY = {"model.preset": "tiny", "train.batch_size": 16, "train.early_stopping": 0, "train.warmup_epochs": 0}
LINE = re.compile(
    r"^refit best \d+\.\d{4} vs default config \d+\.\d{4} \(same data, same budget, same validation files\)"
)


def _row(trial_id, value, status="done", **params):
    return {"trial_id": trial_id, "val_objective": value, "status": status, "params": params}


def test_candidates_are_the_best_distinct_finished_configurations():
    rows = [
        _row("a", 0.5, **{"train.lr": 1e-3, "train.epochs": 3}),
        _row("b", 0.55, **{"train.lr": 1e-3, "train.epochs": 6}),  # the same configuration at another budget
        _row("c", 0.6, status="error", **{"train.lr": 2e-3}),
        _row("d", math.nan, **{"train.lr": 3e-3}),
        _row("e", 0.7, **{"train.lr": 4e-3, "data.window": 50}),
        _row("f", 0.8, **{"train.lr": 5e-3}),
    ]
    assert [r["trial_id"] for r in candidates(rows, 2)] == ["a", "e"]
    assert refit_params(rows[4]["params"]) == {"train.lr": 4e-3}  # the refit keeps the full config's data
    # the default config's own stage-1 trial is never a candidate: the refit trains the default anyway
    assert [r["trial_id"] for r in candidates(rows, 2, exclude=[{"train.lr": 1e-3}])] == ["e", "f"]


def test_comparison_line_says_which_won():
    won = comparison_line({"val_objective": 0.61}, {"val_objective": 0.65})
    lost = comparison_line({"val_objective": 0.7}, {"val_objective": 0.65})
    assert LINE.match(won) and "beats the default" in won
    assert LINE.match(lost) and "did NOT beat the default" in lost and "exported the default" in lost


def test_a_lead_within_one_runs_jitter_is_called_about_a_tie():
    # the default run settles at 0.83 +- 0.015 from epoch to epoch: its last half moves 0.015 per epoch
    reports = [
        {"trial_id": t, "epoch": e, "val_objective": v}
        for t, ys in (("d", [0.92, 0.86, 0.845, 0.83, 0.815, 0.83]), ("x", [0.5, 0.5, 0.5]))
        for e, v in enumerate(ys, 1)
    ]
    assert epoch_jitter(reports, "d") == pytest.approx(0.015)
    assert epoch_jitter(reports[:2], "d") is None  # two epochs say nothing about a settled run
    close = comparison_line({"val_objective": 0.81}, {"val_objective": 0.815}, jitter=0.015)
    clear = comparison_line({"val_objective": 0.78}, {"val_objective": 0.815}, jitter=0.015)
    assert LINE.match(close) and "about a tie" in close and "exported the best refit" in close
    assert LINE.match(clear) and "beats the default by 0.0350; exported" in clear
    # the with-context figures ride along, and say when the default is better there
    ctx = comparison_line(
        {"val_objective": 0.78, "val_objective_ctx": 0.58}, {"val_objective": 0.815, "val_objective_ctx": 0.52}
    )
    assert ctx.endswith("with half the clips given 0.5800 vs 0.5200 (the default config is better there)")


def test_the_mean_of_the_two_is_exported_only_where_it_beats_both():
    best, default = {"val_objective": 0.70, "val_objective_ctx": 0.6}, {"val_objective": 0.72}
    won = comparison_line(best, default, mean={"val_objective": 0.68, "val_objective_ctx": 0.55})
    assert LINE.match(won) and "their mean 0.6800 beats both by 0.0200" in won
    assert won.endswith("exported the mean")  # the default has no figure with clips given here
    close = comparison_line(best, default, jitter=0.03, mean={"val_objective": 0.68})
    assert "beats both by 0.0200 (within the default run's epoch-to-epoch jitter of 0.0300: about a tie)" in close
    default["val_objective_ctx"] = 0.54  # with clips given the mean is compared with the default
    won = comparison_line(best, default, mean={"val_objective": 0.68, "val_objective_ctx": 0.55})
    assert won.endswith(
        "exported the mean; with half the clips given 0.5500 vs 0.5400 (the default config is better there)"
    )
    lost = comparison_line(best, default, mean={"val_objective": 0.71})
    assert "their mean 0.7100, not better" in lost and "exported the best refit" in lost


def test_auto_refit_top_fills_one_round_of_trial_slots():
    # beside the default config: 2 slots (a 2-core laptop) refit 1, a cluster at most REFIT_AUTO_MAX
    assert [auto_refit_top(n) for n in (1, 2, 3, 4, 16)] == [1, 1, 2, 3, 3]


def test_tune_cli_refit_top_is_auto_or_a_count(capsys, monkeypatch):
    from tests.conftest import ROOT

    monkeypatch.syspath_prepend(str(ROOT / "scripts"))  # the scripts import their _common
    from scripts.tune import parse_args

    assert parse_args([]).refit_top is None
    assert parse_args(["--refit-top", "auto"]).refit_top is None
    assert parse_args(["--refit-top", "0"]).refit_top == 0
    for bad in ("-1", "two"):
        with pytest.raises(SystemExit):
            parse_args(["--refit-top", bad])
        assert "expected auto or a count >= 0" in capsys.readouterr().err


@pytest.mark.ray
def test_search_refit_resume_after_a_crash_and_report(ray_session, data_cfg, tmp_path, monkeypatch):
    import matplotlib.image as mpimg

    import distributed.refit as refit_mod
    from core.serve.export import load_exported

    base = apply_overrides(config_from_dict({"data": data_cfg.__dict__}), TINY)
    full = apply_overrides(config_from_dict({"data": data_cfg.__dict__}), {**TINY, "train.epochs": 2})
    s = SearchSettings(
        trials=5, space="loss_weights", epochs=2, reduction_factor=2, storage=str(tmp_path), name="sr", num_cpus=2
    )
    exp = tmp_path / "sr"

    def crash(*args, **kwargs):
        raise RuntimeError("injected crash in stage 2")

    real_refit = refit_mod.run_refit
    monkeypatch.setattr(refit_mod, "run_refit", crash)
    logs: list[str] = []
    with pytest.raises(RuntimeError, match="injected crash"):
        refit_mod.search_and_refit(base, full, s, log=logs.append)  # --refit-top auto: 2 CPUs, so 1
    assert (exp / "stage1.json").is_file() and not (exp / "best_model").exists()
    stage1 = {p.parent.name: p.read_text() for p in exp.glob("trial_*/result.json")}
    assert len(stage1) == 5
    # stage 1 started from the default config (every weight 1, MSE) and said where it ranked
    assert any("the first trial is the default config" in line for line in logs)
    ranked = [line for line in logs if line.startswith("stage 1: the default config scored")]
    assert len(ranked) == 1 and re.search(r"rank \d of 5", ranked[0]), logs
    rows = json.loads((exp / "stage1.json").read_text())["rows"]
    defaults = [r for r in rows if all(v == 1.0 for k, v in r["params"].items() if k.startswith("loss.weights."))]
    assert len(defaults) == 1 and defaults[0]["params"]["loss.regression"] == "mse"
    monkeypatch.setattr(refit_mod, "run_refit", real_refit)

    # --resume: settings and both configs come from the experiment; stage 1 does not run again
    logs = []
    again = SearchSettings(storage=str(tmp_path), name="sr", resume=True, num_cpus=2)
    res, refit = refit_mod.search_and_refit(config_from_dict({}), config_from_dict({}), again, log=logs.append)
    assert any("stage 1 finished earlier" in line for line in logs)
    assert {p.parent.name: p.read_text() for p in exp.glob("trial_*/result.json")} == stage1
    top = [r["trial_id"] for r in candidates(res.rows, 1, exclude=[defaults[0]["params"]])]
    assert sorted(r["label"] for r in refit.rows) == sorted([DEFAULT_LABEL, *top])
    assert defaults[0]["trial_id"] not in top
    assert all(r["epochs"] == 2 and r["status"] == "done" for r in refit.rows)  # the full budget, every one
    # the same validation files: the constant baseline measures the same on every refit
    baselines = [{k: v for k, v in r["metrics"].items() if k.startswith("baseline/")} for r in refit.rows]
    assert baselines[0] and all(b == pytest.approx(baselines[0]) for b in baselines[1:])
    # the mean of the best refit's and the default's outputs is scored on the same files (no training)
    assert refit.mean["members"] == [refit.best["trial_id"], refit.default["trial_id"]]
    assert 0 < refit.mean["val_objective"] < 2 and any("\nmean " in line for line in logs)  # a table row
    # the export is the best of the three, and the last line says which
    expected = min((refit.best, refit.default, refit.mean), key=lambda r: r["val_objective"])
    assert refit.chosen["trial_id"] == expected["trial_id"]
    exported = json.loads((exp / "best_model" / "metrics.json").read_text())["model"]
    assert exported["val_objective"] == pytest.approx(expected["val_objective"])
    assert load_exported(exp / "best_model").cfg.train.epochs == 2
    members = json.loads((exp / "best_model" / "xmlai.json").read_text()).get("members")
    assert (members is not None) == (expected is refit.mean)
    # export_best.py on the experiment writes the same model again, a mean included
    from distributed.export import export_best

    again = export_best(str(exp), str(tmp_path / "again"), log=lambda _: None)
    assert json.loads((again / "metrics.json").read_text())["model"]["val_objective"] == pytest.approx(
        expected["val_objective"]
    )
    assert LINE.match(logs[-1]) and logs[-2].startswith("report: "), logs[-3:]
    # progress for a log: one line per event, no carriage returns
    assert any(re.search(r"refit \w+ epoch 2/2: val_objective", line) for line in logs)
    assert not any("\r" in line for line in logs)

    # the report written at the end: every plot exists and is not empty
    rep = json.loads((exp / "report" / "report.json").read_text())
    html = (exp / "report" / "index.html").read_text()
    names = {"history", "curves", "importance", "heads", "timeline_video", "timeline_audio"}
    assert names <= set(rep["plots"]), rep
    for name in names:
        plot = rep["plots"][name]
        png = exp / "report" / plot["file"]
        assert png.is_file() and png.stat().st_size > 5000, name
        assert plot["items"] > 0, name  # points, bars or curves drawn
        assert mpimg.imread(png)[..., :3].std() > 0.02, name  # not a blank canvas
        assert f"src='{plot['file']}'" in html

    # where stage 2 chooses the mean (here it may not have), export_best.py writes it as one model of two members:
    # refit.json's chosen is then the mean's row, as run_refit saves it
    saved = json.loads((exp / "refit.json").read_text())
    (exp / "refit.json").write_text(json.dumps({**saved, "chosen": saved["mean"]}))
    mean_dir = export_best(str(exp), str(tmp_path / "mean"), log=lambda _: None)
    members = json.loads((mean_dir / "xmlai.json").read_text())["members"]
    assert [Path(m["source"].rstrip(")")).parent.name for m in members] == [f"trial_{t}" for t in refit.mean["members"]]
    assert [m["source"].split(" (")[0] for m in members] == [f"refit of {lb}" for lb in refit.mean["labels"]]
    assert json.loads((mean_dir / "metrics.json").read_text())["model"]["val_objective"] == pytest.approx(
        refit.mean["val_objective"]
    )


@pytest.mark.ray
@pytest.mark.slow
def test_interrupt_during_the_refit_and_resume(data_cfg, tmp_path):
    """SIGINT a real `scripts/tune.py` in stage 2 while both refits run, each past its first epoch (they have results,
    yet are not finished); --resume finishes them from their checkpoints and runs no stage-1 trial again."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    common = ["--storage", str(tmp_path), "--name", "ri", "--num-cpus", "2"]
    args = [
        *("--trials", "3", "--space", "loss_weights", "--epochs", "1", "--refit-top", "1", "--max-concurrent", "2"),
        *("--data", data_cfg.data_dir, "--data.window", "40", "--data.overlap", "0", "--data.val_fraction", "0.25"),
        *("--model.preset", "tiny", "--train.epochs", "6", "--train.batch_size", "16"),
        *("--data.split_by", data_cfg.split_by),
    ]
    env = {**os.environ, "RAY_ADDRESS": ""}
    tune_py = str(root / "scripts" / "tune.py")
    proc = subprocess.Popen(
        [sys.executable, tune_py, *args, *common],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    exp = tmp_path / "ri"

    def refit_epochs() -> list[int]:
        return [len(p.read_text().splitlines()) for p in exp.glob("refit/trial_*/result.json")]

    deadline = time.monotonic() + 600  # both refits (the best and the default config) run at once on 2 CPUs
    while time.monotonic() < deadline and not (len(e := refit_epochs()) == 2 and min(e) >= 1) and proc.poll() is None:
        time.sleep(0.5)
    assert max(refit_epochs()) < 6, "a refit finished before the interrupt: the test would not test it"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=180)
    assert (exp / "stage1.json").is_file() and not (exp / "refit.json").exists(), out[-3000:]
    assert "refit interrupted with 2 refit(s) unfinished" in out, out[-3000:]
    stage1 = {p.parent.name: p.read_text() for p in exp.glob("trial_*/result.json")}
    before = {p.parent.name: p.read_text().splitlines() for p in exp.glob("refit/trial_*/result.json")}

    r = subprocess.run(
        [sys.executable, tune_py, "--resume", *common], cwd=root, capture_output=True, text=True, env=env, timeout=900
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert LINE.match(r.stdout.strip().splitlines()[-1]), r.stdout[-2000:]
    assert {p.parent.name: p.read_text() for p in exp.glob("trial_*/result.json")} == stage1  # stage 1 not rerun
    refit = json.loads((exp / "refit.json").read_text())
    assert len(refit["rows"]) == 2 and all(row["epochs"] == 6 for row in refit["rows"])
    for trial, lines in before.items():  # an interrupted refit went on from its checkpoint, not from epoch 1
        epochs = [
            json.loads(line)["epoch"] for line in (exp / "refit" / trial / "result.json").read_text().splitlines()
        ]
        assert epochs[: len(lines)] == [json.loads(line)["epoch"] for line in lines] and epochs.count(1) == 1
