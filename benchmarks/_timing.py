"""What the benchmarks share: CPU time of a callable, best of several runs."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_cpu_seconds(fn: Callable[[], object], repeat: int) -> float:
    """Best-of-``repeat`` CPU seconds of ``fn()`` (best: least disturbed by other work on the machine)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best
