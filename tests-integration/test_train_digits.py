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
from trainloop_callbacks import CrossEntropyLossFlat, Learner
from trainloop_callbacks.metrics import accuracy

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
        assert label == str(list(dls.vocab)[int(pred)])  # a decoded label is a `Category` (a str), as in fastai


DIGIT_ITEMS = '''
import torch

from datablock import config_safe


@config_safe
def pixels(item):
    """An 8x8 digit (64 values in 0..16) as a 1x8x8 float image in [0, 1]."""
    return torch.tensor(item["pixels"], dtype=torch.float32).reshape(1, 8, 8) / 16


@config_safe
def label(item):
    return item["label"]
'''


@pytest.mark.slow
def test_export_and_predict_a_raw_item_in_a_fresh_process(tmp_path, monkeypatch):
    """The exported learner carries the datablock pipeline as data: a new process that never saw the training
    code (only the installed module of its item functions, allowed by name) predicts from a raw item."""
    import importlib
    import os
    import subprocess
    import sys

    from trainloop_callbacks import load_learner

    site = tmp_path / "site"  # an installed distribution `digit_items`, not a module beside the export
    info = site / "digit_items-0.1.dist-info"
    info.mkdir(parents=True)
    (site / "digit_items.py").write_text(DIGIT_ITEMS)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: digit_items\nVersion: 0.1\n")
    (info / "top_level.txt").write_text("digit_items\n")
    monkeypatch.syspath_prepend(str(site))
    digit_items = importlib.import_module("digit_items")
    d = load_digits()
    items = [{"pixels": img.reshape(-1).tolist(), "label": int(t)} for img, t in zip(d.images, d.target, strict=True)]
    block = DataBlock(
        blocks=(TransformBlock(type_tfms=[digit_items.pixels]), CategoryBlock),
        get_y=digit_items.label,
        splitter=RandomSplitter(valid_pct=0.2, seed=0),
    )
    dls = block.dataloaders(items, bs=64)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Upsample(scale_factor=2.0, mode="bilinear"), *_cnn())
    learn = Learner(dls, model, CrossEntropyLossFlat(), opt_func=Adam, metrics=accuracy, path=tmp_path)
    with learn.no_bar():
        learn.fit_one_cycle(2, lr_max=1e-2)
    file = learn.export("digits.pth")
    raw = {"pixels": items[7]["pixels"]}  # no label: test_dl runs the input pipeline only
    label, pred, probs = learn.predict(raw)
    loaded_label, _, loaded_probs = load_learner(file, allow=("digit_items",)).predict(raw)
    assert loaded_label == label and torch.allclose(loaded_probs, probs, atol=1e-6)
    code = (
        "import torch\nfrom trainloop_callbacks import load_learner\n"
        f"learn = load_learner({str(file)!r}, allow=('digit_items',))\n"
        f"label, pred, probs = learn.predict({{'pixels': {raw['pixels']!r}}})\n"
        "print('RESULT', label, int(pred), float(probs.max()))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
    printed_label, printed_pred, printed_prob = line.removeprefix("RESULT ").rsplit(" ", 2)
    assert printed_label == str(label) and int(printed_pred) == int(pred)
    assert float(printed_prob) == pytest.approx(float(probs.max()), abs=1e-5)
