"""The per-batch fast path: brackets without callbacks run their body directly, with the same semantics."""

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pluggable_optim import SGD
from trainloop_callbacks import Callback, CancelStepException, Learner


def dls():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 3, generator=g)
    y = x.sum(1, keepdim=True)
    return DataLoader(TensorDataset(x, y), batch_size=8), DataLoader(TensorDataset(x, y), batch_size=8)


class SkipFirstStep:
    """An optimizer whose first step cancels itself (as a scaler skipping an overflowed step would)."""

    def __init__(self, params, lr=0.1):
        self.opt = SGD(params, lr=lr)
        self.steps, self.zero_grads = 0, 0

    @property
    def param_groups(self):
        return self.opt.param_groups

    def step(self):
        self.steps += 1
        if self.steps == 1:
            raise CancelStepException
        self.opt.step()

    def zero_grad(self):
        self.zero_grads += 1
        self.opt.zero_grad()


def learner(cbs=()):
    torch.manual_seed(0)
    learn = Learner(dls(), nn.Linear(3, 1), nn.MSELoss(), opt_func=SkipFirstStep, wd_bn_bias=True, cbs=list(cbs))
    learn.remove_cb(learn.progress)
    learn.logger = None
    return learn


class StepLog(Callback):
    def __init__(self):
        self.events = []

    def after_cancel_step(self):
        self.events.append("after_cancel_step")

    def after_step(self):
        self.events.append("after_step")


def test_cancel_step_from_the_body_is_honoured_with_and_without_step_callbacks():
    quiet, log = learner(), StepLog()
    loud = learner([log])
    assert quiet._quiet_step and not loud._quiet_step
    for learn in (quiet, loud):
        learn.fit(1)  # 4 batches: the first step cancels, the batch and the fit go on
        assert learn.opt.steps == 4 and learn.opt.zero_grads == 4
    # as every bracket: after_cancel_step, then after_step all the same
    assert log.events == ["after_cancel_step", "after_step", "after_step", "after_step", "after_step"]
    # the same arithmetic either way: the fast path changes no result
    assert torch.equal(quiet.model.weight, loud.model.weight)


def test_a_callback_added_during_fit_switches_the_bracket_on():
    log = StepLog()

    class AddLater(Callback):
        def after_batch(self):
            if self.learn.iter == 1 and self.learn.training:
                self.learn.add_cb(log)

    learn = learner([AddLater()])
    assert learn._quiet_step
    learn.fit(1)
    assert log.events == ["after_step", "after_step"]  # batches 2 and 3 of 4
    learn.remove_cb(log)
    assert learn._quiet_step
