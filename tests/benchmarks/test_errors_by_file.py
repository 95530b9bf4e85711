"""The token groups of benchmarks/errors_by_file.py --by-track, on a hand-made context summary."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import torch

from core.config import REGRESSION_TARGETS
from core.data.context import GEOMETRY_HAS, N_SUMMARY, SUMMARY_FEATURES, TRACK_HAS, TRACK_SPREAD

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "errors_by_file.py"
_spec = importlib.util.spec_from_file_location("errors_by_file", _PATH)
errors_by_file = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(errors_by_file)


def test_each_token_and_target_falls_in_exactly_the_group_its_track_gives() -> None:
    r = REGRESSION_TARGETS.index("scale")
    given = SUMMARY_FEATURES.index("track_given_log1p")
    s = torch.zeros(1, 5, 1, N_SUMMARY)  # five tracks of one step each
    # track 0: nothing given; 1: one clip; 2: three clips that agree, same-size clips given; 3: three that spread;
    # 4: two clips given, none with a scale (another target's values only)
    for k, (has, n, spread, geo) in enumerate([(0, 0, 0, 0), (1, 1, 0, 0), (1, 3, 0, 1), (1, 3, 0.7, 0), (0, 2, 0, 0)]):
        s[0, k, 0, TRACK_HAS.start + r] = has
        s[0, k, 0, given] = math.log1p(n)
        s[0, k, 0, TRACK_SPREAD.start + r] = spread
        s[0, k, 0, GEOMETRY_HAS.start + r] = geo
    groups = errors_by_file.track_groups(s)
    stack = torch.stack(list(groups.values()))  # (G, 1, 5, 1, R)
    assert torch.equal(stack.sum(0), torch.ones(1, 5, 1, len(REGRESSION_TARGETS), dtype=torch.long))  # a partition
    got = [next(g for g, m in groups.items() if m[0, k, 0, r]) for k in range(5)]
    assert got == [
        "no given clip, same size none",
        "one given clip, same size none",
        "given values agree, same size given",
        "given values spread, same size none",
        "no given clip, same size none",
    ]
