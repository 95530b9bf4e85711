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
import os
import re
import shutil
import tempfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.config import REGRESSION_TARGETS, DataConfig
from core.data.batch import MODEL_FEATURES, transform_features
from core.data.frames import timeline_to_frames
from core.data.timeline import INTERPOLATIONS, TRACK_KINDS, TimelineError
from core.data.windows import concat_windows, make_windows

# Bump when frames/windows/preprocess change what they produce, so stale caches are never reused.
CODE_VERSION = "prepare-4"  # 4: track_row, source_id
EXTENSIONS = (".xml", ".fcpxml", ".mlt", ".kdenlive")
# Floor on each target's std in native units (DESIGN.md): a nearly constant target (rotation is 0
# almost everywhere) must not blow up its standardised errors.
STD_FLOOR = {
    "scale": 1.0,
    "rotation": 1.0,
    "center_x": 0.01,
    "center_y": 0.01,
    "opacity": 1.0,
    "level_db": 1.0,
    "pan": 0.1,
}
FEATURE_STD_MIN = 1e-6  # a constant feature (kind_sequence on a corpus without nests) keeps std 1
# DataConfig fields that change the windows; workers and cache_dir do not.
WINDOW_FIELDS = ("step_s", "window", "overlap", "max_tracks", "val_fraction", "split_seed")
ORACLE_DRAWS = 16  # style/noise draws averaged for the built-in corpus's noise floor


# ----------------------------------------------------------------------------- split


def split_of(name: str, val_fraction: float, seed: int) -> str:
    """Return "train" or "val" from a stable hash of the file's base name (order- and machine-independent)."""
    h = zlib.crc32(f"{seed}:{os.path.basename(name)}".encode())
    return "val" if h / 2**32 < val_fraction else "train"


# ----------------------------------------------------------------------------- scalers


def _like(values, x):
    """``values`` (a list) as an array/tensor broadcastable against ``x`` (numpy array or torch tensor)."""
    if isinstance(x, np.ndarray) or np.isscalar(x):
        return np.asarray(values, dtype=np.float32 if getattr(x, "dtype", None) == np.float32 else np.float64)
    import torch  # only reached with tensors; keeps this module importable without torch in workers

    return torch.as_tensor(values, dtype=x.dtype, device=x.device)


