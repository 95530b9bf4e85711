"""Data preparation on Ray Data, and the prepared-data cache trials load from.

The pipeline only schedules ``core.data.preprocess.process_file`` (parse -> frames -> windows, one file per
call) across the cluster; ``core.data.preprocess.assemble`` then splits, fits the scalers and sorts by
file name, so the result equals the local engine's whatever order Ray returns rows in (a test proves
it). A file that fails becomes an error row, never a failed job.

The cache key is the content of every input file plus the data-config fields that change the
windows; the cache lives on the experiment storage (a local absolute path or a cloud URI), so every
trial on every node loads the same prepared windows and nothing is parsed twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import ray
from ray.data import TaskPoolStrategy

from core.config import DataConfig
from core.data.preprocess import (
    FileResult,
    Prepared,
    assemble,
    cache_key_of,
    file_name,
    input_paths,
    prepare,
    process_file,
)
from distributed.storage import download_dir, exists, is_uri, upload_dir

CACHE_DIR = "_prepared"


def input_files(cfg: DataConfig) -> list[Path]:
    """The files to prepare: the user's folder, or the built-in corpus (written once under the cache root)."""
    return input_paths(cfg)


def cache_key(files: list[Path], cfg: DataConfig) -> str:
    """Content of the inputs + the data-config fields that shape the windows + the code version (core's key)."""
    names = [file_name(p, cfg) for p in files]
    return cache_key_of(names, [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in files], cfg)


# ---------------------------------------------------------------------------------------------- Ray Data


def _pack(windows: dict[str, np.ndarray] | None) -> bytes:
    # npz, not pickle: arrays cross the object store as plain bytes and load with allow_pickle=False
    if windows is None:
        return b""
    buf = io.BytesIO()
    np.savez(buf, **windows)
    return buf.getvalue()


def _unpack(blob: bytes) -> dict[str, np.ndarray] | None:
    if not blob:
        return None
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _process_row(row: dict[str, Any], cfg: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """One file -> one row (FileResult fields, windows as npz bytes); any failure becomes an error row."""
    # read_binary_files may drop a scheme or normalise the path: fall back to the base name
    name = names.get(row["path"]) or names.get(os.path.basename(row["path"])) or os.path.basename(row["path"])
    try:
        res = process_file(name, bytes(row["bytes"]), DataConfig(**cfg))
    except Exception as e:  # process_file should never raise; if it does, report instead of killing the job
        res = FileResult(name=name, split="", windows=None, n_timelines=0, error=f"{type(e).__name__}: {e}", digest="")
    out = {f.name: getattr(res, f.name) for f in dataclasses.fields(res) if f.name != "windows"}
    out["windows"] = _pack(res.windows)
    return out


def _row_to_result(row: dict[str, Any]):
    kw = {f.name: row.get(f.name) for f in dataclasses.fields(FileResult) if f.name != "windows"}
    for k, v in kw.items():
        if isinstance(v, np.generic):
            kw[k] = v.item()
    return FileResult(windows=_unpack(row["windows"]), **kw)


def prepare_ray(cfg: DataConfig, files: list[Path] | None = None, *, num_blocks: int | None = None):
    """Prepare ``files`` with Ray Data (one task per block of files); returns ``core.data.preprocess.Prepared``."""
    files = [Path(p) for p in files] if files is not None else input_files(cfg)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # one line per stage would drown the search's own progress
    cpus = int(ray.cluster_resources().get("CPU", 1)) or 1
    # Few blocks: the default splits 3,000 small files into 130 read tasks and is twice as slow.
    blocks = num_blocks or max(1, min(len(files), 2 * cpus))
    names = {str(p): file_name(p, cfg) for p in files}
    if len({p.name for p in files}) == len(files):
        names |= {p.name: file_name(p, cfg) for p in files}
    ds = ray.data.read_binary_files([str(p) for p in files], include_paths=True, override_num_blocks=blocks)
    ds = ds.map(
        _process_row,
        fn_kwargs={"cfg": dataclasses.asdict(cfg), "names": names},
        compute=TaskPoolStrategy(size=max(1, cpus)),
    )
    results = [_row_to_result(r) for r in ds.take_all()]
    return assemble(results, cfg, cache_key=cache_key(files, cfg))


def prepare_local(cfg: DataConfig, files: list[Path]):
    """The in-process / process-pool engine of core (the reference the Ray engine must equal)."""
    return prepare(cfg, paths=[str(p) for p in files], engine="local", cache=False)


# ---------------------------------------------------------------------------------------------- cache


def _local_cache_root() -> Path:
    return Path(os.environ.get("XMLAI_CACHE", Path.home() / ".cache" / "xmlai")) / "prepared"


def prepare_cached(cfg: DataConfig, storage: str, *, engine: str = "local", log=print) -> tuple[str, Any]:
    """Prepare once per (inputs, data config) into ``storage/_prepared/<key>``; returns (cache path, Prepared).

    ``engine``: "ray" (Ray Data; needs ray.init), or "local" (core's engine; faster on a small machine).
    """
    files = input_files(cfg)
    target = f"{storage.rstrip('/')}/{CACHE_DIR}/{cache_key(files, cfg)[:24]}"
    if exists(f"{target}/DONE"):
        log(f"data: prepared windows found in the cache {target}")
        return target, load_cached(target)
    t0 = time.perf_counter()
    data = prepare_ray(cfg, files) if engine == "ray" else prepare_local(cfg, files)
    log(
        f"data: {len(files)} files prepared with the {engine} engine in {time.perf_counter() - t0:.1f}s "
        f"-> {len(data.train['features'])} train / {len(data.val['features'])} val windows; cache {target}"
    )
    _save(data, target)
    return target, data


def _save(data, target: str) -> None:
    # Written to a sibling temp folder and renamed (or uploaded) with a DONE marker last, so a trial
    # never reads a half-written cache.
    with tempfile.TemporaryDirectory(prefix="xmlai-prep-") as tmp:
        data.save(tmp)
        Path(tmp, "DONE").write_text("ok\n")
        if not is_uri(target):
            dst = Path(target)
            dst.parent.mkdir(parents=True, exist_ok=True)
            part = dst.parent / f".{dst.name}.{os.getpid()}"
            shutil.rmtree(part, ignore_errors=True)
            shutil.copytree(tmp, part)
            if dst.exists():  # another driver won the race: keep theirs
                shutil.rmtree(part, ignore_errors=True)
            else:
                os.replace(part, dst)
            return
        upload_dir(tmp, target)


def load_cached(target: str):
    """Load prepared windows from the cache (downloaded once per node when it is on a cloud bucket)."""
    if is_uri(target):
        local = _local_cache_root() / target.rstrip("/").rsplit("/", 1)[-1]
        if not (local / "DONE").is_file():
            part = Path(tempfile.mkdtemp(prefix="xmlai-dl-", dir=local.parent if local.parent.is_dir() else None))
            download_dir(target, part)
            local.parent.mkdir(parents=True, exist_ok=True)
            if not local.exists():
                os.replace(part, local)
        target = str(local)
    return Prepared.load(target)
