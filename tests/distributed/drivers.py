"""Helpers for tests that run ``scripts/tune.py`` as a separate driver process and read what it wrote."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.config import DataConfig

ROOT = Path(__file__).resolve().parents[2]


def tune_args(data_cfg: DataConfig, *extra: str) -> list[str]:
    """``python scripts/tune.py`` on the small corpus with the tiny model, plus ``extra`` flags."""
    return [
        sys.executable,
        str(ROOT / "scripts" / "tune.py"),
        "--space",
        "loss_weights",
        "--data",
        data_cfg.data_dir,
        "--data.window",
        str(data_cfg.window),
        "--data.overlap",
        "0",
        "--data.val_fraction",
        str(data_cfg.val_fraction),
        "--data.split_by",
        data_cfg.split_by,
        "--model.preset",
        "tiny",
        "--train.batch_size",
        "16",
        "--refit-top",
        "0",  # stage 1 only: these tests are about the search, not the refit
        "--no-report",  # nor the report (tests/distributed/test_refit.py checks it): its plots take seconds a run
        *extra,
    ]


def start_tune(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Run ``args`` as a driver in its own session (process group), output to ``log``."""
    return subprocess.Popen(
        args,
        cwd=ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "RAY_ADDRESS": "", **(env or {})},
        start_new_session=True,
    )


def strike_while_running(
    proc: subprocess.Popen, log: Path, timeout: float, strike: Callable[[], bool], missed: str, stop=None
) -> None:
    """Poll ``strike`` (which acts and returns True once the run is in the state it waits for) while the driver
    runs, then wait for the driver to end; fail with ``missed`` and the log's tail when the state never comes
    within ``timeout`` s. A driver still running on the way out (a failure) is stopped with ``stop`` (default:
    kill)."""
    deadline, struck = time.monotonic() + timeout, False
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if strike():
                struck = True
                break
            time.sleep(0.3)
        assert struck, f"{missed}:\n{log.read_text()[-3000:]}"
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            (stop or subprocess.Popen.kill)(proc)


def ctrl_c_when(args: list[str], log: Path, ready: Callable[[], bool], timeout: float = 300) -> str:
    """Run the driver ``args`` until ``ready()`` (or it ends, or ``timeout`` s), then Ctrl-C it (SIGINT: Tune
    saves its state and stops) and wait for it; returns its log."""
    proc = start_tune(args, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not ready() and proc.poll() is None:
        time.sleep(1)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=120)
    return log.read_text()


def assert_same_prepared(a, b) -> None:
    """Two ``Prepared`` data sets hold the same files, errors, windows, scalers and metadata."""
    assert a.files == b.files
    assert a.errors == b.errors
    for split in ("train", "val"):
        assert sorted(getattr(a, split)) == sorted(getattr(b, split))
        for k, v in getattr(a, split).items():
            np.testing.assert_array_equal(v, getattr(b, split)[k], err_msg=f"{split}/{k}")
    assert a.scalers.to_json() == b.scalers.to_json()
    assert a.meta == b.meta


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` now (read from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def kill_driver(proc: subprocess.Popen) -> None:
    """SIGKILL the driver's whole process group, as when its machine dies; then any of its descendants that left
    the group (only processes this driver started, by their ids)."""
    family = descendants(proc.pid)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    for pid in family:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def trial_reports(exp: Path) -> dict[str, list[dict]]:
    """trial folder name -> its result.json lines (what Tune recorded, in order)."""
    out = {}
    for f in sorted(exp.glob("trial_*/result.json")):
        try:
            lines = [json.loads(x) for x in f.read_text().splitlines() if x.strip()]
        except json.JSONDecodeError:  # a line being written right now
            continue
        out[f.parent.name] = lines
    return out


def _fs(uri: str | Path):
    import pyarrow.fs as pafs

    return pafs.FileSystem.from_uri(str(uri))


def _read_json(fs, path: str):
    with fs.open_input_stream(path) as f:
        return json.loads(f.read().decode())


def checkpoints_written(exp: str | Path) -> dict[str, list[dict]]:
    """trial id -> where.json of each checkpoint on storage (node, epoch, pid, and the file's mtime), by epoch;
    ``exp`` is a folder or a bucket URI.

    Checkpoints reach storage before a report returns, so this is the live view while a search runs
    (Tune's result.json reaches storage only with its next experiment snapshot).
    """
    import pyarrow.fs as pafs

    fs, root = _fs(exp)
    out: dict[str, list[dict]] = {}
    for info in fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True)):
        parts = info.path.split("/")
        if info.type != pafs.FileType.File or parts[-1] != "where.json" or not parts[-2].startswith("checkpoint_"):
            continue
        try:
            where = _read_json(fs, info.path)
        except (OSError, json.JSONDecodeError):  # being written right now
            continue
        where["mtime"] = info.mtime.timestamp()
        out.setdefault(parts[-3].removeprefix("trial_"), []).append(where)
    return {t: sorted(v, key=lambda w: w["epoch"]) for t, v in out.items()}


def finished_trials(exp: str | Path) -> set[str]:
    """Trial ids the driver marked finished (distributed.tune.TrialLedger)."""
    import pyarrow.fs as pafs

    fs, root = _fs(exp)
    infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    return {i.path.split("/")[-2].removeprefix("trial_") for i in infos if i.base_name == "xmlai_done.json"}


def snapshot_time(exp: str | Path) -> float | None:
    """When Tune last wrote its experiment state (None before its first snapshot)."""
    import pyarrow.fs as pafs

    fs, root = _fs(exp)
    infos = fs.get_file_info(pafs.FileSelector(root, allow_not_found=True))
    times = [i.mtime.timestamp() for i in infos if i.base_name.startswith("experiment_state-")]
    return max(times) if times else None


def trial_params(exp: str | Path) -> dict[str, dict]:
    """trial id -> the configuration Tune gave it (params.json)."""
    import pyarrow.fs as pafs

    fs, root = _fs(exp)
    infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    return {
        i.path.split("/")[-2].removeprefix("trial_"): _read_json(fs, i.path)
        for i in infos
        if i.base_name == "params.json" and i.path.split("/")[-2].startswith("trial_")
    }


def checkpoint_objectives(exp: str | Path) -> dict[str, float]:
    """checkpoint path -> its val_objective, over every retained checkpoint of every trial."""
    import pyarrow.fs as pafs

    fs, root = _fs(exp)
    infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    out = {}
    for i in infos:
        if i.base_name == "metrics.json" and i.path.split("/")[-2].startswith("checkpoint_"):
            out[i.path.rsplit("/", 1)[0]] = _read_json(fs, i.path)["val_objective"]
    return out