@dataclass
class Scalers:
    """Train-set statistics, frozen with the prepared data. JSON in and out, never pickle.

    ``baseline`` is the constant predictor every report divides by:
    {"regression": {target: {"video": mean, "audio": mean}} (standardised units),
     "keyframe": {"video": rate, "audio": rate}, "interpolation": [p_linear, p_smooth, p_hold]}.
    """

    feature_names: list[str] = field(default_factory=lambda: list(MODEL_FEATURES))
    feature_mean: list[float] = field(default_factory=lambda: [0.0] * len(MODEL_FEATURES))
    feature_std: list[float] = field(default_factory=lambda: [1.0] * len(MODEL_FEATURES))
    target_names: list[str] = field(default_factory=lambda: list(REGRESSION_TARGETS))
    target_mean: list[float] = field(default_factory=lambda: [0.0] * len(REGRESSION_TARGETS))
    target_std: list[float] = field(default_factory=lambda: [1.0] * len(REGRESSION_TARGETS))
    baseline: dict[str, Any] = field(default_factory=dict)
    keyframe_pos_weight: float = 1.0
    counts: dict[str, int] = field(default_factory=dict)  # positions the statistics were fit on

    @classmethod
    def fit(cls, raw: dict[str, np.ndarray]) -> Scalers:
        """Fit on training windows: features over real steps, targets over their valid positions."""
        step_mask = raw["step_mask"]  # (N, K, T)
        x = transform_features(raw["features"][step_mask]).astype(np.float64)  # (M, F) model space
        if len(x):
            fmean, fstd = x.mean(axis=0), x.std(axis=0)
        else:
            fmean, fstd = np.zeros(len(MODEL_FEATURES)), np.ones(len(MODEL_FEATURES))
        fstd = np.where(fstd < FEATURE_STD_MIN, 1.0, fstd)

        kind = np.broadcast_to(raw["track_kind"][:, :, None], step_mask.shape)  # (N, K, T)
        tmean, tstd, reg = [], [], {}
        for i, name in enumerate(REGRESSION_TARGETS):
            valid = raw["target_valid"][..., i]
            y = raw["targets"][..., i][valid].astype(np.float64)
            m = float(y.mean()) if len(y) else 0.0
            s = max(float(y.std()) if len(y) else 0.0, STD_FLOOR[name])
            tmean.append(m)
            tstd.append(s)
            reg[name] = {}
            for k, kname in enumerate(TRACK_KINDS):
                yk = raw["targets"][..., i][valid & (kind == k)].astype(np.float64)
                reg[name][kname] = float((yk.mean() - m) / s) if len(yk) else 0.0

        kv, kf = raw["keyframe_valid"], raw["keyframe"]
        rates = {}
        for k, kname in enumerate(TRACK_KINDS):
            sel = kv & (kind == k)
            rates[kname] = float(kf[sel].mean()) if sel.any() else 0.0
        pos = int(kf[kv].sum())
        neg = int(kv.sum()) - pos
        counts = np.bincount(raw["interpolation"][raw["interp_valid"]], minlength=len(INTERPOLATIONS))
        interp = (counts / counts.sum()).tolist() if counts.sum() else [1.0 / len(INTERPOLATIONS)] * len(INTERPOLATIONS)
        return cls(
            feature_mean=fmean.tolist(),
            feature_std=fstd.tolist(),
            target_mean=tmean,
            target_std=tstd,
            baseline={"regression": reg, "keyframe": rates, "interpolation": interp},
            keyframe_pos_weight=float(np.sqrt(neg / pos)) if pos > 0 and neg > 0 else 1.0,
            counts={
                "steps": int(step_mask.sum()),
                "keyframe_valid": int(kv.sum()),
                "keys": pos,
                **{f"valid_{n}": int(raw["target_valid"][..., i].sum()) for i, n in enumerate(REGRESSION_TARGETS)},
            },
        )

    def standardise_features(self, x):
        """(..., F) model-space features (core.data.batch.transform_features) -> standardised (numpy or torch)."""
        return (x - _like(self.feature_mean, x)) / _like(self.feature_std, x)

    def standardise_targets(self, y):
        """(..., R) native units -> standardised (numpy or torch)."""
        return (y - _like(self.target_mean, y)) / _like(self.target_std, y)

    def destandardise_targets(self, y):
        """(..., R) standardised -> native units (numpy or torch)."""
        return y * _like(self.target_std, y) + _like(self.target_mean, y)

    def destandardise_target(self, name: str, y):
        """One target's (...) standardised values -> native units."""
        i = self.target_names.index(name)
        return y * self.target_std[i] + self.target_mean[i]

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> Scalers:
        d = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"scalers JSON has unknown fields {sorted(unknown)}")
        s = cls(**d)
        if s.feature_names != list(MODEL_FEATURES) or s.target_names != list(REGRESSION_TARGETS):
            raise ValueError(
                "scalers JSON was fit on other features/targets than this code's core.data.batch.FEATURES "
                f"/ REGRESSION_TARGETS: {s.feature_names} / {s.target_names}"
            )
        return s

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> Scalers:
        return cls.from_json(Path(path).read_text())


# ----------------------------------------------------------------------------- one file

ORACLE_KEYS = ("oracle_targets", "oracle_keyframe")
_SYNTH_NAME = re.compile(r"^synth_(\d{5})\.xml$")


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


def file_name(path: str | os.PathLike, cfg: DataConfig) -> str:
    """The name a file is split, sorted and reported by: its path relative to ``cfg.data_dir`` when it
    lies under it (so equal base names in two sub-folders stay distinct), else its base name."""
    p = Path(path)
    if cfg.data_dir:
        try:
            return p.resolve().relative_to(Path(cfg.data_dir).resolve()).as_posix()
        except ValueError:
            pass
    return p.name


