"""Worker processes for preparation that outlive a file that never finishes.

``multiprocessing.Pool`` cannot take back a task: one file stuck inside a C call holds its worker
for good and the whole preparation waits. Here each worker takes one file at a time over its own
pipe; the parent watches how long each has been busy, kills a worker that overruns its file's limit
(``time_limit_s`` + ``KILL_GRACE_S``: the worker's own alarm gets the first chance) and starts a fresh
one, so the other files go on. A worker that dies on a file (killed by the OS, a crash) is replaced
the same way.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection, wait
from typing import Any

from core.data.file_limit import KILL_GRACE_S


def map_files(
    work: Callable[[Any], Any],
    items: Iterable[Any],
    workers: int,
    time_limit_s: float,
    lost: Callable[[Any, str], Any],
) -> Iterator[Any]:
    """``work(item)`` for every item on ``workers`` spawned processes, yielded in completion order (the caller
    holds one result at a time: assembly parks each file's windows on disk before the next). An item whose
    worker overran ``time_limit_s`` (0: no limit) + KILL_GRACE_S or died gives ``lost(item, why)``
    instead. ``work`` must be a module-level function (it is pickled into each worker)."""
    ctx = mp.get_context("spawn")
    todo = iter(items)  # read lazily: one item per busy worker in memory
    busy: dict[Connection, _Worker] = {}

    def give_next(worker: _Worker) -> None:
        if worker.take(todo):
            busy[worker.conn] = worker
        else:
            worker.stop()

    try:
        for _ in range(workers):
            give_next(_Worker(ctx, work))
        while busy:
            timeout = None
            if time_limit_s > 0:
                deadline = min(w.started for w in busy.values()) + time_limit_s + KILL_GRACE_S
                timeout = max(0.0, deadline - time.monotonic())
            for conn in wait(list(busy), timeout):
                worker = busy.pop(conn)
                try:
                    result = conn.recv()
                except (EOFError, OSError):  # the worker died with the item
                    result = lost(worker.item, "its worker process died")
                    worker.kill()
                    worker = _Worker(ctx, work)
                give_next(worker)
                yield result
            now = time.monotonic()
            for conn, worker in list(busy.items()):
                # a result already waiting in the pipe is not an overrun (the caller took a while with the last one)
                if time_limit_s > 0 and now - worker.started > time_limit_s + KILL_GRACE_S and not conn.poll():
                    del busy[conn]
                    worker.kill()
                    give_next(_Worker(ctx, work))
                    yield lost(worker.item, "timeout")
    finally:
        for worker in busy.values():
            worker.kill()


class _Worker:
    """One process serving items from its pipe until it reads None."""

    def __init__(self, ctx, work: Callable[[Any], Any]) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, work), daemon=True)
        self.proc.start()
        child.close()
        self.item: Any = None
        self.started = 0.0

    def take(self, todo) -> bool:
        """Hand the worker the next item; False when there is none left."""
        self.item = next(todo, None)
        if self.item is None:
            return False
        self.started = time.monotonic()
        self.conn.send(self.item)
        return True

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.proc.join(timeout=10)
        if self.proc.is_alive():
            self.kill()
        self.conn.close()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join()
        self.conn.close()


def _serve(conn: Connection, work: Callable[[Any], Any]) -> None:
    while True:
        item = conn.recv()
        if item is None:
            return
        conn.send(work(item))
