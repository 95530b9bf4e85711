"""The time limit on one file's preparation (``data.file_timeout_s``), and a fault to drill it.

Like the 256 MB size limit, a file over the limit is an error row naming it (``FileTimeout``) and the
rest of the files go on. Two layers enforce it:

* ``time_limit``: an alarm (SIGALRM) in the process that parses. It interrupts the reader's own Python
  work wherever it is, so the worker survives and reports the file itself. It needs the main thread
  (an in-process preparation, a pool worker, a Ray task) and cannot cut one long call into C short.
* ``core.data.file_pool``: the parent of the worker processes kills a worker still busy with one file
  ``KILL_GRACE_S`` after its limit (a hang inside C: nothing else ends it) and starts a fresh one.

Drill: ``XMLAI_SLOW_FILE="NAME=SECONDS"`` makes the preparation of the file called NAME (its name in
the data set) sleep that long first, in every process that inherits the environment;
``"NAME=SECONDS:hang"`` blocks the alarm while it sleeps, as a hang inside C does (only the kill ends it).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator

SLOW_FILE_ENV = "XMLAI_SLOW_FILE"
KILL_GRACE_S = 5.0  # the alarm gets this long to end a file cleanly before its worker is killed


class FileTimeout(Exception):
    """One file's preparation took longer than ``data.file_timeout_s``."""


def timeout_reason(name: str, seconds: float) -> str:
    """What the error row of a file over the limit says."""
    return f"{name}: took longer than data.file_timeout_s = {seconds:g} s: skipped (raise the limit to keep it)"


@contextlib.contextmanager
def time_limit(seconds: float, name: str) -> Iterator[None]:
    """Raise FileTimeout in the block after ``seconds`` (0: no limit). Only in the main thread, where
    signals are delivered; elsewhere the block runs without an alarm (the pool's kill still applies)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        raise FileTimeout(timeout_reason(name, seconds))

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def slow_file_fault(name: str) -> None:
    """The drill: sleep as long as ``XMLAI_SLOW_FILE`` says when it names this file."""
    spec = os.environ.get(SLOW_FILE_ENV)
    if not spec:
        return
    target, _, how = spec.rpartition("=")
    if target != name:
        return
    seconds, _, mode = how.partition(":")
    if mode == "hang":
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})  # the process is killed, never unblocked
    time.sleep(float(seconds))
