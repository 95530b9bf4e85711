"""Prepared windows on disk (core.data.store): parts parked and written split by split equal the in-memory
concatenation, read back mapped and read-only; a part of another shape is refused, not broadcast."""

from __future__ import annotations

import numpy as np
import pytest

from core.data.store import Spill, load_split, save_split, write_split
from core.data.windows import concat_windows, empty_windows, make_windows
from tests.core.data.test_windows import random_frames


def _parts(rng, sizes, tracks=4):
    return [make_windows(random_frames(rng, n, 30), 10, 0, tracks, timeline=0) for n in sizes]


def test_parts_written_from_disk_equal_the_concatenation_with_timelines_renumbered(tmp_path):
    rng = np.random.default_rng(1)
    parts = _parts(rng, (2, 5, 3))
    spill = Spill(tmp_path / "spill")
    parked = [(spill.put(p), offset) for p, offset in zip(parts, (0, 7, 8))]
    write_split(tmp_path / "train", parked, empty_windows(10, 4))
    spill.remove()
    assert not (tmp_path / "spill").exists()

    want = concat_windows(parts)
    want["timeline"] = np.concatenate([p["timeline"] + o for p, o in zip(parts, (0, 7, 8))])
    got = load_split(tmp_path / "train")
    assert got.keys() == want.keys()
    for k in want:
        assert isinstance(got[k], np.memmap) and not got[k].flags.writeable, k
        assert got[k].dtype == want[k].dtype and np.array_equal(got[k], want[k]), k
    assert sorted(set(got["timeline"].tolist())) == [0, 7, 8]

    in_memory = load_split(tmp_path / "train", mmap=False)
    assert not isinstance(in_memory["features"], np.memmap)
    assert np.array_equal(in_memory["features"], want["features"])


def test_no_parts_give_empty_arrays_of_the_right_shapes(tmp_path):
    write_split(tmp_path / "val", [], empty_windows(10, 4))
    got = load_split(tmp_path / "val")
    for k, like in empty_windows(10, 4).items():
        assert got[k].shape == like.shape and got[k].dtype == like.dtype, k


def test_a_part_of_another_shape_is_refused(tmp_path):
    rng = np.random.default_rng(2)
    spill = Spill(tmp_path / "spill")
    narrow = make_windows(random_frames(rng, 2, 30), 10, 0, 2, timeline=0)  # 2 tracks where 4 belong
    parked = [(spill.put(_parts(rng, (2,))[0]), 0), (spill.put(narrow), 1)]
    with pytest.raises(ValueError, match="shape"):
        write_split(tmp_path / "train", parked, empty_windows(10, 4))


def test_arrays_in_memory_save_to_the_same_layout(tmp_path):
    rng = np.random.default_rng(3)
    arrays = concat_windows(_parts(rng, (3, 2)))
    save_split(tmp_path / "s", arrays)
    got = load_split(tmp_path / "s")
    assert all(np.array_equal(got[k], arrays[k]) for k in arrays)
