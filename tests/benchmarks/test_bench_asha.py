"""The order-free measure of benchmarks/bench_asha.py, on hand-made reports whose expectation is known."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_asha.py"
_spec = importlib.util.spec_from_file_location("bench_asha", _PATH)
bench_asha = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_asha)


def _reports(curves: dict[str, list[float]]) -> list[dict]:
    return [
        {"trial_id": t, "epoch": i + 1, "val_objective": v} for t, curve in curves.items() for i, v in enumerate(curve)
    ]


def test_expected_epochs_average_over_the_orders_of_the_trials():
    # "a" reaches 0.5 at its 2nd epoch; "b" never does (6 epochs). Half the orders run a first: 2 epochs;
    # the other half run b first: 6 + 2 = 8. Expected 5, whichever order they really ran in.
    reports = _reports({"a": [0.9, 0.5, 0.4, 0.4, 0.4, 0.4], "b": [0.9] * 6})
    assert bench_asha.epochs_to_reach(reports, 0.5) == 2  # a's reports come first here
    assert bench_asha.expected_epochs_to_reach(reports, 0.5, orders=4000) == pytest.approx(5.0, abs=0.2)


def test_expected_epochs_is_inf_when_no_trial_reaches_the_target():
    reports = _reports({"a": [0.9, 0.8], "b": [0.7]})
    assert math.isinf(bench_asha.expected_epochs_to_reach(reports, 0.5))
