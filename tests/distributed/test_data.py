"""Ray Data preparation equals the local engine on the same files; a bad file is reported, the rest processed."""

from __future__ import annotations

import numpy as np
import pytest

from distributed import data as ddata


def _same(a, b):
    assert a.files == b.files
    assert a.errors == b.errors
    for split in ("train", "val"):
        assert sorted(getattr(a, split)) == sorted(getattr(b, split))
        for k, v in getattr(a, split).items():
            np.testing.assert_array_equal(v, getattr(b, split)[k], err_msg=f"{split}/{k}")
    assert a.scalers.to_json() == b.scalers.to_json()
    assert a.meta == b.meta


@pytest.mark.ray
def test_ray_data_equals_local_engine(ray_session, data_cfg):
    files = ddata.input_files(data_cfg)
    local = ddata.prepare_local(data_cfg, files)
    ray_prepared = ddata.prepare_ray(data_cfg, files, num_blocks=4)
    _same(local, ray_prepared)
    assert [name for name, _ in ray_prepared.errors] == ["broken.xml"]  # reported, not fatal
    assert len(ray_prepared.files) == 13 and len(ray_prepared.train["features"]) > 0


@pytest.mark.ray
def test_cache_is_keyed_by_content_and_reused(ray_session, data_cfg, tmp_path):
    logs = []
    path1, prepared = ddata.prepare_cached(data_cfg, str(tmp_path), engine="ray", log=logs.append)
    path2, again = ddata.prepare_cached(data_cfg, str(tmp_path), engine="local", log=logs.append)
    assert path1 == path2 and "found in the cache" in logs[-1]  # the second call parsed nothing
    _same(prepared, again)
    _same(prepared, ddata.load_cached(path1))
    other = type(data_cfg)(**{**data_cfg.__dict__, "window": 30})
    assert ddata.cache_key(ddata.input_files(other), other) != ddata.cache_key(ddata.input_files(data_cfg), data_cfg)
