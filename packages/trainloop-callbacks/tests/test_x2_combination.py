"""The techniques combined: one fit with all of them, and every pair of them."""

import functools
import itertools

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pluggable_optim import SGD
from trainloop_callbacks import CrossEntropyLossFlat, EarlyStoppingCallback, Learner, SaveModelCallback
from trainloop_callbacks.callbacks.accumulate import GradientAccumulation
from trainloop_callbacks.callbacks.averaging import EMA
from trainloop_callbacks.callbacks.mixed_precision import MixedPrecision
from trainloop_callbacks.callbacks.mixup import MixUp
from trainloop_callbacks.callbacks.training import GradientClip


def data():
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 8, generator=g) * 2
    y = torch.arange(192) % 3
    x = centres[y] + torch.randn(192, 8, generator=g)
    return (
        DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, generator=g),
        DataLoader(TensorDataset(x[:96], y[:96]), batch_size=32),
    )


TECHNIQUES = {
    "bf16": lambda: MixedPrecision("bf16"),
    "accumulate": lambda: GradientAccumulation(32),
    "clip": lambda: GradientClip(1.0),
    "mixup": lambda: MixUp(0.4),
    "one_cycle": None,  # a fit policy, not a callback
    "save": lambda: SaveModelCallback(),
    "early_stop": lambda: EarlyStoppingCallback(patience=3),
    "ema": lambda: EMA(0.9),
}


def train(names, tmp_path, epochs=4):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3))
    cbs = [TECHNIQUES[n]() for n in names if TECHNIQUES[n] is not None]
    opt_func = functools.partial(SGD, mom=0.9)  # momentum: fit_one_cycle schedules it too
    learn = Learner(data(), model, loss_func=CrossEntropyLossFlat(), opt_func=opt_func, lr=0.1, path=tmp_path, cbs=cbs)
    learn.remove_cb(learn.progress)
    learn.logger = None
    before = learn.validate()[0]
    if "one_cycle" in names:
        learn.fit_one_cycle(epochs, 0.1)
    else:
        learn.fit(epochs)
    after = learn.validate()[0]
    return learn, before, after


def test_everything_together(tmp_path):
    learn, before, after = train(list(TECHNIQUES), tmp_path, epochs=5)
    assert after < 0.5 * before, (before, after)
    train_losses = [v[0] for v in learn.recorder.values]
    assert train_losses[-1] < train_losses[0]
    assert (tmp_path / "models" / "model.pth").exists()
    assert learn.gradient_accumulation.n_steps > 0
    names = [type(c).__name__ for c in learn.cbs]
    assert names.index("GradientAccumulation") < names.index("MixedPrecision") < names.index("GradientClip")


@pytest.mark.parametrize("pair", list(itertools.combinations(TECHNIQUES, 2)), ids="+".join)
def test_each_pair(pair, tmp_path):
    _, before, after = train(pair, tmp_path, epochs=2)
    assert after < 0.7 * before, (pair, before, after)
