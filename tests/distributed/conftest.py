"""One local Ray (2 CPUs) shared by every Ray test of the session, and a small corpus with one bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import DataConfig

SMALL = dict(window=40, overlap=0, max_tracks=8, val_fraction=0.25)


@pytest.fixture(scope="session")
def ray_session():
    import ray

    from distributed.cluster import init_ray
    from distributed.settings import SearchSettings

    started = init_ray(SearchSettings(num_cpus=2), log=lambda s: None)
    yield ray
    if started:
        ray.shutdown()  # only what this session started


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
