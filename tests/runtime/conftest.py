"""Shared test settings for `runtime`."""

import pytest
import torch


@pytest.fixture(autouse=True)
def single_thread():
    """The test systems are tiny: one thread avoids OpenMP barrier stalls on a loaded machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
