"""Data preparation on Ray Data, and the prepared-data cache trials load from.

The pipeline only schedules ``core.data.preprocess.process_file`` (parse -> frames -> windows, one file per
call) across the cluster; ``core.data.preprocess.assemble`` then splits, fits the scalers and sorts by
file name, so the result equals the local engine's whatever order Ray returns rows in (a test proves
it). A file that fails becomes an error row, never a failed job. The driver reads the files and ships
their bytes through the object store (``ship_files``): workers on other nodes never need the paths, so
exports on the head node's disk alone are enough.

The cache key is the content of every input file plus the data-config fields that change the
windows; the cache lives on the experiment storage (a local absolute path or a cloud URI), so every
trial on every node loads the same prepared windows and nothing is parsed twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
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
from core.data.publish import DONE, dir_lock, is_complete, prune, touch, write_and_publish
from distributed.storage import download_dir, exists, is_uri, upload_dir, write_text

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


def _process_row(row: dict[str, Any], cfg: dict[str, Any]) -> dict[str, Any]:
    """One file -> one row (FileResult fields, windows as npz bytes); any failure becomes an error row."""
    name = row["name"]
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


def ship_files(files: list[Path], cfg: DataConfig, blocks: int) -> tuple[list, str]:
    """Read ``files`` on this (the driver's) node into ``blocks`` Arrow tables of (name, bytes) in the object
    store; returns (their refs, the cache key).

    Workers on other nodes get the bytes, never the paths: the exports (and the built-in corpus) often
    sit on the head node's disk only. The driver already reads every byte for the cache key, so this
    costs no second pass; it holds one block at a time, and the object store spills to disk if needed.
    """
    names = [file_name(p, cfg) for p in files]
    per_block = max(1, -(-len(files) // max(1, blocks)))
    refs, digests = [], []
    for i in range(0, len(files), per_block):
        chunk = [Path(p).read_bytes() for p in files[i : i + per_block]]
        digests += [hashlib.sha256(b).hexdigest() for b in chunk]
        table = pa.table({"name": names[i : i + per_block], "bytes": pa.array(chunk, type=pa.large_binary())})
        refs.append(ray.put(table))
    return refs, cache_key_of(names, digests, cfg)


def prepare_shipped(refs: list, cfg: DataConfig, key: str, folder: str | Path | None = None):
    """Process shipped (name, bytes) blocks with Ray Data (one task per block) -> ``Prepared`` (written into
    ``folder`` and mapped from there when given: ``core.data.preprocess.assemble``)."""
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # one line per stage would drown the search's own progress
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    ds = ray.data.from_arrow_refs(refs).map(
        _process_row, fn_kwargs={"cfg": dataclasses.asdict(cfg)}, compute=TaskPoolStrategy(size=cpus)
    )
    # rows one at a time: assemble parks each file's windows on disk before it takes the next, so the driver holds
    # one file's windows whatever the corpus (take_all would hold every file's, packed and unpacked)
    return assemble((_row_to_result(r) for r in ds.iter_rows()), cfg, cache_key=key, folder=folder)


def prepare_ray(
    cfg: DataConfig, files: list[Path] | None = None, *, num_blocks: int | None = None, folder: str | Path | None = None
):
    """Prepare ``files`` with Ray Data on whatever nodes have CPUs; returns ``core.data.preprocess.Prepared``
    (written into ``folder`` and mapped from there when given)."""
    files = [Path(p) for p in files] if files is not None else input_files(cfg)
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    # Few blocks: the default splits 3,000 small files into 130 read tasks and is twice as slow.
    refs, key = ship_files(files, cfg, num_blocks or max(1, min(len(files), 2 * cpus)))
    return prepare_shipped(refs, cfg, key, folder)


def prepare_local(cfg: DataConfig, files: list[Path], folder: str | Path | None = None):
    """The in-process / process-pool engine of core (the reference the Ray engine must equal)."""
    return prepare(cfg, paths=[str(p) for p in files], engine="local", cache=False, folder=folder)


# ---------------------------------------------------------------------------------------------- cache


def _local_cache_root() -> Path:
    return Path(os.environ.get("XMLAI_CACHE", Path.home() / ".cache" / "xmlai")) / "prepared"


def prepare_cached(cfg: DataConfig, storage: str, *, engine: str = "local", log=print) -> tuple[str, Any]:
    """Prepare once per (inputs, data config) into ``storage/_prepared/<key>``; returns (cache path, Prepared).

    ``engine``: "ray" (Ray Data; needs ray.init), or "local" (core's engine; faster on a small machine). The
    windows go straight to disk as each file is done (``core.data.preprocess.assemble``): the driver never
    holds the corpus's windows.

    Published so that no reader ever sees a half-written cache and no completed one is deleted. A folder:
    core.data.publish (sibling temp folder, lock, atomic rename, DONE inside). A bucket has no rename: the
    cache is written into this node's local copy of it (which ``load_cached`` then finds), its data files go
    up first and the DONE marker after them, so a reader that finds DONE finds every file; two drivers
    writing the same key write the same content and never delete anything.
    """
    files = input_files(cfg)
    target = f"{storage.rstrip('/')}/{CACHE_DIR}/{cache_key(files, cfg)[:24]}"
    if exists(f"{target}/{DONE}"):
        log(f"data: prepared windows found in the cache {target}")
        if not is_uri(target):
            touch(target)  # used now: kept longest when the cache is over data.cache_max_gb
        return target, load_cached(target)

    def build(tmp: Path) -> None:
        t0 = time.perf_counter()
        prepare_into = prepare_ray if engine == "ray" else prepare_local
        data = prepare_into(cfg, files, folder=tmp)
        log(
            f"data: {len(files)} files prepared with the {engine} engine in {time.perf_counter() - t0:.1f}s "
            f"-> {len(data.train['features'])} train / {len(data.val['features'])} val windows; cache {target}"
        )
        if is_uri(target):
            upload_dir(tmp, target)  # no DONE in it yet: publish_dir writes the local one

    write_and_publish(build, _local_copy(target) if is_uri(target) else target)
    if is_uri(target):
        write_text(f"{target}/{DONE}", "ok\n")
    elif cfg.cache_max_gb > 0:  # a folder: the least recently used data sets of other searches go past the size
        for gone in prune(Path(target).parent, int(cfg.cache_max_gb * 1e9), keep=target):
            log(f"data: the prepared-data cache is over data.cache_max_gb={cfg.cache_max_gb:g}: removed {gone}")
    return target, load_cached(target)


def _local_copy(target: str) -> Path:
    """This node's copy of a cache on a bucket (processes on one node share it)."""
    return _local_cache_root() / target.rstrip("/").rsplit("/", 1)[-1]


_LOADED: dict[str, Any] = {}  # cache path -> Prepared, per process: a reused trial actor loads its data once


def load_cached(target: str):
    """Load prepared windows from the cache (downloaded once per node when it is on a cloud bucket).

    Arrays are memory-mapped from the cache's .npy files (read-only), so trials running side by side on a
    node share one copy in the page cache, and a process loads each cache only once."""
    if target in _LOADED:
        return _LOADED[target]
    local = target
    if is_uri(target):
        # processes on one node share one local copy: the first takes the lock and downloads, the others
        # wait for it and then read its copy
        local = _local_copy(target)
        if not is_complete(local):
            with dir_lock(local):
                if not is_complete(local):
                    if not exists(f"{target}/{DONE}"):
                        raise FileNotFoundError(f"{target}: no complete prepared-data cache (no {DONE} marker)")
                    write_and_publish(lambda tmp: download_dir(target, tmp), local, locked=True)
    data = Prepared.load(local)  # read-only memory maps: trials on a node share the page cache
    _LOADED.clear()  # one data set per process at a time (stage 1's small one, or a refit's full one)
    _LOADED[target] = data
    return data
