"""torch's fused kernels stand in for compositions that are exactly SGD / Adam / AdamW: same trajectory as the
blocks (float64), `p.grad` untouched, and the blocks whenever a kernel cannot do exactly what they do."""

from functools import partial

import pytest
import torch
from torch import nn

from pluggable_optim import (
    SGD,
    Adam,
    GroupView,
    Lamb,
    Optimizer,
    RAdam,
    average_grad,
    find_kernel,
    momentum_step,
    sgd_step,
    weight_decay,
)

N_STEPS = 30

RECIPES = {
    "sgd": lambda p, **kw: SGD(p, lr=0.05, **kw),
    "sgd_l2": lambda p, **kw: SGD(p, lr=0.05, wd=0.1, decouple_wd=False, **kw),
    "sgd_decoupled": lambda p, **kw: SGD(p, lr=0.05, wd=0.1, **kw),
    "sgd_momentum": lambda p, **kw: SGD(p, lr=0.05, mom=0.9, **kw),
    "sgd_momentum_l2": lambda p, **kw: SGD(p, lr=0.05, mom=0.9, wd=0.1, decouple_wd=False, **kw),
    "sgd_momentum_decoupled": lambda p, **kw: SGD(p, lr=0.05, mom=0.9, wd=0.1, **kw),
    "sgd_nesterov_l2": lambda p, **kw: SGD(p, lr=0.05, mom=0.9, wd=0.1, decouple_wd=False, nesterov=True, **kw),
    "sgd_nesterov_decoupled": lambda p, **kw: SGD(p, lr=0.05, mom=0.9, wd=0.1, nesterov=True, **kw),
    "sgd_dampened": lambda p, **kw: Optimizer(
        p, [partial(average_grad, dampening=True), momentum_step], lr=0.05, mom=0.8, **kw
    ),
    "sgd_weight_decay_block": lambda p, **kw: Optimizer(p, [weight_decay, sgd_step], lr=0.05, wd=0.1, **kw),
    "adamw": lambda p, **kw: Adam(p, lr=1e-2, wd=0.1, **kw),
    "adam_l2": lambda p, **kw: Adam(p, lr=1e-2, wd=0.1, decouple_wd=False, sqr_mom=0.999, eps=1e-8, **kw),
    "adam_no_wd": lambda p, **kw: Adam(p, lr=1e-2, wd=0.0, **kw),
}


def make_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)).double()


def run(make, n_steps=N_STEPS, **kw):
    model = make_model()
    opt = make(model.parameters(), **kw)
    g = torch.Generator().manual_seed(1)
    grads_kept = True
    for i in range(n_steps):
        x = torch.randn(16, 6, generator=g, dtype=torch.float64)
        y = torch.randn(16, 3, generator=g, dtype=torch.float64)
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        before = [p.grad.clone() for p in model.parameters()]
        opt.step()
        grads_kept &= all(torch.equal(p.grad, b) for p, b in zip(model.parameters(), before, strict=True))
        opt.set_hyper("lr", opt.hypers[0]["lr"] * 0.97)  # a schedule: the kernel reads the group every step
        if i == 10 and "mom" in opt.hyper_names:
            opt.set_hyper("mom", 0.85)
    return model, opt, grads_kept


@pytest.mark.parametrize("name", list(RECIPES))
def test_kernel_matches_the_blocks(name):
    make = RECIPES[name]
    assert find_kernel(make([nn.Parameter(torch.zeros(2))]).steps) is not None
    fast, opt, grads_kept = run(make)
    blocks, ref_opt, _ = run(make, foreach=True)
    for p, q in zip(fast.parameters(), blocks.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-14)
    assert grads_kept  # the kernel never writes the decay (or anything) into p.grad
    for p, q in zip(fast.parameters(), blocks.parameters(), strict=True):  # same state, same names
        for key, value in ref_opt.state[q].items():
            got = opt.state[p][key]
            assert torch.allclose(got, value, rtol=1e-12) if torch.is_tensor(value) else got == value
    assert any((p - q).abs().max() > 1e-3 for p, q in zip(fast.parameters(), make_model().parameters(), strict=True))


def test_the_kernel_runs_and_does_the_step():
    # called directly on a view: it reports that it ran, and moved the weights as the blocks would
    p = nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    p.grad = torch.tensor([0.5, 0.25], dtype=torch.float64)
    opt = SGD([p], lr=0.1, mom=0.9, wd=0.2)
    group = opt.param_groups[0]
    with torch.no_grad():  # as in Optimizer.step
        assert find_kernel(opt.steps)(GroupView([p], [p.grad], [opt.state[p]]), group) is True
    # decoupled decay then buf = grad (zero buffer), p -= lr * buf
    torch.testing.assert_close(p.detach(), torch.tensor([1.0 * 0.98 - 0.05, -2.0 * 0.98 - 0.025], dtype=torch.float64))
    torch.testing.assert_close(opt.state[p]["grad_avg"], torch.tensor([0.5, 0.25], dtype=torch.float64))


def test_no_kernel_for_other_compositions():
    params = [nn.Parameter(torch.zeros(2))]
    assert find_kernel(Lamb(params).steps) is None
    assert find_kernel(RAdam(params).steps) is None
    assert find_kernel([momentum_step]) is None  # no average_grad before it: not SGD
    assert find_kernel([partial(sgd_step, lr=0.1)]) is None  # a fixed lr is not the recipe's hyper


def test_blocks_run_when_the_kernel_cannot():
    # a tensor hyper-parameter and an integer dtype are outside what the kernel does: the blocks take over
    p = nn.Parameter(torch.tensor([1.0, 2.0]))
    p.grad = torch.tensor([1.0, 1.0])
    opt = SGD([p], lr=0.1, mom=0.9)
    group = opt.param_groups[0]
    group["lr"] = torch.tensor(0.1)
    assert find_kernel(opt.steps)(GroupView([p], [p.grad], [opt.state[p]]), group) is False
    assert not opt.state[p]  # nothing done, not even the state
    opt.step()
    torch.testing.assert_close(p.detach(), torch.tensor([0.9, 1.9]))
    t = p.detach().t()[None].expand(2, 2)  # non-contiguous (a broadcast view): not for the kernel
    assert find_kernel(opt.steps)(GroupView([t], [t.clone()], [{}]), {**group, "lr": 0.1}) is False
