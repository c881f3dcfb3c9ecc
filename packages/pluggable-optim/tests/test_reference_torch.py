"""Each recipe follows torch.optim's trajectory for 100 float64 steps within 1e-6 relative."""

import copy
from functools import partial

import pytest
import torch
from torch import nn

from pluggable_optim import (
    SGD,
    Adam,
    Optimizer,
    RAdam,
    RMSProp,
    adam_step,
    average_grad,
    average_sqr_grad,
    l2_reg,
    momentum_step,
    step_count,
    weight_decay,
)

N_STEPS = 100


def make_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)).double()


def make_batches(n: int = N_STEPS) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    return [
        (torch.randn(16, 6, generator=g, dtype=torch.float64), torch.randn(16, 3, generator=g, dtype=torch.float64))
        for _ in range(n)
    ]


def trajectory(model: nn.Module, opt: torch.optim.Optimizer, batches) -> list[list[torch.Tensor]]:
    out = []
    for x, y in batches:
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        out.append([p.detach().clone() for p in model.parameters()])
    return out


def assert_same_trajectory(ours, ref, rel: float = 1e-6) -> None:
    assert len(ours) == len(ref) == N_STEPS
    for step, (a_ps, b_ps) in enumerate(zip(ours, ref, strict=True)):
        for a, b in zip(a_ps, b_ps, strict=True):
            err = ((a - b).norm() / b.norm()).item()
            assert err <= rel, f"step {step}: relative difference {err:.2e}"
    # the optimizer did move the weights (a test of a no-op would pass the comparison above trivially)
    assert any((a - b).abs().max() > 1e-3 for a, b in zip(ours[-1], ours[0], strict=True))


CASES = {
    "sgd": (lambda p, **kw: SGD(p, lr=0.05, **kw), lambda p: torch.optim.SGD(p, lr=0.05)),
    "sgd_momentum_l2": (
        lambda p, **kw: SGD(p, lr=0.05, mom=0.9, wd=0.01, decouple_wd=False, **kw),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01),
    ),
    "sgd_nesterov_l2": (
        lambda p, **kw: SGD(p, lr=0.05, mom=0.9, wd=0.01, decouple_wd=False, nesterov=True, **kw),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01, nesterov=True),
    ),
    "rmsprop": (
        lambda p, **kw: RMSProp(p, lr=1e-3, sqr_mom=0.9, eps=1e-8, **kw),
        lambda p: torch.optim.RMSprop(p, lr=1e-3, alpha=0.9, eps=1e-8),
    ),
    "rmsprop_momentum_l2": (
        lambda p, **kw: RMSProp(p, lr=1e-3, sqr_mom=0.9, mom=0.8, eps=1e-8, wd=0.01, decouple_wd=False, **kw),
        lambda p: torch.optim.RMSprop(p, lr=1e-3, alpha=0.9, momentum=0.8, eps=1e-8, weight_decay=0.01),
    ),
    "adam_l2": (
        lambda p, **kw: Adam(p, lr=1e-2, mom=0.9, sqr_mom=0.999, eps=1e-8, wd=0.01, decouple_wd=False, **kw),
        lambda p: torch.optim.Adam(p, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01),
    ),
    "adamw": (
        lambda p, **kw: Adam(p, lr=1e-2, mom=0.9, sqr_mom=0.99, eps=1e-6, wd=0.1, **kw),
        lambda p: torch.optim.AdamW(p, lr=1e-2, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.1),
    ),
    "radam_l2": (
        lambda p, **kw: RAdam(p, lr=1e-2, mom=0.9, sqr_mom=0.999, eps=1e-8, wd=0.01, decouple_wd=False, **kw),
        lambda p: torch.optim.RAdam(p, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01),
    ),
    "radam_decoupled": (
        lambda p, **kw: RAdam(p, lr=1e-2, mom=0.9, sqr_mom=0.99, eps=1e-8, wd=0.1, **kw),
        lambda p: torch.optim.RAdam(
            p, lr=1e-2, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1, decoupled_weight_decay=True
        ),
    ),
}


MODES = {"default": {}, "foreach": {"foreach": True}, "per_tensor": {"foreach": False}}


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("case", list(CASES))
def test_matches_torch_optim(case, mode):
    # default: torch's fused kernel for SGD and Adam(W) (pluggable_optim.kernels), the blocks for the others
    ours_fn, torch_fn = CASES[case]
    model = make_model()
    ref_model = copy.deepcopy(model)
    batches = make_batches()
    kw = MODES[mode]
    ours = trajectory(model, ours_fn(model.parameters(), **kw), batches)
    ref = trajectory(ref_model, torch_fn(ref_model.parameters()), batches)
    assert_same_trajectory(ours, ref)


def test_radam_rectification_switches_on_within_the_run():
    # with sqr_mom=0.999, rho_t passes 5 at step 6: both of RAdam's branches are exercised by the test above
    rho_inf = 2 / (1 - 0.999) - 1
    rho = [rho_inf - 2 * t * 0.999**t / (1 - 0.999**t) for t in range(1, 10)]
    assert rho[0] <= 5 < rho[-1]


ADAM_BLOCKS = [partial(average_grad, dampening=True), average_sqr_grad, step_count, adam_step]

# Optimizers composed from the decay blocks themselves: a listed block does its job (it used to depend on a
# `decouple_wd` hyper whose default switched `l2_reg` off).
COMPOSED = {
    "l2_reg_sgd_momentum": (
        lambda p, **kw: Optimizer(p, [l2_reg, average_grad, momentum_step], lr=0.05, mom=0.9, wd=0.01, **kw),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01),
    ),
    "l2_reg_adam": (
        lambda p, **kw: Optimizer(p, [l2_reg, *ADAM_BLOCKS], lr=1e-2, mom=0.9, sqr_mom=0.999, eps=1e-8, wd=0.01, **kw),
        lambda p: torch.optim.Adam(p, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01),
    ),
    "weight_decay_adam": (
        lambda p, **kw: Optimizer(
            p, [weight_decay, *ADAM_BLOCKS], lr=1e-2, mom=0.9, sqr_mom=0.99, eps=1e-6, wd=0.1, **kw
        ),
        lambda p: torch.optim.AdamW(p, lr=1e-2, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.1),
    ),
}


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("case", list(COMPOSED))
def test_explicit_decay_blocks_match_torch_optim(case, mode):
    ours_fn, torch_fn = COMPOSED[case]
    model = make_model()
    ref_model = copy.deepcopy(model)
    batches = make_batches()
    kw = MODES[mode]
    ours = trajectory(model, ours_fn(model.parameters(), **kw), batches)
    ref = trajectory(ref_model, torch_fn(ref_model.parameters()), batches)
    assert_same_trajectory(ours, ref)


def test_explicit_weight_decay_with_sgd_by_hand():
    # one step, zero-free gradient: decoupled decay then the SGD step, p' = p * (1 - lr * wd) - lr * g
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    p.grad = torch.tensor([0.5, 0.25], dtype=torch.float64)
    opt = Optimizer([p], [weight_decay, average_grad, momentum_step], lr=0.1, mom=0.9, wd=0.2)
    opt.step()
    torch.testing.assert_close(p.detach(), torch.tensor([1.0 * 0.98 - 0.05, -2.0 * 0.98 - 0.025], dtype=torch.float64))
    assert "decouple_wd" not in opt.hyper_names  # a listed block is the choice: no hyper can switch it off
    with pytest.raises(ValueError, match=r"unknown hyper-parameter.*decouple_wd"):
        Optimizer([p], [l2_reg, momentum_step], lr=0.1, wd=0.2, decouple_wd=True)
