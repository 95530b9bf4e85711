"""Prepared windows on disk: one ``.npy`` per array and split, read back as read-only memory maps.

The windows of a corpus are dense (8 tracks x 100 steps x 56 features per window, float32): the 91 real
exports of the shared corpora make 4.6 GB, and a broadcaster's archive ten times that. So assembly never
holds them all: each file's windows are parked on disk as they arrive (``Spill``), and once every file is
in and the split is known, each split's arrays are written part by part (``write_split``), one array of
one file in memory at a time. Training then maps them (``load_split``): pages come from the page cache as
batches touch them, and processes on one machine share them.

Plain ``.npy`` files (no pickle: ``allow_pickle=False`` on every read), so a cache is as safe to read as
the exports themselves, and ``np.load(mmap_mode="r")`` maps it with no custom reader.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

SPLITS = ("train", "val")


class Spill:
    """Per-file windows parked in ``folder`` (a sub-folder of ``.npy`` files each) until assembly."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._count = 0

    def put(self, windows: dict[str, np.ndarray]) -> Path:
        """Write one file's windows; returns where (``write_split`` reads it back)."""
        path = self.folder / f"{self._count:07d}"
        self._count += 1
        save_split(path, windows)
        return path

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def write_split(folder: str | Path, parts: list[tuple[Path, int]], template: dict[str, np.ndarray]) -> None:
    """Concatenate parked parts along N into ``folder/<key>.npy``, one file's array in memory at a time.

    ``parts``: (spill path, offset added to its ``timeline``) in the order the split keeps. ``template``: the
    keys to write with their dtypes and trailing shapes (``core.data.windows.empty_windows``, plus any extra
    key every part has); a part whose array has another trailing shape is refused, as ``np.concatenate`` would.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sizes = [len(np.load(path / "timeline.npy", mmap_mode="r")) for path, _ in parts]
    total = sum(sizes)
    outs = {}
    try:
        for key, like in template.items():
            f = open(folder / f"{key}.npy", "wb")  # noqa: SIM115 (closed below, all together)
            outs[key] = f
            header = {"descr": np.lib.format.dtype_to_descr(like.dtype), "fortran_order": False}
            np.lib.format.write_array_header_1_0(f, {**header, "shape": (total, *like.shape[1:])})
        for (path, offset), n in zip(parts, sizes):
            for key, like in template.items():
                part = np.load(path / f"{key}.npy", allow_pickle=False)
                if part.shape != (n, *like.shape[1:]):
                    want = (n, *like.shape[1:])
                    raise ValueError(f"window key {key!r}: a part of shape {part.shape} where {want} belongs")
                if key == "timeline":
                    part = part + offset
                outs[key].write(np.ascontiguousarray(part, like.dtype).data)
                del part
    finally:
        for f in outs.values():
            f.close()


def save_split(folder: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """Arrays already in memory -> ``folder/<key>.npy`` (what ``write_split`` writes from parts)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for key, a in arrays.items():
        np.save(folder / f"{key}.npy", np.ascontiguousarray(a), allow_pickle=False)


def load_split(folder: str | Path, mmap: bool = True) -> dict[str, np.ndarray]:
    """Every ``<key>.npy`` of ``folder``: read-only memory maps (``mmap``), or read into memory."""
    out = {}
    for path in sorted(Path(folder).glob("*.npy")):
        out[path.stem] = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    return out
