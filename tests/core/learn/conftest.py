"""Fixtures of the training-loop tests."""

from __future__ import annotations

import pytest

from core.config import config_from_dict
from core.data.preprocess import prepare
from tests.core.learn._runs import TINY


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    cfg = config_from_dict({**TINY, "data": {**TINY["data"], "cache_dir": str(cache)}})
    return cfg, prepare(cfg.data)
