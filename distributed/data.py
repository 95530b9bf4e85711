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
import struct
import tempfile
import time
import zipfile
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
from core.data.publish import DONE, dir_lock, is_complete, write_and_publish
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


def prepare_shipped(refs: list, cfg: DataConfig, key: str):
    """Process shipped (name, bytes) blocks with Ray Data (one task per block) -> ``Prepared``."""
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # one line per stage would drown the search's own progress
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    ds = ray.data.from_arrow_refs(refs).map(
        _process_row, fn_kwargs={"cfg": dataclasses.asdict(cfg)}, compute=TaskPoolStrategy(size=cpus)
    )
    # rows one at a time: each file's packed windows are freed once unpacked, and assemble empties the unpacked ones
    # as it concatenates them (take_all would hold every file's windows twice, packed and unpacked)
    return assemble((_row_to_result(r) for r in ds.iter_rows()), cfg, cache_key=key, consume=True)


def prepare_ray(cfg: DataConfig, files: list[Path] | None = None, *, num_blocks: int | None = None):
    """Prepare ``files`` with Ray Data on whatever nodes have CPUs; returns ``core.data.preprocess.Prepared``."""
    files = [Path(p) for p in files] if files is not None else input_files(cfg)
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    # Few blocks: the default splits 3,000 small files into 130 read tasks and is twice as slow.
    refs, key = ship_files(files, cfg, num_blocks or max(1, min(len(files), 2 * cpus)))
    return prepare_shipped(refs, cfg, key)


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
    if exists(f"{target}/{DONE}"):
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
    """Publish the cache so that no reader ever sees a half-written one and no completed one is deleted.

    A folder: core.data.publish (sibling temp folder, lock, atomic rename, DONE inside). A bucket has no
    rename: the data files go up first and the DONE marker after them, so a reader that finds DONE finds
    every file; two drivers writing the same key write the same content and never delete anything.
    """
    if not is_uri(target):
        write_and_publish(data.save, target)
        return
    with tempfile.TemporaryDirectory(prefix="xmlai-prep-") as tmp:
        data.save(tmp)
        upload_dir(tmp, target)
    write_text(f"{target}/{DONE}", "ok\n")


_LOADED: dict[str, Any] = {}  # cache path -> Prepared, per process: a reused trial actor loads its data once


def load_cached(target: str):
    """Load prepared windows from the cache (downloaded once per node when it is on a cloud bucket).

    Arrays are memory-mapped from the cache's uncompressed .npz members (read-only), so trials running
    side by side on a node share one copy in the page cache, and a process loads each cache only once."""
    if target in _LOADED:
        return _LOADED[target]
    local = target
    if is_uri(target):
        # processes on one node share one local copy: the first takes the lock and downloads, the others
        # wait for it and then read its copy
        local = _local_cache_root() / target.rstrip("/").rsplit("/", 1)[-1]
        if not is_complete(local):
            with dir_lock(local):
                if not is_complete(local):
                    if not exists(f"{target}/{DONE}"):
                        raise FileNotFoundError(f"{target}: no complete prepared-data cache (no {DONE} marker)")
                    write_and_publish(lambda tmp: download_dir(target, tmp), local, locked=True)
    data = _load_mapped(Path(local))
    _LOADED.clear()  # one data set per process at a time (stage 1's small one, or a refit's full one)
    _LOADED[target] = data
    return data


def _load_mapped(d: Path):
    """``Prepared.load`` with every array a read-only memory map into its .npz (np.savez stores, never compresses)."""
    try:
        return Prepared.load(d, read_split=_map_npz)
    except (ValueError, OSError, zipfile.BadZipFile):
        return Prepared.load(d)  # an unexpected layout: read it into memory instead


def _map_npz(path: Path) -> dict[str, np.ndarray]:
    out = {}
    with zipfile.ZipFile(path) as zf, open(path, "rb") as f:
        for info in zf.infolist():
            if info.compress_type != zipfile.ZIP_STORED or not info.filename.endswith(".npy"):
                raise ValueError(f"{path}: {info.filename} is not a stored .npy member")
            # the member's data starts after its local header: 30 bytes + file name + extra field
            f.seek(info.header_offset)
            header = f.read(30)
            if header[:4] != b"PK\x03\x04":
                raise ValueError(f"{path}: bad local header for {info.filename}")
            name_len, extra_len = struct.unpack("<HH", header[26:30])
            f.seek(info.header_offset + 30 + name_len + extra_len)
            version = np.lib.format.read_magic(f)
            read_header = (
                np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(f)
            if dtype.hasobject:
                raise ValueError(f"{path}: {info.filename} holds Python objects")
            key = info.filename[: -len(".npy")]
            if int(np.prod(shape)) == 0:
                out[key] = np.zeros(shape, dtype)
                continue
            out[key] = np.memmap(
                path, dtype=dtype, mode="r", offset=f.tell(), shape=shape, order="F" if fortran else "C"
            )
    return out
