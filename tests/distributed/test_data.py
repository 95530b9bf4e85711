"""Ray Data preparation equals the local engine on the same files; a bad file is reported, the rest processed; the
prepared-data cache on a bucket is published marker-last and shared by the processes of one node."""

from __future__ import annotations

import hashlib
import multiprocessing as mp

import pytest

from core.config import DataConfig
from distributed import data as ddata
from tests.distributed.conftest import SLOW_FOR_RAY, SMALL
from tests.distributed.drivers import assert_same_prepared


@pytest.mark.ray
def test_ray_data_equals_local_engine(ray_session, data_cfg):
    files = ddata.input_files(data_cfg)
    local = ddata.prepare_local(data_cfg, files)
    ray_prepared = ddata.prepare_ray(data_cfg, files, num_blocks=4)
    assert_same_prepared(local, ray_prepared)
    assert [name for name, _ in ray_prepared.errors] == ["broken.xml"]  # reported, not fatal
    assert len(ray_prepared.files) == 13 and len(ray_prepared.train["features"]) > 0


@pytest.mark.ray
def test_time_limit_on_the_ray_engine(ray_session, corpus_dir, tmp_path):
    """A file whose preparation sleeps 60 s (the drill, set for the session in conftest.py) is reported by
    name after data.file_timeout_s = 1 s, in the Ray task itself; the other files are prepared."""
    files = sorted(corpus_dir.glob("synth_*.xml"))[:3]
    slow = tmp_path / SLOW_FOR_RAY
    slow.write_bytes(files[0].read_bytes())
    cfg = DataConfig(data_dir=str(tmp_path), **{**SMALL, "file_timeout_s": 1.0})
    prepared = ddata.prepare_ray(cfg, [*files, slow], num_blocks=2)
    assert [name for name, _ in prepared.errors] == [SLOW_FOR_RAY]
    assert "data.file_timeout_s = 1 s" in prepared.errors[0][1]
    assert len(prepared.files) == 4 and len(prepared.train["features"]) + len(prepared.val["features"]) > 0


@pytest.mark.ray
def test_cache_is_keyed_by_content_and_reused(ray_session, data_cfg, tmp_path):
    logs = []
    path1, prepared = ddata.prepare_cached(data_cfg, str(tmp_path), engine="ray", log=logs.append)
    path2, again = ddata.prepare_cached(data_cfg, str(tmp_path), engine="local", log=logs.append)
    assert path1 == path2 and "found in the cache" in logs[-1]  # the second call parsed nothing
    assert_same_prepared(prepared, again)
    assert_same_prepared(prepared, ddata.load_cached(path1))
    other = type(data_cfg)(**{**data_cfg.__dict__, "window": 30})
    assert ddata.cache_key(ddata.input_files(other), other) != ddata.cache_key(ddata.input_files(data_cfg), data_cfg)


def _load_in_process(target: str, barrier, out) -> None:
    barrier.wait()  # every "worker on the node" asks for the cache at the same moment
    data = ddata.load_cached(target)
    out.put(hashlib.sha256(data.train["features"].tobytes()).hexdigest())


def test_bucket_cache_marker_goes_last_and_one_node_downloads_it_once(s3, data_cfg, tmp_path, monkeypatch):
    """On a real S3 server: the DONE marker is the last object of the cache written, and several processes of one
    node loading it at once all get the same windows from one complete local copy."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    bucket, _ = s3
    target, data = ddata.prepare_cached(data_cfg, bucket, engine="local", log=lambda s: None)
    prefix = target.split("://", 1)[1].split("/", 1)[1] + "/"
    objects = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].buckets["xmlai-test"].keys
    written = [k for k in objects if k.startswith(prefix)]  # in the order the server stored them
    assert len(written) >= 5 and written[-1] == prefix + "DONE", written

    monkeypatch.setenv("XMLAI_CACHE", str(tmp_path / "node"))
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(3), ctx.Queue()
    procs = [ctx.Process(target=_load_in_process, args=(target, barrier, out)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
        assert p.exitcode == 0
    digests = {out.get(timeout=5) for _ in procs}
    assert digests == {hashlib.sha256(data.train["features"].tobytes()).hexdigest()}
    local = tmp_path / "node" / "prepared"
    key = target.rsplit("/", 1)[-1]
    assert sorted(p.name for p in local.iterdir()) == [f".{key}.lock", key]  # one copy, no half-written leftovers
    assert (local / key / "DONE").is_file()


def test_the_search_cache_keeps_within_its_size(data_cfg, tmp_path):
    """The searches' cache on a folder (storage/_prepared) is pruned as the local one is: past data.cache_max_gb, the
    data sets used least recently go, never one used within the hour nor the one just prepared."""
    import os

    from core.data.publish import DONE

    logs = []
    first, _ = ddata.prepare_cached(data_cfg, str(tmp_path), engine="local", log=logs.append)
    os.utime(f"{first}/{DONE}", (0, 0))  # as if last used long ago
    other = type(data_cfg)(**{**data_cfg.__dict__, "window": 30, "cache_max_gb": 1e-9})
    second, _ = ddata.prepare_cached(other, str(tmp_path), engine="local", log=logs.append)
    assert not os.path.exists(first) and os.path.isdir(second)
    assert any("removed" in line and first in line for line in logs)
