from __future__ import annotations

import pytest
import torch

from tests.core.serve._tiny import train_tiny_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    return train_tiny_model(tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture(scope="session")
def predictor(tiny_model):
    from core.serve.export import load_exported

    return load_exported(tiny_model)


@pytest.fixture
def one_thread():
    """One torch thread: on a shared 2-core machine small ops with more threads are many times slower."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
