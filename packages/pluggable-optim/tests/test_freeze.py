"""freeze_to / freeze / unfreeze by parameter group; norm layers kept trainable when asked."""

import pytest
import torch
from torch import nn

from pluggable_optim import Adam, norm_params


def body_and_head():
    torch.manual_seed(0)
    body = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU())
    head = nn.Linear(6, 2)
    return nn.Sequential(body, head), [list(body.parameters()), list(head.parameters())]


def one_step(model, opt):
    opt.zero_grad()
    model(torch.randn(8, 4)).pow(2).mean().backward()
    opt.step()


def test_freeze_trains_only_the_last_group():
    model, groups = body_and_head()
    opt = Adam(groups, lr=1e-2)
    opt.freeze()
    body_before = [p.detach().clone() for p in groups[0]]
    head_before = [p.detach().clone() for p in groups[1]]
    one_step(model, opt)
    assert all(not p.requires_grad and p.grad is None for p in groups[0])
    assert all(torch.equal(a, b) for a, b in zip(body_before, groups[0], strict=True))
    assert all(len(opt.state[p]) == 0 for p in groups[0])  # no state for frozen params
    assert all(not torch.equal(a, b) for a, b in zip(head_before, groups[1], strict=True))
    assert opt.frozen_idx == 1


def test_unfreeze_and_freeze_to():
    _, groups = body_and_head()
    opt = Adam(groups, lr=1e-2)
    opt.freeze_to(1)
    assert [p.requires_grad for p in groups[0]] == [False] * 4
    opt.unfreeze()
    assert all(p.requires_grad for g in groups for p in g)
    opt.freeze_to(2)
    assert not any(p.requires_grad for g in groups for p in g)
    with pytest.raises(ValueError, match=r"freeze_to\(3\): the optimizer has 2 parameter group"):
        opt.freeze_to(3)


def test_freeze_drops_leftover_grads():
    model, groups = body_and_head()
    opt = Adam(groups, lr=1e-2)
    model(torch.randn(8, 4)).sum().backward()
    opt.freeze()
    before = [p.detach().clone() for p in groups[0]]
    opt.step()
    assert all(torch.equal(a, b) for a, b in zip(before, groups[0], strict=True))


def test_batchnorm_stays_trainable_when_kept():
    model, groups = body_and_head()
    opt = Adam(groups, lr=1e-2)
    bn = model[0][1]
    assert norm_params(model) == [bn.weight, bn.bias]
    opt.freeze(keep=norm_params(model))
    lin = model[0][0]
    assert bn.weight.requires_grad and bn.bias.requires_grad and not lin.weight.requires_grad
    bn_before, lin_before = bn.weight.detach().clone(), lin.weight.detach().clone()
    one_step(model, opt)
    assert not torch.equal(bn_before, bn.weight) and torch.equal(lin_before, lin.weight)
