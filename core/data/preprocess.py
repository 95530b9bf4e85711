"""File-level processing and assembly of the prepared data set, shared by every engine.

``process_file`` (bytes -> windows of all timelines of one file, never raises) is what an engine
runs per file: in-process, in a multiprocessing pool, or in a Ray Data ``map`` (distributed/data.py).
``assemble`` turns the per-file results, in whatever order they came, into the same ``Prepared``:
sorted by name, timelines numbered globally, train/val split by a hash of the file name, scalers fit
on the training windows only. ``prepare`` adds file discovery, the built-in corpus and a content
keyed cache (DESIGN.md "Ray": data is prepared once per experiment; trials never re-parse XML).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import tempfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.config import DataConfig
from core.data.file_limit import FileTimeout, slow_file_fault, time_limit, timeout_reason
from core.data.file_pool import map_files
from core.data.formats import read_bytes
from core.data.noise_floor import ORACLE_KEYS, builtin_oracle
from core.data.publish import is_complete, prune, touch, write_and_publish
from core.data.scalers import Scalers
from core.data.split import programmes, signature
from core.data.store import SPLITS, Spill, load_split, save_split, write_split
from core.data.synth import GENERATOR_VERSION, write_corpus
from core.data.timeline import TimelineError
from core.data.windows import empty_windows, windows_of

log = logging.getLogger(__name__)

# Bump when the readers, frames, windows or preprocess change what they produce, so stale caches are never reused.
CODE_VERSION = "prepare-29"  # 4: track_row, source_id; 5: metadata features; 6: programme split; 7: no effects count;
# 8: interpolation shares per dialect in the scalers; 9: interpolation evidence per dialect in the scalers; 10: one .npy
# per array (core.data.store) instead of an .npz per split; 11: readers (Kdenlive compositions, Lightworks named);
# 12: Kdenlive same-track mixes cut; 13: MLT zoned filters and compositions act only in their zone; 14: FCPXML
# auditions and multicam mc-source picture adjustments read; 15: FCPXML sync clips' switched-off audio roles;
# 16: MLT hidden tracks disabled, Kdenlive preview playlists no track; 17: MLT rects fit the picture (its aspect);
# 18: FCPXML switched-off audio channel sources play no sound; 19: xmeml stacked Audio Levels add, Kdenlive's
# black_track playlist skipped, a one-value brightness alpha is an opacity; 20: a container's scale scales its
# content's centre offset; 21: MLT 6 geometry strings, timewarp clip names, image sequences are video; 22: FCPXML
# multicam srcEnable and split edits, volume stages add, sync clips' gap-connected contents; 23: Kdenlive's
# start/end fades; 24: MLT decimal-comma locales, FCPXML transitions by spine order; 25: qtblend turns about
# the rect's corner without rotate_center; 26: Shotcut's rotation and balance, volume fades ramp the gain;
# 27 (sessions 27-28): FCPXML conform-rate chart, conformed local time, rotation clockwise, Crop and Ken Burns,
# compound-only exports; xmeml Resolve link groups and odd transitions, Premiere stream channels, VEGAS stills and
# sequence-frame units, -black transitions; MLT compositions fit the clip's picture, scale0tilt, swapped mixes;
# 28 (session 29): xmeml FCP 7 keys linear unless Bezier handles smooth them; a muted dB key stays silent under a gain;
# MLT decimal commas by glibc's locale data; an FCPXML sync clip's sound takes its content's channel and speed;
# 29 (session 29): xmeml scale under FCP 7's Distort aspect is the height's factor (after 28's caches were made)
EXTENSIONS = (".xml", ".fcpxml", ".mlt", ".kdenlive")
# DataConfig fields that change the prepared data (the time limit: which files are left out); workers and
# cache_dir do not.
WINDOW_FIELDS = (
    "step_s",
    "window",
    "overlap",
    "max_tracks",
    "val_fraction",
    "split_seed",
    "split_by",
    "file_timeout_s",
)


# ----------------------------------------------------------------------------- split


def split_mode(cfg: DataConfig) -> str:
    """ "file", "programme" or "none": ``data.split_by``, where "auto" is by programme for a folder of exports and
    by file for the built-in corpus (whose files are all distinct timelines); "none" puts every file on the
    validation side (a folder to evaluate on)."""
    if cfg.split_by == "auto":
        return "programme" if cfg.data_dir else "file"
    return cfg.split_by


def split_of(name: str, val_fraction: float, seed: int) -> str:
    """Return "train" or "val" from a stable hash of the file's base name (order- and machine-independent)."""
    h = zlib.crc32(f"{seed}:{os.path.basename(name)}".encode())
    return "val" if h / 2**32 < val_fraction else "train"


