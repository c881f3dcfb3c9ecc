"""EMA and SWA against independent computations of the averages."""

import copy

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pluggable_optim import SGD
from trainloop_callbacks import Callback, Learner
from trainloop_callbacks.callbacks.averaging import EMA, SWA


def data(n=32, bs=8):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    return DataLoader(TensorDataset(x, y), batch_size=bs), DataLoader(TensorDataset(x[:16], y[:16]), batch_size=8)


class Weights(Callback):
    order = 90

    def __init__(self):
        self.after_steps, self.epoch_ends = [], []

    def after_step(self):
        self.after_steps.append([p.detach().clone() for p in self.learn.model.parameters()])

    def after_train(self):
        self.epoch_ends.append([p.detach().clone() for p in self.learn.model.parameters()])


def learner(model=None, cbs=(), lr=0.05):
    torch.manual_seed(0)
    model = model if model is not None else nn.Linear(3, 1)
    learn = Learner(data(), model, loss_func=nn.MSELoss(), opt_func=SGD, lr=lr, cbs=list(cbs))
    learn.remove_cb(learn.progress)
    return learn


@pytest.mark.parametrize("keep_ema", [True, False])
def test_ema_matches_hand_average_and_validates_on_it(keep_ema):
    w = Weights()
    learn = learner(cbs=[EMA(decay=0.9, keep_ema=keep_ema), w])
    ema = [p.detach().clone() for p in learn.model.parameters()]
    learn.fit(2)
    for step in w.after_steps:
        ema = [0.9 * e + 0.1 * s for e, s in zip(ema, step, strict=True)]
    for p, e in zip(learn.ema.ema_model.parameters(), ema, strict=True):
        torch.testing.assert_close(p, e)
    # the last validation ran on the averaged weights
    check = copy.deepcopy(learn.model)
    with torch.no_grad():
        for p, e in zip(check.parameters(), ema, strict=True):
            p.copy_(e)
        x, y = learn.dls.valid.dataset.tensors
        expected = float(nn.MSELoss()(check(x), y))
    assert abs(learn.recorder.values[-1][1] - expected) < 1e-5
    final = ema if keep_ema else w.after_steps[-1]
    for p, e in zip(learn.model.parameters(), final, strict=True):
        torch.testing.assert_close(p, e)


def test_ema_training_continues_from_trained_weights():
    w = Weights()
    learn = learner(cbs=[EMA(decay=0.5), w])
    learn.fit(2)
    # epoch 2 starts from epoch 1's trained weights, not from the averaged ones swapped in for validation
    first_step_epoch2 = w.after_steps[4]
    manual = learner()
    manual.fit(2)
    for p, q in zip(manual.model.parameters(), w.after_steps[-1], strict=True):
        torch.testing.assert_close(p, q)
    assert len(first_step_epoch2) == 2


def test_ema_bad_decay():
    with pytest.raises(ValueError, match="decay"):
        EMA(1.0)


def test_swa_averages_epoch_weights_and_owns_the_lr():
    w = Weights()
    learn = learner(cbs=[SWA(start_epoch=2, swa_lr=0.01, anneal_epochs=1), w])
    learn.fit_one_cycle(4, 0.05)
    expected = [(a + b) / 2 for a, b in zip(w.epoch_ends[2], w.epoch_ends[3], strict=True)]
    for p, e in zip(learn.model.parameters(), expected, strict=True):
        torch.testing.assert_close(p, e)
    assert learn.swa.n_averaged == 2
    last_epoch_lrs = learn.recorder.lrs[-4:]
    assert all(abs(lr - 0.01) < 1e-12 for lr in last_epoch_lrs)


def test_swa_recomputes_batchnorm_statistics():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    learn = learner(model=model, cbs=[SWA(start_epoch=1, swa_lr=0.01)])
    learn.loss_func = lambda p, y: ((p.mean(1, keepdim=True) - y) ** 2).mean()
    learn.fit(3)
    x = learn.dls.train.dataset.tensors[0]
    with torch.no_grad():
        z = model[0](x)
    # update_bn keeps a cumulative average of batch means (4 equal batches = the overall mean)
    torch.testing.assert_close(model[1].running_mean, z.mean(0), rtol=1e-4, atol=1e-5)


def test_swa_start_after_end():
    learn = learner(cbs=[SWA(start_epoch=5, swa_lr=0.01)])
    with pytest.raises(ValueError, match="start_epoch=5"):
        learn.fit(2)
