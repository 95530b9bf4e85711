"""Preprocessing: split by file name, train-only scalers (JSON), error rows, cache, engines agree."""

from __future__ import annotations

import json
import random
import shutil
import weakref
from pathlib import Path

import numpy as np
import pytest

from core.config import DataConfig
from core.data import preprocess
from core.data.batch import RAW_KEYS
from core.data.noise_floor import builtin_oracle
from core.data.preprocess import FileResult, Prepared, assemble, prepare, process_file, split_of
from core.data.scalers import STD_FLOOR, Scalers


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    """Eight generated timelines in two sub-folders plus one broken file."""
    from core.data.synth import write_corpus

    root = tmp_path_factory.mktemp("exports")
    write_corpus(root / "a", 5, seed=3)
    write_corpus(root / "b", 3, seed=4)
    for d in ("a", "b"):
        (root / d / "synth_manifest.json").unlink()
    (root / "b" / "broken.xml").write_bytes(b"<xmeml version='4'><sequence><name>x</name>")
    return root


def cfg_for(root: Path, tmp: Path, **kw) -> DataConfig:
    return DataConfig(
        data_dir=str(root), cache_dir=str(tmp / "cache"), window=40, overlap=10, max_tracks=4, val_fraction=0.4, **kw
    )


def assert_same(a: dict, b: dict) -> None:
    assert set(a) == set(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k


def test_split_is_stable_and_by_base_name():
    names = [f"clip_{i}.xml" for i in range(2000)]
    splits = [split_of(n, 0.2, 0) for n in names]
    assert splits == [split_of(n, 0.2, 0) for n in names]  # same answer every call
    assert [split_of("/x/y/" + n, 0.2, 0) for n in names] == splits  # folder does not matter
    shuffled = random.Random(1).sample(names, len(names))
    assert {n: split_of(n, 0.2, 0) for n in shuffled} == dict(zip(names, splits))
    assert 0.17 < splits.count("val") / len(names) < 0.23
    assert splits != [split_of(n, 0.2, 1) for n in names]  # the seed changes the draw


@pytest.fixture(scope="module")
def prepared(corpus_dir, tmp_path_factory) -> tuple[Prepared, DataConfig]:
    cfg = cfg_for(corpus_dir, tmp_path_factory.mktemp("p"))
    return prepare(cfg), cfg


def test_bad_file_is_an_error_row_and_the_rest_is_processed(prepared):
    data, _ = prepared
    assert [e[0] for e in data.errors] == ["b/broken.xml"]
    assert "b/broken.xml" in data.errors[0][1] and ":" in data.errors[0][1]
    assert len(data.files) == 9 and data.meta["n_timelines"] == 8
    res = process_file("weird.xml", b"\x00\xff not xml", DataConfig())
    assert res.windows is None and "weird.xml" in res.error
    assert res.error.split(":")[0] in ("TimelineError", "XMLSyntaxError")


def test_no_timeline_in_both_splits(prepared):
    data, cfg = prepared
    tr, va = set(data.train["timeline"].tolist()), set(data.val["timeline"].tolist())
    assert tr and va and not tr & va
    assert tr | va == set(range(data.meta["n_timelines"]))
    for name, split in data.meta["splits"].items():
        assert split == split_of(name, cfg.val_fraction, cfg.split_seed)
    for raw in (data.train, data.val):
        assert set(RAW_KEYS) <= set(raw)
    assert "oracle_targets" not in data.val  # the user's folder: no noise floor


def test_scalers_fit_on_train_only_and_survive_json(prepared, tmp_path):
    data, _ = prepared
    s = data.scalers
    assert s == Scalers.fit(data.train)
    assert s != Scalers.fit(data.val)
    i = s.target_names.index("scale")
    m = data.train["target_valid"][..., i]
    assert s.target_mean[i] == pytest.approx(float(data.train["targets"][..., i][m].astype(np.float64).mean()))
    assert s.target_std[s.target_names.index("rotation")] >= 1.0  # floor in native units
    assert s.keyframe_pos_weight > 1.0 and abs(sum(s.baseline["interpolation"]) - 1) < 1e-9
    assert set(s.baseline["keyframe"]) == {"video", "audio"}
    back = Scalers.from_json(s.to_json())
    assert back == s
    s.save(tmp_path / "s.json")
    assert Scalers.load(tmp_path / "s.json") == s
    json.loads((tmp_path / "s.json").read_text())  # plain JSON
    x = data.train["targets"][:2]
    np.testing.assert_allclose(s.destandardise_targets(s.standardise_targets(x)), x, rtol=1e-4, atol=1e-3)


def test_scalers_fit_chunk_by_chunk_equal_one_pass(prepared):
    """The chunked fit (memory of one chunk whatever the corpus) gives the statistics of the whole set: a chunk of 3
    windows against one chunk holding them all, and the target moments against numpy's over every valid position."""
    data, _ = prepared
    whole, small = Scalers.fit(data.train, chunk=10**9), Scalers.fit(data.train, chunk=3)
    assert len(data.train["timeline"]) > 3
    assert small.counts == whole.counts and small.baseline["keyframe"] == pytest.approx(whole.baseline["keyframe"])
    flat_small, flat_whole = _numbers(json.loads(small.to_json())), _numbers(json.loads(whole.to_json()))
    assert len(flat_small) == len(flat_whole) > 100
    np.testing.assert_allclose(flat_small, flat_whole, rtol=1e-9, atol=1e-12)
    for i, name in enumerate(whole.target_names):
        y = data.train["targets"][..., i][data.train["target_valid"][..., i]].astype(np.float64)
        if len(y):
            assert small.target_mean[i] == pytest.approx(y.mean(), rel=1e-9, abs=1e-12), name
            assert small.target_std[i] == pytest.approx(max(y.std(), STD_FLOOR[name]), rel=1e-6), name


def _numbers(x) -> list[float]:
    if isinstance(x, dict):
        return [v for k in sorted(x) for v in _numbers(x[k])]
    if isinstance(x, list):
        return [v for item in x for v in _numbers(item)]
    return [float(x)] if isinstance(x, (int, float)) and not isinstance(x, bool) else []


def test_cache_hit_returns_identical_arrays_without_parsing(prepared, monkeypatch):
    data, cfg = prepared
    monkeypatch.setattr(preprocess, "process_file", lambda *a: pytest.fail("cache hit must not re-parse"))
    again = prepare(cfg)
    assert_same(again.train, data.train)
    assert_same(again.val, data.val)
    assert again.scalers == data.scalers and again.errors == data.errors and again.files == data.files
    assert again.meta["cache_key"] == data.meta["cache_key"]


def test_cache_key_follows_content_and_config(corpus_dir, tmp_path):
    cfg = cfg_for(corpus_dir, tmp_path)
    names, digests = ["a.xml", "b.xml"], ["1", "2"]
    key = preprocess.cache_key_of(names, digests, cfg)
    assert key == preprocess.cache_key_of(names[::-1], digests[::-1], cfg)
    assert key != preprocess.cache_key_of(names, ["1", "3"], cfg)
    assert key != preprocess.cache_key_of(names, digests, cfg_for(corpus_dir, tmp_path, step_s=0.2))
    assert key == preprocess.cache_key_of(names, digests, cfg_for(corpus_dir, tmp_path, workers=3))


def test_assemble_ignores_result_order(corpus_dir, prepared):
    data, cfg = prepared
    paths = preprocess.input_paths(cfg)
    results = [process_file(preprocess.file_name(p, cfg), p.read_bytes(), cfg) for p in paths]
    a = assemble(results, cfg)
    b = assemble(random.Random(0).sample(results, len(results)), cfg)
    assert_same(a.train, b.train)
    assert_same(a.val, b.val)
    assert_same(a.train, data.train)
    assert a.errors == b.errors and a.scalers == b.scalers


@pytest.mark.parametrize("split_by", ["file", "programme"])
def test_assemble_holds_one_files_windows_at_a_time(corpus_dir, prepared, split_by, tmp_path):
    """From a generator of results (the engines' own), assemble keeps no file's windows once it takes the next:
    each goes to disk as it comes (the split by programme, which needs every file, is decided after), so memory
    holds one file's windows whatever the corpus. With ``folder`` the data set is written there and mapped back,
    the same as in memory; no parked part stays behind."""
    data, cfg = prepared
    cfg = DataConfig(**{**cfg.__dict__, "split_by": split_by})
    paths = preprocess.input_paths(cfg)
    want = assemble([process_file(preprocess.file_name(p, cfg), p.read_bytes(), cfg) for p in paths], cfg)
    earlier: list[weakref.ref] = []

    def results():
        for p in paths:
            assert all(ref() is None for ref in earlier), "assemble still holds an earlier file's result"
            r = process_file(preprocess.file_name(p, cfg), p.read_bytes(), cfg)
            if r.windows is not None:  # a failed file's result (its error, no windows) is kept for the report
                earlier.append(weakref.ref(r))
            yield r
            del r  # this generator's own reference: only assemble's may be left

    got = assemble(results(), cfg, folder=tmp_path / "p")
    assert len(earlier) > 2
    assert_same(got.train, want.train)
    assert_same(got.val, want.val)
    assert isinstance(got.train["features"], np.memmap) and not got.train["features"].flags.writeable
    assert got.meta["splits"] == want.meta["splits"] and got.scalers == want.scalers
    assert sorted(x.name for x in (tmp_path / "p").iterdir()) == ["prepared.json", "scalers.json", "train", "val"]


def test_pool_engine_equals_in_process(corpus_dir, prepared, tmp_path):
    data, _ = prepared
    pooled = prepare(cfg_for(corpus_dir, tmp_path, workers=2), cache=False)
    assert_same(pooled.train, data.train)
    assert_same(pooled.val, data.val)
    assert pooled.scalers == data.scalers and pooled.errors == data.errors


def test_prepared_save_load_round_trip(prepared, tmp_path):
    data, _ = prepared
    data.save(tmp_path / "p")
    back = Prepared.load(tmp_path / "p")
    assert_same(back.train, data.train)
    assert_same(back.val, data.val)
    assert back.scalers == data.scalers and back.errors == data.errors and back.meta == data.meta
    assert isinstance(back.train["features"], np.memmap) and not back.train["features"].flags.writeable
    assert not isinstance(Prepared.load(tmp_path / "p", mmap=False).train["features"], np.memmap)


def test_a_cache_in_the_older_layout_is_named_not_misread(prepared, tmp_path):
    data, _ = prepared
    data.save(tmp_path / "p")
    for split in ("train", "val"):  # what an xmlai before prepare-10 wrote: one .npz per split
        np.savez(tmp_path / "p" / f"{split}.npz", **getattr(data, split))
        shutil.rmtree(tmp_path / "p" / split)
    with pytest.raises(FileNotFoundError, match=r"train\.npz: written by an older xmlai"):
        Prepared.load(tmp_path / "p")


def test_builtin_noise_floor_aligned(tmp_path):
    from core.data.synth import write_corpus

    cfg = DataConfig(window=40, overlap=10, max_tracks=4, synth_seed=2)
    path = write_corpus(tmp_path, 1, seed=2)[0]
    data = path.read_bytes()
    res = process_file(path.name, data, cfg)
    oracle = builtin_oracle(path.name, data, cfg, res.windows, draws=3)
    assert oracle is not None
    w = res.windows
    assert oracle["oracle_targets"].shape == w["targets"].shape
    assert oracle["oracle_keyframe"].shape == w["keyframe"].shape
    assert ((oracle["oracle_keyframe"] >= 0) & (oracle["oracle_keyframe"] <= 1)).all()
    assert (oracle["oracle_keyframe"][~w["keyframe_valid"]] == 0).all()
    # same structure, other style: close on average, not equal
    v = w["target_valid"]
    assert not np.array_equal(oracle["oracle_targets"][v], w["targets"][v])
    # a file that is not what the generator writes for its name gets no floor
    assert builtin_oracle(path.name, data + b" ", cfg, res.windows, draws=1) is None
    assert builtin_oracle(path.name, data, DataConfig(synth_seed=3), res.windows, draws=1) is None


def test_file_results_are_plain(prepared):
    data, cfg = prepared
    r = process_file("x.xml", b"<nope/>", cfg)
    assert isinstance(r, FileResult) and r.split in ("train", "val") and r.digest and r.n_timelines == 0


def test_the_cache_keeps_within_its_size_dropping_the_least_recently_used(corpus_dir, tmp_path):
    # Each data configuration prepares its own data set (the real corpora: 4.6 GB a split); a machine that tried a
    # few dozen filled its disk. Past data.cache_max_gb the data sets used least recently go, never one used within
    # the last hour (prune's min_idle_s) nor the one just prepared.
    import os

    from core.data.publish import DONE, folder_bytes, prune

    tiny = 1e-9  # GB: one byte, so every data set that may go, goes
    root = tmp_path / "cache" / "prepared"
    one = root / prepare(cfg_for(corpus_dir, tmp_path, step_s=0.2)).meta["cache_key"]
    two = root / prepare(cfg_for(corpus_dir, tmp_path, step_s=0.25, cache_max_gb=tiny)).meta["cache_key"]
    assert one.is_dir() and two.is_dir()  # over the limit, but the first was used within the hour
    os.utime(one / DONE, (0, 0))  # as if last used long ago
    three = root / prepare(cfg_for(corpus_dir, tmp_path, step_s=0.3, cache_max_gb=tiny)).meta["cache_key"]
    assert not one.exists() and two.is_dir() and three.is_dir()
    # a cache hit marks its data set as used: the one used longest ago goes first, and only while over the size
    os.utime(two / DONE, (0, 0))
    os.utime(three / DONE, (1, 1))
    prepare(cfg_for(corpus_dir, tmp_path, step_s=0.25))  # a hit on `two`
    assert prune(root, folder_bytes(two), keep=root / "none", min_idle_s=0) == [three]
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == [two.name]


def test_a_negative_cache_size_is_refused():
    with pytest.raises(ValueError, match="cache_max_gb"):
        DataConfig(cache_max_gb=-1)
