"""A small CNN trained from scratch on scikit-learn's 8x8 digits (upsampled to 16x16) with the tiers Learner,
pluggable-optim's Adam and fit_one_cycle reaches >= 97% validation accuracy: with datablock's DataLoaders and
with two plain torch DataLoaders."""

import time

import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from datablock import CategoryBlock, DataBlock, RandomSplitter, TransformBlock
from pluggable_optim import Adam
from trainloop_callbacks import CrossEntropyLossFlat, Learner, accuracy

SIZE = 16


def _digits():
    d = load_digits()
    images = torch.tensor(d.images, dtype=torch.float32)[:, None] / 16.0  # (1797, 1, 8, 8) in [0, 1]
    return F.interpolate(images, size=(SIZE, SIZE), mode="bilinear", align_corners=False), torch.tensor(d.target)


def _cnn():
    def block(c_in, c_out):
        return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]

    return nn.Sequential(
        *block(1, 16),
        nn.MaxPool2d(2),
        *block(16, 32),
        nn.MaxPool2d(2),
        *block(32, 64),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, 10),
    )


def _plain_dls(images, labels):
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(labels), generator=g)
    n_valid = len(labels) // 5
    valid_idx, train_idx = perm[:n_valid], perm[n_valid:]
    train = DataLoader(TensorDataset(images[train_idx], labels[train_idx]), batch_size=64, shuffle=True)
    valid = DataLoader(TensorDataset(images[valid_idx], labels[valid_idx]), batch_size=256)
    return train, valid


def _datablock_dls(images, labels):
    block = DataBlock(
        blocks=(TransformBlock(type_tfms=[lambda i: images[i]]), CategoryBlock),
        get_y=lambda i: int(labels[i]),
        splitter=RandomSplitter(valid_pct=0.2, seed=0),
    )
    return block.dataloaders(list(range(len(labels))), bs=64)


@pytest.mark.slow
@pytest.mark.parametrize("data", ["datablock", "torch"])
def test_small_cnn_reaches_97_percent(data):
    images, labels = _digits()
    dls = _datablock_dls(images, labels) if data == "datablock" else _plain_dls(images, labels)
    torch.manual_seed(0)
    learn = Learner(dls, _cnn(), CrossEntropyLossFlat(), opt_func=Adam, metrics=accuracy)
    start = time.perf_counter()
    with learn.no_bar():
        learn.fit_one_cycle(5, lr_max=1e-2)
    elapsed = time.perf_counter() - start
    acc = learn.recorder.values[-1][2]
    print(f"digits with {data} loaders: valid accuracy {acc:.4f} in {elapsed:.1f}s")
    assert acc >= 0.97
    _, acc_again = learn.validate()
    assert acc_again == pytest.approx(acc)
    if data == "datablock":  # a raw item through the data's test_dl and decode_batch hooks
        label, pred, probs = learn.predict(0)
        assert probs.shape == (10,) and int(pred) == int(probs.argmax())
        assert label == list(dls.vocab)[int(pred)]