# ----------------------------------------------------------------------------- one file


@dataclass
class FileResult:
    """What an engine returns per file. ``windows`` holds the raw arrays of all timelines of the file
    (``timeline`` = index within the file; ``assemble`` renumbers) and, for validation files of the
    built-in corpus, ``oracle_targets`` / ``oracle_keyframe``."""

    name: str
    split: str
    windows: dict[str, np.ndarray] | None
    n_timelines: int
    error: str = ""
    digest: str = ""
    signature: str = ""  # core.data.split.signature: the file's clip names, for the split by programme


def file_name(path: str | os.PathLike, cfg: DataConfig) -> str:
    """The name a file is split, sorted and reported by: its path relative to ``cfg.data_dir`` when it
    lies under it (so equal base names in two sub-folders stay distinct), else its base name."""
    p = Path(path)
    if cfg.data_dir:
        root = Path(cfg.data_dir)
        # as found under the folder first: a symlinked file keeps its place in the folder's layout
        for a, b in ((p.absolute(), root.absolute()), (p.resolve(), root.resolve())):
            try:
                return a.relative_to(b).as_posix()
            except ValueError:
                pass
    return p.name


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def process_file(name: str, data: bytes, cfg: DataConfig) -> FileResult:
    """Parse one file and window all its timelines. Never raises: a failure is ``error`` naming the file,
    and so is a parse and windowing that take longer than ``cfg.file_timeout_s`` (core.data.file_limit)."""
    digest = _digest(data)
    split = split_of(name, cfg.val_fraction, cfg.split_seed)
    try:
        with time_limit(cfg.file_timeout_s, name):
            slow_file_fault(name)
            timelines = read_bytes(data, name)
            if not timelines:
                raise TimelineError(name, "no timeline (sequence) in the file")
            windows = windows_of(timelines, cfg)
        if split == "val":
            oracle = builtin_oracle(name, data, cfg, windows)
            if oracle is not None:
                windows.update(oracle)
        return FileResult(name, split, windows, len(timelines), "", digest, signature(timelines))
    except Exception as e:  # one bad file (or a reader bug) must never stop the others
        msg = str(e) if name in str(e) else f"{name}: {e}"
        return FileResult(name, split, None, 0, f"{type(e).__name__}: {msg}", digest)


# ----------------------------------------------------------------------------- assembly


