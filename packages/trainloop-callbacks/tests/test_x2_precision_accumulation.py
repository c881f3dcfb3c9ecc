"""MixedPrecision, GradientAccumulation, StepClock, GradientClip, BnFreeze, ChannelsLast and the conflict check."""

import copy
import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pluggable_optim import SGD
from trainloop_callbacks import Callback, Learner
from trainloop_callbacks.callbacks.accumulate import GradientAccumulation
from trainloop_callbacks.callbacks.mixed_precision import MixedPrecision, to_bf16, to_fp16, to_fp32
from trainloop_callbacks.callbacks.training import BnFreeze, ChannelsLast, GradientClip
from trainloop_callbacks.loop.conflicts import CallbackConflictError, check_conflicts
from trainloop_callbacks.loop.train_eval import StepClock
from trainloop_callbacks.schedule.scheds import combined_cos


def regression_data(n=48, bs=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    return DataLoader(TensorDataset(x, y), batch_size=bs), DataLoader(TensorDataset(x[:16], y[:16]), batch_size=bs)


def make_learner(bs=8, n=48, cbs=None, model=None, **kw):
    torch.manual_seed(0)
    model = model if model is not None else nn.Linear(3, 1)
    learn = Learner(regression_data(n, bs), model, loss_func=nn.MSELoss(), opt_func=SGD, lr=0.05, cbs=cbs, **kw)
    learn.remove_cb(learn.progress)
    return learn


class CountSteps(Callback):
    def __init__(self):
        self.steps, self.batches = 0, 0

    def after_step(self):
        self.steps += 1

    def after_batch(self):
        if self.learn.training:
            self.batches += 1


# ---- GradientAccumulation ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("n_acc", "big_bs"), [(32, 32), (20, 24)])
def test_accumulation_equals_one_big_batch(n_acc, big_bs):
    # 48 samples: bs 8 accumulated to >= n_acc steps every big_bs samples, as bs=big_bs would
    counter = CountSteps()
    acc = make_learner(bs=8, n=96, cbs=[GradientAccumulation(n_acc), counter])
    big = make_learner(bs=big_bs, n=96)
    acc.fit(2)
    big.fit(2)
    assert counter.steps == 2 * (96 // big_bs)
    assert counter.batches == 2 * 12
    for p, q in zip(acc.model.parameters(), big.model.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_accumulation_recorded_loss_is_unscaled():
    acc = make_learner(bs=8, cbs=[GradientAccumulation(16)])
    plain = make_learner(bs=8)
    with torch.no_grad():
        first = float(nn.MSELoss()(acc.model(next(iter(acc.dls.train))[0]), next(iter(acc.dls.train))[1]))
    acc.fit(1)
    plain.fit(1)
    # first recorded (smoothed) loss is the first batch's loss itself, not multiplied by the batch size
    assert math.isclose(acc.recorder.loss_values[0], first, rel_tol=1e-5)


def test_accumulation_schedule_follows_optimizer_steps():
    sched = combined_cos(0.25, 0.01, 0.1, 1e-5)
    learn = make_learner(bs=8, n=48, cbs=[GradientAccumulation(24)])  # 6 batches, a step every 3
    from trainloop_callbacks import ParamScheduler

    learn.fit(2, cbs=[ParamScheduler({"lr": sched})])
    lrs = learn.recorder.lrs
    assert len(lrs) == 12
    total = 12
    # batches of one accumulation share the lr of the position reached by the previous step
    for i, lr in enumerate(lrs):
        done = (i // 3) * 3
        assert math.isclose(lr, sched(done / total), rel_tol=1e-9), (i, lr)


def test_accumulation_warns_about_batchnorm():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    learn = make_learner(model=model, cbs=[GradientAccumulation(16)])
    with pytest.warns(UserWarning, match="BatchNorm.*per micro-batch"):
        learn.fit(1)


def test_accumulation_bad_n_acc():
    with pytest.raises(ValueError, match="n_acc"):
        GradientAccumulation(0)


# ---- MixedPrecision ------------------------------------------------------------------------------------------------
class DtypeProbe(Callback):
    order = 20  # after MixedPrecision

    def __init__(self):
        self.inner, self.pred = [], []

    def before_fit(self):
        self.h = self.learn.model[0].register_forward_hook(lambda m, i, o: self.inner.append(o.dtype))

    def after_pred(self):
        self.pred.append(self.learn.pred.dtype)

    def after_fit(self):
        self.h.remove()


def test_bf16_trains_on_cpu_with_autocast():
    model = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 1))
    probe = DtypeProbe()
    learn = make_learner(model=model, cbs=[probe])
    to_bf16(learn)
    assert learn.mixed_precision.amp_mode == "bf16"
    learn.fit(4, lr=0.05)
    assert set(probe.inner) == {torch.bfloat16}  # forward ran under autocast
    assert set(probe.pred) == {torch.float32}  # predictions handed back in fp32
    assert learn.mixed_precision.scaler is None
    losses = [v[0] for v in learn.recorder.values]
    assert losses[-1] < losses[0] * 0.5
    assert next(model.parameters()).dtype == torch.float32  # weights stay fp32
    to_fp32(learn)
    assert not any(isinstance(c, MixedPrecision) for c in learn.cbs)
    probe.inner.clear()
    learn.fit(1)
    assert set(probe.inner) == {torch.float32}


def test_autocast_is_left_when_a_batch_is_cancelled():
    from trainloop_callbacks import CancelBatchException

    class CancelAfterPred(Callback):
        order = 20

        def after_pred(self):
            raise CancelBatchException

    learn = make_learner(cbs=[MixedPrecision("bf16"), CancelAfterPred()])
    learn.fit(1)
    assert not torch.is_autocast_enabled("cpu")


class PoisonGrad(Callback):
    """Makes the gradient infinite at the given training batches, as an fp16 overflow would."""

    order = 8  # after_backward: before MixedPrecision's step decision

    def __init__(self, at):
        self.at = set(at)

    def after_backward(self):
        if self.learn.train_iter in self.at:
            next(self.learn.model.parameters()).grad[0, 0] = float("inf")


class Snapshot(Callback):
    order = 90

    def __init__(self):
        self.weights, self.pcts = [], []

    def after_batch(self):
        if self.learn.training:
            self.weights.append(copy.deepcopy(self.learn.model.state_dict()))
            self.pcts.append(self.learn.pct_train)


def test_fp16_overflow_skips_step_and_schedule():
    snap = Snapshot()
    learn = make_learner(cbs=[PoisonGrad({2}), snap])
    to_fp16(learn, init_scale=1024.0)
    learn.fit(1)
    mp = learn.mixed_precision
    assert mp.skipped_steps == 1
    assert mp.scaler.get_scale() == 512.0  # backed off once
    # the poisoned batch left the weights as they were
    for k in snap.weights[1]:
        torch.testing.assert_close(snap.weights[2][k], snap.weights[1][k], rtol=0, atol=0)
    # the position did not move on the skipped step; the others advanced one batch each (6 batches)
    steps = [round(p * 6) for p in snap.pcts]
    assert steps == [1, 2, 2, 3, 4, 5]
    assert all(torch.isfinite(p).all() for p in learn.model.parameters())


def test_mixed_precision_bad_mode():
    with pytest.raises(ValueError, match="amp_mode"):
        MixedPrecision("fp8")


@pytest.mark.gpu
def test_fp16_on_gpu_trains():
    learn = make_learner()
    learn.model.cuda()
    to_fp16(learn)
    learn.fit(3)
    assert learn.recorder.values[-1][0] < learn.recorder.values[0][0]


# ---- GradientClip --------------------------------------------------------------------------------------------------
def test_gradient_clip_limits_the_update():
    learn = make_learner(cbs=[GradientClip(max_norm=0.01)], n=8)
    before = [p.detach().clone() for p in learn.model.parameters()]
    learn.fit(1, lr=1.0)
    delta = torch.cat([(p.detach() - b).flatten() for p, b in zip(learn.model.parameters(), before, strict=True)])
    assert learn.gradient_clip.last_norm > 0.01
    assert math.isclose(float(delta.norm()), 0.01, rel_tol=1e-4)


def test_gradient_clip_sees_unscaled_gradients_under_fp16():
    plain = make_learner(cbs=[GradientClip(1e6)], n=8)
    plain.fit(1)
    amp = make_learner(cbs=[GradientClip(1e6), MixedPrecision("fp16", init_scale=4096.0)], n=8)
    amp.fit(1)
    torch.testing.assert_close(amp.gradient_clip.last_norm, plain.gradient_clip.last_norm, rtol=1e-2, atol=1e-3)


# ---- conflict check -----------------------------------------------------------------------------------------------
def test_conflict_order_rule_rejects_clip_before_unscale():
    clip = GradientClip()
    clip.order = 5  # before MixedPrecision's unscale
    learn = make_learner(cbs=[MixedPrecision("fp16"), clip])
    with pytest.raises(CallbackConflictError, match=r"MixedPrecision \(order 10\) must run before GradientClip"):
        learn.fit(1)


def test_conflict_order_rule_accumulation_before_unscale():
    acc = GradientAccumulation(16)
    acc.order = 12
    learn = make_learner(cbs=[acc, MixedPrecision("bf16")])
    with pytest.raises(CallbackConflictError, match=r"GradientAccumulation.*must run before MixedPrecision"):
        learn.fit(1)


def test_default_orders_pass_the_check():
    learn = make_learner(cbs=[GradientClip(), MixedPrecision("fp16"), GradientAccumulation(16)])
    check_conflicts(learn.cbs)
    names = [type(c).__name__ for c in learn.cbs]
    assert names.index("GradientAccumulation") < names.index("MixedPrecision") < names.index("GradientClip")


def test_exclusive_pair_rejected():
    from trainloop_callbacks.callbacks.mixup import CutMix, MixUp

    with pytest.raises(CallbackConflictError, match="MixUp and CutMix cannot be used in the same fit"):
        check_conflicts([MixUp(), CutMix()])


# ---- StepClock without skips equals TrainEval
def test_step_clock_alone_matches_batches():
    snap = Snapshot()
    learn = make_learner(cbs=[StepClock(), snap])
    learn.fit(2)
    assert [round(p * 12) for p in snap.pcts] == list(range(1, 13))


# ---- BnFreeze, ChannelsLast
def test_bn_freeze_keeps_frozen_statistics():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    learn = make_learner(
        model=model, cbs=[BnFreeze()], splitter=lambda m: [list(m[:2].parameters()), list(m[2].parameters())]
    )
    learn.train_bn = False
    learn.freeze()
    mean = model[1].running_mean.clone()
    learn.fit(1)
    torch.testing.assert_close(model[1].running_mean, mean, rtol=0, atol=0)
    learn.unfreeze()
    learn.fit(1)
    assert not torch.equal(model[1].running_mean, mean)


def test_channels_last():
    class Conv(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)

        def forward(self, x):
            return self.conv(x).mean((1, 2, 3))[:, None]

    class Probe(Callback):
        order = 20

        def __init__(self):
            self.formats = []

        def after_pred(self):
            self.formats.append(self.learn.xb[0].is_contiguous(memory_format=torch.channels_last))

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(16, 3, 6, 6, generator=g), torch.randn(16, 1, generator=g)
    dl = DataLoader(TensorDataset(x, y), batch_size=8)
    probe = Probe()
    learn = Learner((dl, dl), Conv(), loss_func=nn.MSELoss(), opt_func=SGD, cbs=[ChannelsLast(), probe])
    learn.remove_cb(learn.progress)
    learn.fit(1)
    assert all(probe.formats) and len(probe.formats) == 4
    assert learn.model.conv.weight.is_contiguous(memory_format=torch.channels_last)


def test_learner_adds_the_step_clock_for_the_fit_before_any_callback_runs():
    class Probe(Callback):
        order = -100

        def before_fit(self):
            self.seen = [type(c).__name__ for c in self.learn.cbs]

    probe = Probe()
    learn = make_learner(cbs=[GradientAccumulation(16), probe])
    learn.fit(1)
    assert "StepClock" in probe.seen  # present when the first before_fit handler runs, not added mid-event
    assert not any(isinstance(c, StepClock) for c in learn.cbs)  # for that fit only
    bf16 = make_learner(cbs=[MixedPrecision("bf16"), probe])
    bf16.fit(1)
    assert "StepClock" not in probe.seen  # bf16 never skips a step
