"""Tracking callbacks: early stopping, checkpoints, lr on plateau, NaN termination, CSV log."""

import math
import re

import pytest
import torch
from torch import nn

from pluggable_optim import SGD
from trainloop_callbacks import (
    Callback,
    CSVLogger,
    EarlyStoppingCallback,
    FiniteLossCheck,
    Learner,
    NonFiniteLossError,
    ReduceLROnPlateau,
    SaveModelCallback,
    TerminateOnNaNCallback,
)


class ScriptedValidLoss(Callback):
    """Overwrites the recorded validation loss with a scripted sequence (runs right after the Recorder)."""

    order = 55

    def __init__(self, losses):
        self.losses = losses

    def after_epoch(self):
        rec = self.learn.recorder
        rec.values[-1][1] = self.losses[self.learn.epoch]


def _learner(make_regression, tmp_path, **kw):
    torch.manual_seed(0)
    return Learner(make_regression(), nn.Linear(3, 1), nn.MSELoss(), opt_func=SGD, lr=0.01, path=tmp_path, **kw)


def test_early_stopping_after_patience(make_regression, tmp_path):
    learn = _learner(make_regression, tmp_path)
    es = EarlyStoppingCallback(patience=2)
    with learn.no_bar():
        learn.fit(10, cbs=[ScriptedValidLoss([5.0, 4.0, 4.5, 4.2, 3.0, 1.0, 1.0, 1.0, 1.0, 1.0]), es])
    assert es.stopped_epoch == 3  # no improvement on 4.0 at epochs 2 and 3
    assert len(learn.recorder.values) == 4 and es.best == 4.0


def test_early_stopping_min_delta_and_bad_monitor(make_regression, tmp_path):
    learn = _learner(make_regression, tmp_path)
    es = EarlyStoppingCallback(min_delta=0.5, patience=1)
    with learn.no_bar():
        learn.fit(5, cbs=[ScriptedValidLoss([5.0, 4.8, 1.0, 1.0, 1.0]), es])
    assert es.stopped_epoch == 1  # 4.8 is not 0.5 better than 5.0
    with pytest.raises(ValueError, match=r"cannot monitor 'accuracy'.*valid_loss"):
        with learn.no_bar():
            learn.fit(1, cbs=EarlyStoppingCallback(monitor="accuracy"))


def test_save_model_keeps_best_and_loads_it_at_end(make_regression, tmp_path):
    learn = _learner(make_regression, tmp_path)
    snapshots = {}

    class Snap(Callback):
        order = 70

        def after_epoch(self):
            snapshots[self.learn.epoch] = learn.model.weight.detach().clone()

    with learn.no_bar():
        learn.fit(4, cbs=[ScriptedValidLoss([3.0, 1.0, 2.0, 2.5]), SaveModelCallback(fname="best"), Snap()])
    assert (tmp_path / "models" / "best.pth").exists()
    assert torch.equal(learn.model.weight, snapshots[1])  # epoch 1 was best and is loaded back


def test_save_model_reload_keeps_history(make_regression, tmp_path):
    learn = _learner(make_regression, tmp_path)
    snapshots = {}

    class Snap(Callback):
        order = 70

        def after_epoch(self):
            snapshots[self.learn.epoch] = learn.model.weight.detach().clone()

    es = EarlyStoppingCallback(patience=10)
    with learn.no_bar():
        learn.fit(4, cbs=[ScriptedValidLoss([1.0, 2.0, 3.0, 4.0]), SaveModelCallback(fname="best"), es, Snap()])
    assert torch.equal(learn.model.weight, snapshots[0])  # the best epoch's weights are back
    assert [v[1] for v in learn.recorder.values] == [1.0, 2.0, 3.0, 4.0]  # and the history of all four epochs
    assert len(learn.recorder.losses) == len(learn.recorder.lrs) == 4 * 4
    assert (es.best, es.wait) == (1.0, 3)  # the other trackers are not rewound either


def test_two_save_model_callbacks_watching_different_metrics_both_save(make_regression, tmp_path):
    learn = _learner(make_regression, tmp_path)
    snapshots = {}

    class Snap(Callback):
        order = 70

        def after_epoch(self):
            snapshots[self.learn.epoch] = learn.model.weight.detach().clone()

    class ScriptedTrainLoss(Callback):
        order = 55

        def after_epoch(self):
            self.learn.recorder.values[-1][0] = [1.0, 0.5, 2.0, 3.0][self.learn.epoch]

    by_valid = SaveModelCallback(fname="best_valid")
    by_train = SaveModelCallback(monitor="train_loss", fname="best_train")
    learn.add_cbs([by_valid, by_train])
    assert learn.save_model is by_valid and learn.save_model_1 is by_train
    with learn.no_bar():
        learn.fit(4, cbs=[ScriptedValidLoss([3.0, 1.0, 0.5, 2.5]), ScriptedTrainLoss(), Snap()])
    assert (by_valid.best, by_train.best) == (0.5, 0.5)
    best_valid = torch.load(tmp_path / "models" / "best_valid.pth", weights_only=True)["model"]["weight"]
    best_train = torch.load(tmp_path / "models" / "best_train.pth", weights_only=True)["model"]["weight"]
    assert torch.equal(best_valid, snapshots[2]) and torch.equal(best_train, snapshots[1])