def _windows_of(timelines, cfg: DataConfig) -> dict[str, np.ndarray]:
    parts = [
        make_windows(timeline_to_frames(tl, cfg.step_s), cfg.window, cfg.overlap, cfg.max_tracks, timeline=i)
        for i, tl in enumerate(timelines)
    ]
    return concat_windows(parts, cfg.window, cfg.max_tracks)


def process_file(name: str, data: bytes, cfg: DataConfig) -> FileResult:
    """Parse one file and window all its timelines. Never raises: a failure is ``error`` naming the file."""
    digest = hashlib.sha256(data).hexdigest()
    split = split_of(name, cfg.val_fraction, cfg.split_seed)
    try:
        from core.data.formats import read_bytes

        timelines = read_bytes(data, name)
        if not timelines:
            raise TimelineError(name, "no timeline (sequence) in the file")
        windows = _windows_of(timelines, cfg)
        if split == "val":
            oracle = builtin_oracle(name, data, cfg, windows)
            if oracle is not None:
                windows.update(oracle)
        return FileResult(name, split, windows, len(timelines), "", digest)
    except Exception as e:  # one bad file (or a reader bug) must never stop the others
        msg = str(e) if name in str(e) else f"{name}: {e}"
        return FileResult(name, split, None, 0, f"{type(e).__name__}: {msg}", digest)


def builtin_oracle(
    name: str, data: bytes, cfg: DataConfig, windows: dict[str, np.ndarray], draws: int = ORACLE_DRAWS
) -> dict[str, np.ndarray] | None:
    """Noise floor of a built-in corpus file: targets (N, K, T, R) and keyframe probability (N, K, T)
    averaged over ``draws`` other style/noise draws of the same structure, aligned with ``windows``.

    None unless the file is byte-for-byte what ``core.data.synth`` writes for its name (so a user's file that
    happens to be called synth_00001.xml never gets a made-up floor). Draws go through the same
    xmeml writer and reader as the corpus, so units and rounding match the file's targets.
    """
    m = _SYNTH_NAME.match(os.path.basename(name))
    if cfg.data_dir is not None or m is None:
        return None
    from core.data import synth
    from core.data.formats import read_bytes
    from core.data.formats.xmeml_writer import write_xmeml

    seed = synth.corpus_seed(int(m.group(1)), cfg.synth_seed)
    if write_xmeml(synth.generate_timeline(seed)) != data:
        return None
    acc_t = np.zeros(windows["targets"].shape, np.float64)  # (N, K, T, R)
    acc_k = np.zeros(windows["keyframe"].shape, np.float64)  # (N, K, T)
    for k in range(draws):
        w = _windows_of(read_bytes(write_xmeml(synth.generate_timeline(seed, style_draw=k)), name), cfg)
        if any(
            w[key].shape != windows[key].shape or not np.array_equal(w[key], windows[key])
            for key in ("step_mask", "clip_id", "target_valid", "keyframe_valid")
        ):
            return None  # not the same structure: no honest floor for this file
        acc_t += w["targets"]
        acc_k += w["keyframe"]
    return {"oracle_targets": (acc_t / draws).astype(np.float32), "oracle_keyframe": (acc_k / draws).astype(np.float32)}


# ----------------------------------------------------------------------------- assembly


