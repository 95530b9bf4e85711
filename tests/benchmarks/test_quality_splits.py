"""benchmarks/quality_splits.py on two hand-made quality_real.py results."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "quality_splits.py"
_spec = importlib.util.spec_from_file_location("quality_splits", _PATH)
quality_splits = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(quality_splits)


def _summary(objective: float, heads: dict, rule_objective: float, rule_heads: dict, draws: int = 1) -> dict:
    return {
        "objective_vs_data_constant": objective,
        "heads": heads,
        "draws": draws,
        "same_track_rule": {"objective_vs_data_constant": rule_objective, "heads": rule_heads},
    }


def _result(split: int, structure: float, half: float, heads0: dict, heads1: dict, rule1: dict, **extra) -> dict:
    ones = dict.fromkeys(heads0, 1.0)
    block = {
        "context_0": _summary(structure, heads0, 1.0, ones),
        "context_0.5": _summary(half, heads1, 0.9, rule1, draws=8),
        "files": ["realworld/a.xml", "production/b.xml"],
    }
    return {
        "real": {
            "config": {"data.split_seed": split, "train.seed": split, "train.device": "cpu", **extra},
            "val_files": block["files"],
            "best_epoch": 3 + split,
            "all": block,
            "realworld": None,
            "production": block,
        }
    }


@pytest.fixture
def two_runs(tmp_path: Path) -> list[Path]:
    a = tmp_path / "q0"
    a.mkdir()
    (a / "quality_real.json").write_text(
        json.dumps(
            _result(
                0,
                0.70,
                0.50,
                {"scale": 1.20, "pan": 0.30, "level_db": 1.06},
                {"scale": 0.90, "pan": 0.20, "level_db": 0.50},
                {"scale": 0.80, "pan": 0.40, "level_db": 1.30},
            )
        )
    )
    b = tmp_path / "q1.json"  # a JSON file given directly
    b.write_text(
        json.dumps(
            _result(
                1,
                0.90,
                0.60,
                {"scale": 1.00, "pan": 0.50, "level_db": 0.80},
                {"scale": 0.70, "pan": 0.60, "level_db": 0.40},
                {"scale": 0.75, "pan": 0.55, "level_db": 0.45},
                **{"loss.huber_heads": ["scale"]},
            )
        )
    )
    return [a, b]


def test_rows_name_the_heads_above_the_limit_and_where_the_rule_leads(two_runs: list[Path]) -> None:
    rows = [quality_splits.split_row(p.name, quality_splits.load(p)) for p in two_runs]
    first, second = rows[0]["all"], rows[1]["all"]
    assert first["heads_above"] == ["scale 1.200", "level_db 1.060"]  # worst first; pan 0.30 is below
    # the rule beats the constant on scale (0.80) and pan (0.40) but the model only on scale; level 1.30 is no rule win
    assert first["rule_ahead"] == ["scale"]
    assert second["heads_above"] == [] and second["rule_ahead"] == ["pan"]
    assert rows[0]["realworld"] is None and rows[0]["best_epoch"] == 3 and rows[1]["split_seed"] == 1
    assert rows[0]["overrides"] == {} and rows[1]["overrides"] == {"loss.huber_heads": ["scale"]}


def test_the_mean_is_over_the_splits_that_have_the_corpus(two_runs: list[Path]) -> None:
    rows = [quality_splits.split_row(p.name, quality_splits.load(p)) for p in two_runs]
    means = quality_splits.summary(rows)
    assert means["all"]["structure_only"] == pytest.approx(0.80)
    assert means["all"]["half_given"] == pytest.approx(0.55)
    assert means["all"]["half_given_rule"] == pytest.approx(0.90)
    assert means["all"]["splits"] == 2 and means["all"]["splits_without_head_above"] == 1
    assert means["realworld"]["splits"] == 0 and means["realworld"]["structure_only"] is None


def test_main_prints_the_table_and_the_json(two_runs: list[Path], capsys: pytest.CaptureFixture) -> None:
    assert quality_splits.main([str(p) for p in two_runs]) == 0
    out = capsys.readouterr().out
    assert "no head above 1.05 on 1 of 2 splits" in out
    assert "q0, all: scale 1.200, level_db 1.060 / scale" in out
    assert "loss.huber_heads" in out  # the run's override is shown
    assert "realworld files" not in out  # no split has realworld validation files here
    assert quality_splits.main([*map(str, two_runs), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    # a folder is named by itself, a JSON file by its folder
    assert [r["run"] for r in got["splits"]] == ["q0", two_runs[1].parent.name]
    assert got["mean"]["all"]["structure_only"] == pytest.approx(0.80)


def test_a_folder_without_results_is_named(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no quality_real.json"):
        quality_splits.load(tmp_path)
    (tmp_path / "quality_real.json").write_text(json.dumps({"builtin": {}}))
    with pytest.raises(SystemExit, match="no 'real' part"):
        quality_splits.load(tmp_path)
