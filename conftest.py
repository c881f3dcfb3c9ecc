"""Repo-wide pytest hooks: GPU tests are skipped, with one recognisable reason, when no CUDA device exists."""

import importlib.util

import pytest

GPU_SKIP_REASON = "needs a GPU (no CUDA device here)"


def _has_cuda() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):  # noqa: ARG001 (pytest hook signature)
    gpu_items = [item for item in items if "gpu" in item.keywords]
    if gpu_items and not _has_cuda():
        for item in gpu_items:
            item.add_marker(pytest.mark.skip(reason=GPU_SKIP_REASON))