@dataclass
class Prepared:
    """Windows ready for training: raw arrays (core.data.batch.RAW_KEYS) per split, the train scalers,
    per-file errors [(name, reason)], all input file names (sorted) and ``meta`` (config, cache key, counts)."""

    train: dict[str, np.ndarray]
    val: dict[str, np.ndarray]
    scalers: Scalers
    errors: list[tuple[str, str]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def save(self, d: str | Path) -> None:
        """Arrays as .npz (no pickle), the rest as JSON."""
        d = Path(d)
        d.mkdir(parents=True, exist_ok=True)
        np.savez(d / "train.npz", **self.train)
        np.savez(d / "val.npz", **self.val)
        self.scalers.save(d / "scalers.json")
        (d / "prepared.json").write_text(
            json.dumps({"errors": [list(e) for e in self.errors], "files": self.files, "meta": self.meta}, indent=1)
        )

    @classmethod
    def load(cls, d: str | Path) -> Prepared:
        d = Path(d)
        arrays = {}
        for split in ("train", "val"):
            with np.load(d / f"{split}.npz", allow_pickle=False) as z:
                arrays[split] = {k: z[k] for k in z.files}
        info = json.loads((d / "prepared.json").read_text())
        return cls(
            arrays["train"],
            arrays["val"],
            Scalers.load(d / "scalers.json"),
            [tuple(e) for e in info["errors"]],
            list(info["files"]),
            dict(info["meta"]),
        )


def _concat(parts: list[dict[str, np.ndarray]], cfg: DataConfig) -> dict[str, np.ndarray]:
    out = concat_windows(parts, cfg.window, cfg.max_tracks)
    # the oracle only where every file of the split has one, else its windows would not align
    if parts and all(all(k in p for k in ORACLE_KEYS) for p in parts):
        for k in ORACLE_KEYS:
            out[k] = np.concatenate([p[k] for p in parts], axis=0)
    return out


def assemble(results: Iterable[FileResult], cfg: DataConfig, cache_key: str = "") -> Prepared:
    """Per-file results (any order) -> Prepared: sorted by name, timelines numbered globally,
    train/val concatenated, scalers fit on train only, failures collected as errors."""
    results = sorted(results, key=lambda r: r.name)
    names = [r.name for r in results]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"two input files share a name (the split is by name): {dup[:5]}")
    parts: dict[str, list] = {"train": [], "val": []}
    errors: list[tuple[str, str]] = []
    splits: dict[str, str] = {}
    n_timelines = 0
    for r in results:
        if r.error or r.windows is None:
            errors.append((r.name, r.error or "no windows"))
            continue
        w = dict(r.windows)
        w["timeline"] = w["timeline"] + n_timelines
        n_timelines += r.n_timelines
        splits[r.name] = r.split
        parts[r.split].append(w)
    train, val = _concat(parts["train"], cfg), _concat(parts["val"], cfg)
    meta = {
        "data": dataclasses.asdict(cfg),
        "cache_key": cache_key,
        "code_version": CODE_VERSION,
        "n_files": len(results),
        "n_errors": len(errors),
        "n_timelines": n_timelines,
        "n_train_windows": int(len(train["timeline"])),
        "n_val_windows": int(len(val["timeline"])),
        "n_train_files": len(parts["train"]),
        "n_val_files": len(parts["val"]),
        "splits": splits,
        "digests": {r.name: r.digest for r in results},
        "noise_floor": "oracle_targets" in val,
    }
    return Prepared(train, val, Scalers.fit(train), errors, names, meta)


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
    from core.data.synth import write_corpus

    return [
        Path(p)
        for p in write_corpus(cache_root(cfg) / "synth" / f"seed_{cfg.synth_seed}", cfg.synth_count, cfg.synth_seed)
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


def prepare(cfg: DataConfig, paths: list[str] | None = None, engine: str = "local", cache: bool = True) -> Prepared:
    """Files -> Prepared, through the content-keyed cache. ``engine="local"``: in-process, or a process
    pool of ``cfg.workers`` (same result). The Ray engine lives in distributed/data.py and calls
    ``process_file`` + ``assemble`` itself."""
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
    if cache and (target / "DONE").is_file():
        return Prepared.load(target)

    items = ((n, p.read_bytes(), cfg) for n, p in zip(names, files))  # lazy: one file in memory per task
    if cfg.workers > 0 and len(files) > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(min(cfg.workers, len(files))) as pool:
            results = list(pool.imap_unordered(_work, items, chunksize=max(1, len(files) // (8 * cfg.workers))))
    else:
        results = [_work(it) for it in items]
    data = assemble(results, cfg, cache_key=key)
    if cache:
        _save_atomic(data, target)
    return data


def _save_atomic(data: Prepared, target: Path) -> None:
    """Write into a sibling temp folder, mark it DONE, rename: readers never see a half-written cache."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        data.save(tmp)
        (tmp / "DONE").write_text("ok\n")
        if (target / "DONE").is_file():
            return  # another process finished the same data first: keep theirs
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)  # an interrupted earlier attempt (no DONE)
        os.replace(tmp, target)
    except OSError:
        if not (target / "DONE").is_file():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
