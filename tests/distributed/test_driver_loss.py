"""A driver that dies: ``scripts/tune.py`` runs in its own process group and the whole group is SIGKILLed mid-search,
as when its machine dies (its local Ray goes with it). ``scripts/tune.py --resume`` then completes the search:

- no finished trial runs again (no new checkpoint, no new process);
- unfinished trials continue from their last checkpoint in Tune's snapshot, not from epoch 1;
- Optuna's state is restored: every trial's configuration is the one the seeded searcher proposes for its place in
  the sequence (a searcher that restarted would propose the first configurations again);
- the final best, the table's first row and export_best agree, and are the best over all trials' checkpoints.

The small form runs by default on a bucket (a local S3-compatible server); the same on a local folder and a long
form (more trials, Ray Train workers) are ``slow``. A driver killed before Tune's first snapshot leaves a name that both
``--resume`` and a fresh start accept.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import search_spaces
from core.config import apply_overrides, config_from_dict
from distributed.export import export_best
from distributed.refit import start_from_default
from distributed.settings import STATE_FILE, SearchSettings
from distributed.storage import write_text
from distributed.tune import _searcher, run_search
from tests.distributed.drivers import (
    checkpoint_objectives,
    checkpoints_written,
    finished_trials,
    kill_driver,
    snapshot_time,
    start_tune,
    strike_while_running,
    trial_params,
    tune_args,
)

pytestmark = pytest.mark.ray
SEED = 3


def _expected_configs(n: int) -> list[dict]:
    """What the seeded searcher proposes for trials 0..n-1 when nothing interrupts it (fewer trials than TPE's
    random start-up, so the sequence does not depend on results): scripts/tune.py's, which starts from the
    default config's point (the drivers change no loss setting, so it is the default loss section's)."""
    start = start_from_default("loss_weights", config_from_dict({}), log=lambda s: None)
    assert start, "the default config is a point of the loss_weights space"
    searcher = _searcher(search_spaces.resolve("loss_weights"), SearchSettings(seed=SEED, start_points=start))
    return [json.loads(json.dumps(searcher.suggest(f"t{i}"))) for i in range(n)]


def _first_reported_epoch(exp: str, trial: str) -> int:
    """The first epoch that the last process of a trial reported to Tune (a local experiment folder)."""
    rows = [json.loads(line) for line in (Path(exp) / f"trial_{trial}" / "result.json").read_text().splitlines()]
    last_pid = rows[-1]["pid"]
    return min(r["epoch"] for r in rows if r.get("pid") == last_pid)  # epochs put back from checkpoints: no pid


def _kill_and_resume(data_cfg, tmp_path: Path, storage: str, env: dict, trials: int, epochs: int, *extra: str):
    name = "killed"
    exp = f"{storage}/{name}"
    common = ("--storage", storage, "--name", name, "--num-cpus", "2")
    args = tune_args(
        data_cfg,
        *("--trials", str(trials), "--epochs", str(epochs), "--grace-period", str(epochs), "--seed", str(SEED)),
        *common,
        *extra,
    )
    log = tmp_path / "first.log"
    proc = start_tune(args, log, env)

    def kill_at_a_recorded_checkpoint() -> bool:
        seen, done, snap = checkpoints_written(exp), finished_trials(exp), snapshot_time(exp)
        # a trial finished, and another is mid-way with a checkpoint Tune's last snapshot has recorded
        midway = [
            t
            for t, cks in seen.items()
            if t not in done and cks[-1]["epoch"] < epochs and snap and snap >= cks[0]["mtime"] + 2
        ]
        if done and midway:
            kill_driver(proc)
            return True
        return False

    missed = "the search never reached the state to kill it in"
    strike_while_running(proc, log, 600, kill_at_a_recorded_checkpoint, missed, stop=kill_driver)
    first = log.read_text()
    at_kill, done_at_kill, snap = checkpoints_written(exp), finished_trials(exp), snapshot_time(exp)
    assert len(done_at_kill) < trials

    resume = start_tune(tune_args(data_cfg, "--resume", *common), tmp_path / "resume.log", env)
    resume.wait(timeout=900)
    out = (tmp_path / "resume.log").read_text()
    assert resume.returncode == 0, out[-4000:]
    assert f"{trials} trials with results: {trials} finished" in out and " 0 errors" in out, out[-4000:]
    assert "exported " in out and "report" not in out.split("exported ")[-1], out[-2000:]  # --no-report

    after = checkpoints_written(exp)
    assert len(after) == trials and set(finished_trials(exp)) == set(after)  # every trial accounted for, once
    assert all(cks[-1]["epoch"] == epochs for cks in after.values())
    for t in done_at_kill:  # no finished trial ran again
        assert [(c["epoch"], c["pid"]) for c in after[t]] == [(c["epoch"], c["pid"]) for c in at_kill[t]], t
    for t, cks in at_kill.items():
        if t in done_at_kill:
            continue
        old_pids = {c["pid"] for c in cks}
        resumed = [c["epoch"] for c in after[t] if c["pid"] not in old_pids]
        assert resumed and resumed[-1] == epochs, (t, after[t])
        if "--workers-per-trial" not in extra:  # Tune keeps every checkpoint (Ray Train keeps the best and the last)
            assert resumed == list(range(resumed[0], epochs + 1)), (t, after[t])
        if cks[0]["mtime"] + 2 <= snap:  # its first checkpoint was in Tune's snapshot: it continued from there
            # Ray Train keeps only its best and last checkpoints, so there the first epoch the resumed trial
            # reported to Tune (its result.json, written anew by the resumed process) is the evidence
            start = resumed[0] if "--workers-per-trial" not in extra else _first_reported_epoch(exp, t)
            assert 1 < start <= cks[-1]["epoch"] + 1, (t, cks, after[t], start)

    # Optuna's state came back: trial i has the i-th configuration of the seeded sequence
    params = trial_params(exp)
    index = {t: cks[0]["trial_index"] for t, cks in after.items()}
    assert sorted(index.values()) == list(range(trials))
    expected = _expected_configs(trials)
    for t, i in index.items():
        assert params[t] == expected[i], (t, i)

    # every trial's row has all its epochs and its best over all its checkpoints, whatever the snapshot had seen
    objectives = checkpoint_objectives(exp)
    rows = re.findall(r"^\s+\d+\s+(\w+)\s+([\d.]+)\s+[\d.]+\s+\d+/(\d+)\s+(\w+)", out, flags=re.MULTILINE)
    assert sorted(r[0] for r in rows) == sorted(after), out[-3000:]
    for t, best, last, status in rows:
        own = [v for path, v in objectives.items() if re.search(rf"(?:trial_|train_runs/){t}/checkpoint_", path)]
        assert (int(last), status) == (epochs, "done") and float(best) == pytest.approx(min(own), abs=1e-4), t
    # every epoch counted once, and an epoch a resumed trial ran again after its checkpoint once more
    assert int(re.search(r"(\d+) epochs trained in total", out).group(1)) >= trials * epochs, out[-3000:]

    # the best is the best over every trial's checkpoints, and the table, the export and the search agree on it
    best_path = min(objectives, key=objectives.get)
    best_trial = re.search(r"(?:trial_|train_runs/)(\w+)/checkpoint_", best_path).group(1)
    row = re.search(r"^\s+1\s+(\w+)\s+([\d.]+)", out, flags=re.MULTILINE)
    assert row.group(1) == best_trial and float(row.group(2)) == pytest.approx(objectives[best_path], abs=1e-4)
    model = export_best(exp, str(tmp_path / "best"), log=lambda s: None)
    exported = json.loads((model / "metrics.json").read_text())
    assert exported["model"]["val_objective"] == pytest.approx(objectives[best_path], rel=1e-9)
    return first, out


@pytest.mark.slow
def test_killed_driver_resumes_exactly_on_a_local_folder(data_cfg, tmp_path):
    """The default-run form is the bucket one below (same code path, more moving parts). 10 epochs: on an idle
    machine a 4-epoch trial on a local folder ends within one of Tune's ~10 s snapshots, and no trial is ever
    mid-way across one when the driver could be killed."""
    _kill_and_resume(data_cfg, tmp_path, str(tmp_path / "storage"), {"XMLAI_CACHE": str(tmp_path / "cache")}, 5, 10)


def test_killed_driver_resumes_exactly_on_a_bucket(data_cfg, tmp_path, s3):
    """The same on ``s3://`` (a local S3-compatible server): state, checkpoints and the data cache go through it."""
    bucket, env = s3
    # 10 epochs: with 4, on an idle machine every trial ends within one of Tune's ~10 s snapshots
    first, _ = _kill_and_resume(data_cfg, tmp_path, bucket, {**env, "XMLAI_CACHE": str(tmp_path / "cache")}, 5, 10)
    assert f"cache {bucket}/_prepared/" in first
    # each node's copy of the bucket's cache was downloaded once and published complete
    copies = list((tmp_path / "cache" / "prepared").iterdir())
    assert [c.name for c in copies if not c.name.startswith(".")] and all(
        (c / "DONE").is_file() for c in copies if c.is_dir() and not c.name.startswith(".")
    )


