"""Publishing a finished folder (a prepared-data cache) where other processes may read or write the same one.

One implementation for every writer: the local cache of ``core.data.preprocess.prepare``, the experiment
cache of ``distributed.data`` on a local or shared folder, and each node's copy of a cache downloaded from a
bucket. The rules:

- a folder appears at ``target`` only by an atomic rename of a complete folder holding ``DONE``, so a
  reader that sees ``DONE`` sees every file;
- publishers of one ``target`` take a lock (``flock`` on a sibling file, released by the kernel if the
  process dies) and check again under it, so a folder another process has just completed is never
  deleted or replaced; the first complete copy wins and the others are dropped;
- only a folder without ``DONE`` (left by an interrupted writer of an older version) is removed by a
  publisher; ``prune`` removes complete ones, the least recently used first, to keep a cache within its size.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

DONE = "DONE"


def is_complete(target: str | os.PathLike) -> bool:
    """True when ``target`` holds a complete published folder."""
    return (Path(target) / DONE).is_file()


@contextlib.contextmanager
def dir_lock(target: str | os.PathLike) -> Iterator[None]:
    """Exclusive lock for creating ``target`` (a ``.<name>.lock`` file next to it)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def publish_dir(tmp: str | os.PathLike, target: str | os.PathLike, *, locked: bool = False) -> bool:
    """Move the complete folder ``tmp`` to ``target`` (writing its ``DONE`` marker last).

    Returns False when a complete ``target`` already exists: theirs is kept and ``tmp`` is removed.
    ``locked=True`` when the caller already holds ``dir_lock(target)``.
    """
    tmp, target = Path(tmp), Path(target)
    if not locked:
        with dir_lock(target):
            return publish_dir(tmp, target, locked=True)
    if is_complete(target):
        shutil.rmtree(tmp, ignore_errors=True)
        return False
    (tmp / DONE).write_text("ok\n")
    if target.exists():  # incomplete (no DONE) and, under the lock, nobody is writing it now
        aside = target.with_name(f".{target.name}.stale.{os.getpid()}")
        os.rename(target, aside)
        shutil.rmtree(aside, ignore_errors=True)
    os.rename(tmp, target)
    return True


def write_and_publish(write: Callable[[Path], None], target: str | os.PathLike, *, locked: bool = False) -> bool:
    """Let ``write`` fill a sibling temp folder of ``target``, then publish it (``publish_dir``, same return);
    the temp folder never stays behind."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        write(tmp)
        return publish_dir(tmp, target, locked=locked)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def touch(target: str | os.PathLike) -> None:
    """Mark a complete folder as used now (its ``DONE`` marker's time), for ``prune``."""
    with contextlib.suppress(OSError):
        os.utime(Path(target) / DONE)


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def prune(root: str | os.PathLike, max_bytes: int, keep: str | os.PathLike, min_idle_s: float = 3600.0) -> list[Path]:
    """Remove complete folders under ``root``, the least recently used first (``DONE``'s time: published or
    ``touch``ed), until they take at most ``max_bytes``; never ``keep`` nor one used within ``min_idle_s``
    (another process may be about to load it; one that has memory-mapped its files keeps them). Each goes
    under its lock, renamed aside first, so no reader sees half a folder. Returns the folders removed."""
    root, keep = Path(root), Path(keep)
    entries = []
    for d in root.iterdir():
        with contextlib.suppress(OSError):  # another process may be removing it now
            if d.is_dir() and is_complete(d):
                entries.append((d, (d / DONE).stat().st_mtime))
    sizes = {d: folder_bytes(d) for d, _ in entries}
    total, removed, now = sum(sizes.values()), [], time.time()
    for d, used in sorted(entries, key=lambda e: e[1]):
        if total <= max_bytes:
            break
        if d == keep or now - used < min_idle_s:
            continue
        with dir_lock(d):
            if not is_complete(d) or (d / DONE).stat().st_mtime != used:
                continue  # used again meanwhile, or gone
            aside = d.with_name(f".{d.name}.pruned.{os.getpid()}")
            os.rename(d, aside)
        shutil.rmtree(aside, ignore_errors=True)
        total -= sizes[d]
        removed.append(d)
    return removed
