"""Split by programme (core.data.split): versions of one edit stay on one side of the split."""

from __future__ import annotations

from fractions import Fraction as Fr

import pytest

from core.config import DataConfig
from core.data.formats import read_file
from core.data.formats.xmeml_writer import write_xmeml
from core.data.preprocess import prepare
from core.data.split import name_stem, programmes, signature
from core.data.timeline import Clip, Timeline, Track
from tests.conftest import REALWORLD

SEP = "\n"


def test_shared_media_links_files_and_a_lone_shared_clip_does_not_chain():
    big = [f"shot_{i:03d}.mov" for i in range(20)]
    sig = {
        "a.xml": SEP.join(["x1", "x2", "x3", "x4"]),
        "b.xml": SEP.join(["x1", "x2", "x3", "other"]),  # 3 of 4 shared: a version of a
        "long_one.xml": SEP.join(big + ["end_board.mov"]),
        "long_two.xml": SEP.join([f"other_{i:03d}.mov" for i in range(20)] + ["end_board.mov"]),
        "board_only.xml": "end_board.mov",  # one clip shared with both long files: links neither
    }
    g = programmes(sig)
    assert g["a.xml"] == g["b.xml"] == "a.xml"
    assert len({g["long_one.xml"], g["long_two.xml"], g["board_only.xml"]}) == 3


def test_names_that_differ_by_a_trailing_number():
    assert name_stem("xmeml/xmeml__jrpa-ths-skvln-henrik2.xml") == name_stem("jrpa-ths-skvln-henrik.xml")
    assert name_stem("Multicam_Moser_1.xml") == name_stem("Multicam_Moser_2.xml") != ""
    assert name_stem("xmeml__2005.xml") == ""  # nothing left: no link by name
    g = programmes({"show_ep1.xml": "a", "show_ep2.xml": "b", "other.xml": "c"})
    assert g["show_ep1.xml"] == g["show_ep2.xml"] != g["other.xml"]


def test_prepare_keeps_a_programme_on_one_side(tmp_path):
    def tl(names, tag):
        clips = [Clip(n, Fr(2 * i), Fr(2 * i + 2)) for i, n in enumerate(names)]
        return Timeline(tag, Fr(25), Fr(2 * len(names)), [Track("video", 0, clips)])

    for v in range(6):  # six versions of one edit: always the same media
        (tmp_path / f"edit_v{v}_final.xml").write_bytes(write_xmeml(tl(["a.mov", "b.mov", "c.mov"], f"v{v}")))
    for i in range(14):  # unrelated edits
        (tmp_path / f"film{chr(97 + i)}.xml").write_bytes(write_xmeml(tl([f"{i}_x.mov", f"{i}_y.mov"], f"f{i}")))
    cfg = DataConfig(data_dir=str(tmp_path), window=20, overlap=0, val_fraction=0.3, cache_dir=str(tmp_path / "c"))
    data = prepare(cfg)
    splits = data.meta["splits"]
    assert data.meta["split_by"] == "programme"
    assert len({splits[f"edit_v{v}_final.xml"] for v in range(6)}) == 1
    assert len(set(data.meta["programmes"].values())) == 15
    assert {"train", "val"} <= set(splits.values())
    by_file = prepare(DataConfig(**{**cfg.__dict__, "split_by": "file"}))
    assert by_file.meta["split_by"] == "file"
    # "none": a folder to evaluate on, every file on the validation side, nothing left out
    to_evaluate = prepare(DataConfig(**{**cfg.__dict__, "split_by": "none"}))
    assert set(to_evaluate.meta["splits"].values()) == {"val"} and len(to_evaluate.meta["splits"]) == 20
    assert len(to_evaluate.train["timeline"]) == 0
    assert len(to_evaluate.val["timeline"]) == len(data.train["timeline"]) + len(data.val["timeline"])


def test_real_versions_share_a_programme():
    files = {
        "tomat": "production/xmeml/xmeml__tomat_master_v4.xml",
        "tomat_no_gain": "production/xmeml/xmeml__tomat_master_v4_uten_gain.xml",
        "fade_in": "production/xmeml/xmeml__Fade_inn.xml",
        "fade_out": "production/xmeml/xmeml__Fade_ut.xml",
        "bro_a": "production/xmeml/xmeml__BroShow_ep_Brocodes.xml",
        "bro_b": "production/xmeml/xmeml__BroShow_ep_Krenking.xml",
    }
    root = REALWORLD.parent
    if not all((root / p).is_file() for p in files.values()):
        pytest.skip(f"production corpus not found under {root}")
    g = programmes({k: signature(read_file(root / p)) for k, p in files.items()})
    assert g["tomat"] == g["tomat_no_gain"]
    assert g["fade_in"] == g["fade_out"]
    assert g["bro_a"] != g["bro_b"]  # two episodes of one series share only their title sequence
