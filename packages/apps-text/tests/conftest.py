"""Fixtures of the apps-text tests."""

import pytest
import torch


@pytest.fixture
def one_thread():
    """One torch thread: small CPU LSTMs gain nothing from more, and on a shared machine they spin (10x CPU time)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