def test_save_model_every_epoch(make_regression, tmp_path):
    learn = _learner(make_regression, tmp_path)
    with learn.no_bar():
        learn.fit(3, cbs=SaveModelCallback(every_epoch=True, fname="e"))
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["e_0.pth", "e_1.pth", "e_2.pth"]


def test_reduce_lr_on_plateau(make_regression, tmp_path):
    learn = _learner(make_regression, tmp_path)
    with learn.no_bar():
        learn.fit(4, cbs=[ScriptedValidLoss([3.0, 3.5, 3.6, 1.0]), ReduceLROnPlateau(patience=2, factor=10)])
    assert learn.opt.hypers[0]["lr"] == pytest.approx(0.001)


class NaNAfter(Callback):
    """Makes the loss NaN from a given training batch on."""

    def __init__(self, train_iter):
        self.train_iter = train_iter

    def after_loss(self):
        if self.learn.training and self.learn.train_iter >= self.train_iter:
            self.learn.loss_grad = self.learn.loss_grad * float("nan")
            self.learn.loss = self.learn.loss_grad.detach()


def test_nan_loss_stops_and_keeps_last_good_checkpoint(make_regression, tmp_path):
    learn = _learner(make_regression, tmp_path)
    term = TerminateOnNaNCallback()
    save = SaveModelCallback(fname="good")
    with learn.no_bar():
        learn.fit(5, cbs=[NaNAfter(train_iter=9), term, save])  # 4 batches per epoch: NaN in epoch 2
    assert term.terminated_at == (2, 1)
    assert len(learn.recorder.values) == 2
    assert all(torch.isfinite(p).all() for p in learn.model.parameters())
    good = torch.load(tmp_path / "models" / "good.pth", weights_only=True)["model"]
    assert torch.equal(learn.model.weight, good["weight"])


class WeightLog(Callback):
    """The weights after every optimizer step, keyed by (epoch, batch)."""

    def __init__(self):
        self.after = {}

    def after_step(self):
        self.after[(self.learn.epoch, self.learn.iter)] = self.learn.model.weight.detach().clone()


def _loaders_with(bad_x=None, bad_y=None):
    from torch.utils.data import DataLoader, TensorDataset

    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 3, generator=g)
    y = x.sum(1, keepdim=True)
    if bad_x is not None:
        x[bad_x] = float("nan")
    if bad_y is not None:
        y[bad_y] = float("inf") if bad_y % 2 else float("nan")
    return DataLoader(TensorDataset(x, y), batch_size=8), DataLoader(TensorDataset(x[:8], y[:8]), batch_size=8)


@pytest.mark.parametrize("kind", ["targets", "inputs"])
def test_nan_loss_stops_with_an_error_naming_epoch_batch_and_cause(kind, tmp_path):
    dls = _loaders_with(**{"bad_y" if kind == "targets" else "bad_x": 21})  # item 21: batch 2 of each epoch
    torch.manual_seed(0)
    log = WeightLog()
    learn = Learner(dls, nn.Linear(3, 1), nn.MSELoss(), opt_func=SGD, lr=0.01, path=tmp_path, cbs=log)
    assert isinstance(learn.finite_loss_check, FiniteLossCheck)  # a default callback
    expected = rf"loss is (nan|inf) at epoch 0, batch 2; the {kind} of this batch hold NaN"
    with pytest.raises(NonFiniteLossError, match=expected):
        with learn.no_bar():
            learn.fit(2)
    assert torch.equal(learn.model.weight, log.after[(0, 1)])  # the weights before the bad batch's step
    assert all(p.grad is None or not p.grad.any() for p in learn.model.parameters())


def test_diverging_training_stops_before_the_weights_go_bad(tmp_path):
    dls = _loaders_with()
    torch.manual_seed(0)
    log = WeightLog()
    learn = Learner(dls, nn.Linear(3, 1), nn.MSELoss(), opt_func=SGD, lr=1e18, path=tmp_path, cbs=log)
    with pytest.raises(NonFiniteLossError, match=r"the data is finite, so training diverged") as info:
        with learn.no_bar():
            learn.fit(3)
    epoch, batch = map(int, re.search(r"epoch (\d+), batch (\d+)", str(info.value)).groups())
    last_step = max(k for k in log.after if k < (epoch, batch))
    assert torch.isfinite(learn.model.weight).all() and torch.equal(learn.model.weight, log.after[last_step])


def test_nan_check_can_be_removed(tmp_path):
    torch.manual_seed(0)
    learn = Learner(_loaders_with(bad_y=21), nn.Linear(3, 1), nn.MSELoss(), opt_func=SGD, lr=0.01, path=tmp_path)
    learn.remove_cb(FiniteLossCheck)  # the documented opt-out: train on regardless
    with learn.no_bar():
        learn.fit(1)
    assert not torch.isfinite(learn.model.weight).all()  # the NaN went into the weights, as asked


def test_csv_logger(make_regression, tmp_path):
    learn = _learner(make_regression, tmp_path)
    log = CSVLogger()
    with learn.no_bar():
        learn.fit(2, cbs=log)
    rows = log.read_log()
    assert rows[0] == ["epoch", "train_loss", "valid_loss", "time"]
    assert [r[0] for r in rows[1:]] == ["0", "1"]
    assert math.isclose(float(rows[2][2]), learn.recorder.values[1][1], rel_tol=1e-6)
