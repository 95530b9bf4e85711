"""Publishing a cache folder with several processes at once: exactly one complete copy wins, a reader never sees a
half-written one, and a copy another process has completed is never deleted or replaced."""

from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path

from core.data.publish import DONE, is_complete, publish_dir

WRITERS = 6


def _writer(target: str, who: int, barrier, results) -> None:
    target = Path(target)
    tmp = target.parent / f".{target.name}.tmp{who}"
    tmp.mkdir()
    (tmp / "payload").write_bytes(bytes([who]) * 200_000)
    (tmp / "who").write_text(str(who))
    barrier.wait()  # all writers publish at the same moment
    results.put((who, publish_dir(tmp, target)))


def _reader(target: str, stop, seen) -> None:
    target = Path(target)
    whos = set()
    while not stop.is_set():
        if is_complete(target):
            # a complete folder must hold every file, and they must belong to one writer
            who = int((target / "who").read_text())
            assert (target / "payload").read_bytes() == bytes([who]) * 200_000
            whos.add(who)
        time.sleep(0.001)
    seen.put(sorted(whos))


def test_racing_publishers_keep_exactly_one_complete_copy(tmp_path):
    ctx = mp.get_context("spawn")
    target = tmp_path / "cache" / "key"
    target.parent.mkdir()
    barrier, results, stop, seen = ctx.Barrier(WRITERS), ctx.Queue(), ctx.Event(), ctx.Queue()
    reader = ctx.Process(target=_reader, args=(str(target), stop, seen))
    reader.start()
    writers = [ctx.Process(target=_writer, args=(str(target), i, barrier, results)) for i in range(WRITERS)]
    for w in writers:
        w.start()
    for w in writers:
        w.join(60)
        assert w.exitcode == 0
    time.sleep(0.2)
    stop.set()
    reader.join(60)
    assert reader.exitcode == 0  # the reader's own checks held
    outcomes = dict(results.get(timeout=5) for _ in range(WRITERS))
    winners = [who for who, won in outcomes.items() if won]
    assert len(winners) == 1, outcomes
    assert seen.get(timeout=5) in ([], winners)  # the published copy was never swapped for another
    assert int((target / "who").read_text()) == winners[0] and is_complete(target)
    # the losers' temporary folders are gone; only the target and its lock file remain
    assert sorted(p.name for p in target.parent.iterdir()) == [".key.lock", "key"]


def test_an_incomplete_leftover_is_replaced_and_a_complete_copy_kept(tmp_path):
    target = tmp_path / "key"
    target.mkdir()
    (target / "payload").write_text("half")  # an interrupted writer of an older version: no DONE
    tmp = tmp_path / ".key.new"
    tmp.mkdir()
    (tmp / "payload").write_text("full")
    assert publish_dir(tmp, target) is True
    assert (target / "payload").read_text() == "full" and (target / DONE).is_file() and not tmp.exists()

    again = tmp_path / ".key.again"
    again.mkdir()
    (again / "payload").write_text("other")
    assert publish_dir(again, target) is False  # theirs is kept
    assert (target / "payload").read_text() == "full" and not again.exists()