@pytest.mark.slow
def test_killed_driver_resumes_exactly_with_ray_train_workers(data_cfg, tmp_path):
    """The long form: 5 trials of 10 epochs, each a TorchTrainer with one worker (Train's own checkpoints), one at a
    time (two at once need 4 CPUs here). A second Ray instance on the machine makes Train trials after the first
    wait forever on WorkerGroupStartupTimeoutError (Train's PlacementGroupCleaner cannot pick its cluster; README).
    """
    extra = ("--workers-per-trial", "1", "--cpus-per-worker", "1", "--max-concurrent", "1", "--train.batch_size", "4")
    # 10 epochs: a Train trial spends ~10 s starting, and must stay mid-way across one of Tune's ~10 s snapshots
    _kill_and_resume(data_cfg, tmp_path, str(tmp_path / "storage"), {}, 5, 10, *extra)


def test_a_trial_that_finished_after_tunes_last_snapshot_keeps_every_epoch(data_cfg, tmp_path):
    """Tune uploads a trial's result log with its snapshots only, and the snapshot restores a finished trial as it
    was then: mid-way. Here Tune snapshots only at the start (TUNE_GLOBAL_CHECKPOINT_S), so the driver killed
    once a trial has finished leaves a snapshot that holds none of its results, deterministically. After
    --resume its row still has all its epochs and its best checkpoint, and it trained nothing again."""
    # 3 trials, 2 at a time: the first two end together, and the third keeps the search running to be killed
    storage, name, trials, epochs = str(tmp_path / "storage"), "late", 3, 4
    exp = f"{storage}/{name}"
    common = ("--storage", storage, "--name", name, "--num-cpus", "2")
    flags = ("--trials", str(trials), "--epochs", str(epochs), "--grace-period", str(epochs), "--seed", str(SEED))
    env = {"XMLAI_CACHE": str(tmp_path / "cache"), "TUNE_GLOBAL_CHECKPOINT_S": "3600"}
    proc = start_tune(tune_args(data_cfg, *flags, *common), tmp_path / "first.log", env)

    def kill_once_one_finished() -> bool:
        if finished_trials(exp):
            kill_driver(proc)
            return True
        return False

    missed = "no trial finished"
    strike_while_running(proc, tmp_path / "first.log", 600, kill_once_one_finished, missed, stop=kill_driver)
    done, at_kill, snap = finished_trials(exp), checkpoints_written(exp), snapshot_time(exp)
    assert done and snap is not None and all(snap < at_kill[t][0]["mtime"] for t in done), "a snapshot came later"

    resume = start_tune(tune_args(data_cfg, "--resume", *common), tmp_path / "resume.log", env)
    resume.wait(timeout=600)
    out = (tmp_path / "resume.log").read_text()
    assert resume.returncode == 0, out[-4000:]
    after, objectives = checkpoints_written(exp), checkpoint_objectives(exp)
    for t in done:  # (both, where the first two ended within one poll)
        assert [(c["epoch"], c["pid"]) for c in after[t]] == [(c["epoch"], c["pid"]) for c in at_kill[t]]
        assert [c["epoch"] for c in after[t]] == list(range(1, epochs + 1))
        assert f"trial {t} finished {epochs} epochs" in out, out[-3000:]  # the snapshot had it unfinished
        own = [v for path, v in objectives.items() if f"trial_{t}/checkpoint_" in path]
        row = re.search(rf"^\s+\d+\s+{t}\s+([\d.]+)\s+[\d.]+\s+\d+/(\d+)\s+(\w+)", out, flags=re.MULTILINE)
        assert row and (float(row.group(1)), int(row.group(2)), row.group(3)) == (
            pytest.approx(min(own), abs=1e-4),
            epochs,
            "done",
        ), out[-3000:]
    assert f"{trials} finished (0 stopped early by ASHA)" in out and f"{trials * epochs} epochs trained" in out


