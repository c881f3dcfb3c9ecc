"""`NoBnBiasDecay` with optimizers composed from the decay blocks themselves (no `decouple_wd` hyper)."""

import pytest
import torch
from torch import nn

from pluggable_optim import Optimizer, l2_reg, sgd_step, weight_decay
from trainloop_callbacks import Learner


@pytest.mark.parametrize("block", [weight_decay, l2_reg])
def test_bn_and_bias_skip_the_decay_of_an_explicit_block(make_regression, block):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    before = {k: v.detach().clone() for k, v in model.named_parameters()}

    def opt_func(params, lr):
        return Optimizer(params, [block, sgd_step], lr=lr, wd=0.5)

    def zero_loss(pred, y):
        return (pred * 0).sum()  # zero gradients: only weight decay moves the weights

    learn = Learner(make_regression(n=16, bs=16), model, zero_loss, opt_func=opt_func, lr=0.1, wd_bn_bias=False)
    with learn.no_bar():
        learn.fit(1)  # one step
    after = {k: v.detach() for k, v in model.named_parameters()}
    # with a zero gradient, decoupled decay and L2 both give p * (1 - lr * wd) for one SGD step
    assert torch.allclose(after["0.weight"], before["0.weight"] * (1 - 0.1 * 0.5))
    for name in ("0.bias", "1.weight", "1.bias", "2.bias"):
        assert torch.allclose(after[name], before[name]), name
