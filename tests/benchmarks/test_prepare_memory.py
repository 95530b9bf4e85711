"""benchmarks/prepare_memory.py on a small generated folder: the child really prepares (an empty cache), and its
report counts the same files and windows, and the same window bytes, as preparing the folder here."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from core.config import config_from_dict
from core.data.preprocess import prepare
from core.data.synth import write_corpus

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "prepare_memory.py"
_spec = importlib.util.spec_from_file_location("prepare_memory", _PATH)
prepare_memory = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(prepare_memory)


def test_the_child_prepares_the_folder_and_reports_its_windows(tmp_path, capsys):
    folder = tmp_path / "exports"
    write_corpus(folder, 4, seed=2)
    (folder / "synth_manifest.json").unlink()
    (folder / "broken.xml").write_bytes(b"<xmeml version='4'><sequence>")  # reported, the rest prepared
    r = prepare_memory.measure(folder, "local", workers=0)
    cfg = config_from_dict({"data": {"data_dir": str(folder), "cache_dir": str(tmp_path / "cache")}})
    d = prepare(cfg.data)
    assert (r["files"], r["errors"]) == (5, 1)
    assert r["windows"] == d.meta["n_train_windows"] + d.meta["n_val_windows"] > 0
    assert abs(r["windows_mb"] - sum(v.nbytes for s in (d.train, d.val) for v in s.values()) / 2**20) < 1e-6
    assert r["peak_mb"] >= r["imports_mb"] > 0  # the peak is reached after the imports, never before them
    assert r["peak_anon_mb"] >= r["imports_anon_mb"] > 0 and r["peak_anon_mb"] <= r["peak_mb"]
    assert prepare_memory.main(["--data", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "5 files (1 unreadable)" in out and "(peak - imports) / windows:" in out
