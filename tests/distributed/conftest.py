"""One local Ray (2 CPUs) shared by every Ray test of the session, and a small corpus with one bad file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.config import DataConfig
from core.data.file_limit import SLOW_FILE_ENV

# split_by file: the generated timelines share their clip names, so by programme (the default for a folder)
# they would all be one programme and the validation set empty
SLOW_FOR_RAY = "slow_for_the_time_limit.xml"
SMALL = dict(window=40, overlap=0, max_tracks=8, val_fraction=0.25, split_by="file")


@pytest.fixture(scope="session")
def ray_session():
    import ray

    from distributed.cluster import init_ray
    from distributed.settings import SearchSettings

    # the time-limit drill (core.data.file_limit) reaches Ray's workers only through the environment they
    # start with; it names a file that only test_time_limit_on_the_ray_engine writes
    before = os.environ.get(SLOW_FILE_ENV)
    os.environ[SLOW_FILE_ENV] = f"{SLOW_FOR_RAY}=60"
    started = init_ray(SearchSettings(num_cpus=2), log=lambda s: None)
    yield ray
    if started and ray.is_initialized():
        ray.shutdown()  # only what this session started
    if before is None:
        os.environ.pop(SLOW_FILE_ENV, None)
    else:
        os.environ[SLOW_FILE_ENV] = before


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory) -> Path:
    """12 built-in timelines plus one file that is not XML."""
    from core.data.synth import write_corpus

    d = tmp_path_factory.mktemp("corpus")
    write_corpus(d, 12, 3)
    (d / "broken.xml").write_bytes(b"<xmeml><sequence>not closed")
    return d


@pytest.fixture(scope="session")
def data_cfg(corpus_dir) -> DataConfig:
    return DataConfig(data_dir=str(corpus_dir), **SMALL)


@pytest.fixture(scope="session")
def s3_server():
    """A real S3-compatible HTTP server (moto) on 127.0.0.1 for this session, with one empty bucket; yields the
    environment that points pyarrow (and every Ray worker started with it) at the server."""
    moto_server = pytest.importorskip("moto.server", reason="moto[server] is in the test extra: pip install -e .[test]")
    import socket

    import boto3

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
    boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket="xmlai-test")
    yield env
    server.stop()


@pytest.fixture
def s3(s3_server, monkeypatch, request):
    """``s3://xmlai-test/<test name>`` with the server's environment set in this process too."""
    for k, v in s3_server.items():
        monkeypatch.setenv(k, v)
    return f"s3://xmlai-test/{request.node.name.replace('[', '-').replace(']', '')}", s3_server