@dataclass
class Prepared:
    """Windows ready for training: raw arrays (core.data.batch.RAW_KEYS) per split, the train scalers,
    per-file errors [(name, reason)], all input file names (sorted) and ``meta`` (config, cache key, counts).
    On disk (``save``, ``assemble(folder=)``): ``train/`` and ``val/`` with one ``.npy`` per array
    (core.data.store), ``scalers.json`` and ``prepared.json``; ``load`` maps the arrays read-only."""

    train: dict[str, np.ndarray]
    val: dict[str, np.ndarray]
    scalers: Scalers
    errors: list[tuple[str, str]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def save(self, d: str | Path) -> None:
        """Arrays as .npy (no pickle), the rest as JSON."""
        d = Path(d)
        for split in SPLITS:
            save_split(d / split, getattr(self, split))
        _write_info(d, self.scalers, self.errors, self.files, self.meta)

    @classmethod
    def load(cls, d: str | Path, mmap: bool = True) -> Prepared:
        """Read what ``save`` wrote: the arrays as read-only memory maps (``mmap``), or into memory."""
        d = Path(d)
        if not (d / "train").is_dir():
            older = (d / "train.npz").exists()  # the layout before CODE_VERSION prepare-10
            why = " (train.npz: written by an older xmlai; prepare the data again)" if older else ""
            raise FileNotFoundError(f"{d}: no prepared windows (train/){why}")
        info = json.loads((d / "prepared.json").read_text())
        return cls(
            load_split(d / "train", mmap),
            load_split(d / "val", mmap),
            Scalers.load(d / "scalers.json"),
            [tuple(e) for e in info["errors"]],
            list(info["files"]),
            dict(info["meta"]),
        )


def _write_info(d: Path, scalers: Scalers, errors: list, files: list[str], meta: dict[str, Any]) -> None:
    d.mkdir(parents=True, exist_ok=True)
    scalers.save(d / "scalers.json")
    info = {"errors": [list(e) for e in errors], "files": files, "meta": meta}
    (d / "prepared.json").write_text(json.dumps(info, indent=1))


def assemble(
    results: Iterable[FileResult], cfg: DataConfig, cache_key: str = "", folder: str | Path | None = None
) -> Prepared:
    """Per-file results (any order) -> Prepared: sorted by name, timelines numbered globally,
    train/val split (by file name or programme), scalers fit on train only, failures collected as errors.

    ``results`` are taken one at a time and each file's windows are parked on disk at once
    (core.data.store), so a generator of results (the engines' own) keeps one file's windows in memory,
    whatever the size of the corpus; each split is then written part by part. ``folder``: where the
    prepared data set is written (``Prepared.save``'s layout), returned memory-mapped from there; without
    one, a temporary folder, and the arrays come back in memory.
    """
    if folder is None:
        with tempfile.TemporaryDirectory(prefix="xmlai-prepared-") as tmp:
            _assemble_into(results, cfg, cache_key, Path(tmp))
            return Prepared.load(tmp, mmap=False)
    _assemble_into(results, cfg, cache_key, Path(folder))
    return Prepared.load(folder)


def _assemble_into(results: Iterable[FileResult], cfg: DataConfig, cache_key: str, folder: Path) -> None:
    spill = Spill(folder / ".spill")
    try:
        parked: dict[str, Path] = {}
        kept = []
        for r in results:  # one at a time: the windows go to disk, the rest of the result stays
            if not r.error and r.windows is not None:
                parked[r.name] = spill.put(r.windows)
                r = dataclasses.replace(r, windows=None)
            kept.append(r)
        results = sorted(kept, key=lambda r: r.name)
        names = [r.name for r in results]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"two input files share a name (the split is by name): {dup[:5]}")
        programme: dict[str, str] = {}
        mode = split_mode(cfg)
        if mode == "none":  # a folder to evaluate on
            results = [dataclasses.replace(r, split="val") for r in results]
        elif mode == "programme":  # versions of one edit go to the same side
            programme = programmes({r.name: r.signature for r in results if r.name in parked})
            by_programme = [
                dataclasses.replace(r, split=split_of(programme[r.name], cfg.val_fraction, cfg.split_seed))
                if r.name in programme
                else r
                for r in results
            ]
            sides = {r.split for r in by_programme if r.name in parked}
            if cfg.split_by == "programme" or sides == {"train", "val"}:
                results = by_programme
            else:  # "auto" and the grouping left one side empty (one programme, or the built-in corpus's names)
                programme = {}
        parts: dict[str, list[tuple[Path, int]]] = {split: [] for split in SPLITS}
        errors: list[tuple[str, str]] = []
        splits: dict[str, str] = {}
        timelines_of: dict[str, list[int]] = {}
        n_timelines = 0
        for r in results:
            if r.name not in parked:
                errors.append((r.name, r.error or "no windows"))
                continue
            parts[r.split].append((parked[r.name], n_timelines))
            timelines_of[r.name] = [n_timelines, r.n_timelines]
            n_timelines += r.n_timelines
            splits[r.name] = r.split
        for split in SPLITS:
            write_split(folder / split, parts[split], _template(parts[split], cfg))
    finally:
        spill.remove()
    train = load_split(folder / "train")
    n_val = len(np.load(folder / "val" / "timeline.npy", mmap_mode="r"))
    meta = {
        "data": dataclasses.asdict(cfg),
        "cache_key": cache_key,
        "code_version": CODE_VERSION,
        "n_files": len(results),
        "n_errors": len(errors),
        "n_timelines": n_timelines,
        "n_train_windows": int(len(train["timeline"])),
        "n_val_windows": int(n_val),
        "n_train_files": len(parts["train"]),
        "n_val_files": len(parts["val"]),
        "splits": splits,
        "split_by": mode,
        "programmes": programme,
        "timelines_of": timelines_of,  # file -> [first global timeline number, count]
        "digests": {r.name: r.digest for r in results},
        "noise_floor": (folder / "val" / f"{ORACLE_KEYS[0]}.npy").is_file(),
    }
    _write_info(folder, Scalers.fit(train), errors, names, meta)


def _template(parts: list[tuple[Path, int]], cfg: DataConfig) -> dict[str, np.ndarray]:
    """The arrays a split is written with: every window key, and the noise floor's oracle only where every
    part has it (else its windows would not align)."""
    template = empty_windows(cfg.window, cfg.max_tracks)
    if parts:
        if all((path / f"{k}.npy").is_file() for path, _ in parts for k in ORACLE_KEYS):
            template.update({k: np.load(parts[0][0] / f"{k}.npy", mmap_mode="r")[:0] for k in ORACLE_KEYS})
    return template


# ----------------------------------------------------------------------------- prepare


