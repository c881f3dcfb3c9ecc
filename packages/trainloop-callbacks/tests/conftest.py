"""Shared fixtures: tiny synthetic data sets and models."""

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_regression(n=64, bs=16, seed=0, shuffle=False):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    ds = TensorDataset(x, y)
    return DataLoader(ds, batch_size=bs, shuffle=shuffle), DataLoader(TensorDataset(x[:32], y[:32]), batch_size=bs)


def make_classification(n=96, bs=16, n_classes=3, seed=0, shuffle=False):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(n_classes, 4, generator=g) * 3
    y = torch.arange(n) % n_classes
    x = centers[y] + torch.randn(n, 4, generator=g)
    return (
        DataLoader(TensorDataset(x, y), batch_size=bs, shuffle=shuffle),
        DataLoader(TensorDataset(x[: n // 2], y[: n // 2]), batch_size=bs),
    )


@pytest.fixture(name="make_regression")
def _make_regression_fixture():
    return make_regression


@pytest.fixture(name="make_classification")
def _make_classification_fixture():
    return make_classification


@pytest.fixture
def linear():
    torch.manual_seed(0)
    return nn.Linear(3, 1)


@pytest.fixture
def clf_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
