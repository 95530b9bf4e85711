from __future__ import annotations

import pytest

from tests.core.serve._tiny import train_tiny_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    return train_tiny_model(tmp_path_factory.mktemp("tiny_model"))