def cache_root(cfg: DataConfig) -> Path:
    return Path(cfg.cache_dir).expanduser() if cfg.cache_dir else Path.home() / ".cache" / "xmlai"


def input_paths(cfg: DataConfig, paths: list[str | os.PathLike] | None = None) -> list[Path]:
    """Explicit ``paths``; else every timeline file under ``cfg.data_dir`` (recursive, sorted); else the
    built-in corpus, written once under the cache root."""
    if paths is not None:
        return [Path(p) for p in paths]
    if cfg.data_dir:
        root = Path(cfg.data_dir)
        if not root.is_dir():
            raise FileNotFoundError(f"data.data_dir {root} is not a folder")
        found = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS)
        if not found:
            raise FileNotFoundError(f"no timeline files ({', '.join(EXTENSIONS)}) under {root}")
        return found
    return [
        Path(p)
        # one folder per generator version: checkouts of other versions sharing the cache never rewrite it
        for p in write_corpus(
            cache_root(cfg) / "synth" / f"v{GENERATOR_VERSION}_seed_{cfg.synth_seed}", cfg.synth_count, cfg.synth_seed
        )
    ]


def cache_key_of(names: list[str], digests: list[str], cfg: DataConfig) -> str:
    """sha256 of the sorted (name, content digest) pairs, the window-shaping config fields and CODE_VERSION."""
    payload = {
        "code": CODE_VERSION,
        "data": {f: getattr(cfg, f) for f in WINDOW_FIELDS},
        # the noise floor depends on the generator seed behind the built-in corpus's names
        "builtin": None if cfg.data_dir else cfg.synth_seed,
        "files": sorted(zip(names, digests)),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _work(item: tuple[str, bytes, DataConfig]) -> FileResult:
    return process_file(*item)


def _lost(item: tuple[str, bytes, DataConfig], why: str) -> FileResult:
    """The error row of a file whose worker was killed for overrunning its limit, or died on it."""
    name, data, cfg = item
    if why == "timeout":
        error = f"{FileTimeout.__name__}: {timeout_reason(name, cfg.file_timeout_s)}"
    else:
        error = f"WorkerLost: {name}: {why} while preparing it: skipped"
    return FileResult(name, split_of(name, cfg.val_fraction, cfg.split_seed), None, 0, error, _digest(data))


def prepare(
    cfg: DataConfig,
    paths: list[str] | None = None,
    engine: str = "local",
    cache: bool = True,
    folder: str | Path | None = None,
) -> Prepared:
    """Files -> Prepared, through the content-keyed cache. ``engine="local"``: in-process, or a process
    pool of ``cfg.workers`` (same result). The Ray engine lives in distributed/data.py and calls
    ``process_file`` + ``assemble`` itself. Without the cache, ``folder`` is where the prepared data set is
    written (memory-mapped from there), else the arrays come back in memory."""
    if engine != "local":
        raise ValueError(
            f"core.data.preprocess.prepare runs the local engine only, got engine={engine!r} "
            "(the Ray engine is distributed.data.prepare_ray)"
        )
    files = input_paths(cfg, paths)
    names = [file_name(p, cfg) for p in files]
    order = sorted(range(len(files)), key=lambda i: names[i])
    files, names = [files[i] for i in order], [names[i] for i in order]
    digests = [hashlib.sha256(p.read_bytes()).hexdigest() for p in files]
    key = cache_key_of(names, digests, cfg)
    target = cache_root(cfg) / "prepared" / key
    if cache and is_complete(target):
        touch(target)  # used now: the cache keeps it longest (prune)
        return Prepared.load(target)

    items = ((n, p.read_bytes(), cfg) for n, p in zip(names, files))  # lazy: one file in memory per busy worker
    if cfg.workers > 0 and len(files) > 1:
        results = map_files(_work, items, min(cfg.workers, len(files)), cfg.file_timeout_s, _lost)
    else:
        results = (_work(it) for it in items)
    if not cache:
        return assemble(results, cfg, cache_key=key, folder=folder)
    # assembled in a sibling temp folder, then published (core.data.publish): readers never see a half-written
    # cache, and a cache another process has just completed is kept, never deleted
    write_and_publish(lambda tmp: _assemble_into(results, cfg, key, tmp), target)
    if cfg.cache_max_gb > 0:
        for gone in prune(target.parent, int(cfg.cache_max_gb * 1e9), keep=target):
            log.warning(
                "prepared-data cache over data.cache_max_gb=%g: removed %s, used least recently", cfg.cache_max_gb, gone
            )
    return Prepared.load(target)