def test_a_driver_killed_before_tunes_first_snapshot_leaves_a_usable_name(ray_session, data_cfg, tmp_path):
    """What such a driver leaves is the state file alone: --resume starts the search with its saved settings, and a
    fresh start with the same name is allowed."""
    base = apply_overrides(config_from_dict({"data": data_cfg.__dict__}), {"model.preset": "tiny"})
    s = SearchSettings(trials=1, space="loss_weights", epochs=1, storage=str(tmp_path), name="early", num_cpus=2)
    for name in ("early", "again"):
        settings = {k: v for k, v in {**s.__dict__, "name": name}.items() if k != "resume"}
        state = {"settings": settings, "base_config": base.to_dict(), "data_path": ""}
        write_text(str(tmp_path / name / STATE_FILE), json.dumps(state))
        (tmp_path / name / "trial_deadbeef").mkdir()  # a trial folder Tune never recorded
        (tmp_path / name / "xmlai_refit.json").write_text("{}")  # the experiment's own files stay
    logs: list[str] = []
    resume = SearchSettings(storage=str(tmp_path), name="early", resume=True)
    resumed = run_search(config_from_dict({}), resume, log=logs.append)
    assert resumed.counts["finished"] == 1 and any("before Tune's first snapshot" in line for line in logs)
    fresh = run_search(base, SearchSettings(**{**s.__dict__, "name": "again"}), log=logs.append)
    assert fresh.counts["finished"] == 1
    for name in ("early", "again"):
        assert not (tmp_path / name / "trial_deadbeef").exists() and (tmp_path / name / "xmlai_refit.json").is_file()
