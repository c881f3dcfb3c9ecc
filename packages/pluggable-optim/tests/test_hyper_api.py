"""The hyper-parameter API a training loop uses, the torch keys kept in step, and errors for bad input."""

import math

import pytest
import torch
from torch import nn

from pluggable_optim import SGD, Adam, Optimizer, OptimWrapper, RMSProp, average_grad, momentum_step


def three_groups():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 4), nn.Linear(4, 2))
    return model, [list(m.parameters()) for m in model]


def test_list_of_lists_gives_one_group_each_and_hypers_per_group():
    _, groups = three_groups()
    opt = Adam(groups, lr=[1e-3, 2e-3, 3e-3], wd=0.1)
    assert len(opt.param_groups) == 3
    assert [h["lr"] for h in opt.hypers] == [1e-3, 2e-3, 3e-3]
    assert all(h["wd"] == 0.1 and h["mom"] == 0.9 and h["sqr_mom"] == 0.99 for h in opt.hypers)
    assert set(opt.hypers[0]) == {"lr", "wd", "decouple_wd", "mom", "sqr_mom", "sqr_dampening", "eps"}


def test_set_hyper_scalar_list_slice():
    _, groups = three_groups()
    opt = SGD(groups, lr=0.1, mom=0.9)
    opt.set_hyper("mom", 0.8)
    assert [h["mom"] for h in opt.hypers] == [0.8] * 3
    opt.set_hyper("lr", [0.1, 0.2, 0.3])
    assert [h["lr"] for h in opt.hypers] == [0.1, 0.2, 0.3]
    opt.set_hyper("lr", slice(1e-4, 1e-2))
    for got, want in zip([h["lr"] for h in opt.hypers], [1e-4, 1e-3, 1e-2], strict=True):
        assert math.isclose(got, want)
    opt.set_hyper("lr", slice(1e-2))
    assert [h["lr"] for h in opt.hypers] == [1e-3, 1e-3, 1e-2]
    opt.set_hypers(lr=0.05, mom=0.5)
    assert all(h["lr"] == 0.05 and h["mom"] == 0.5 for h in opt.hypers)
    assert all(g["momentum"] == 0.5 for g in opt.param_groups)


def test_slice_with_one_group_gives_hi():
    model, _ = three_groups()
    opt = Adam(model.parameters(), lr=slice(1e-5, 1e-2))
    assert opt.hypers[0]["lr"] == 1e-2


def test_torch_keys_mirror_tiers_names_both_ways():
    model, _ = three_groups()
    opt = Adam(model.parameters(), mom=0.9, sqr_mom=0.99, wd=0.01)
    g = opt.param_groups[0]
    assert g["betas"] == (0.9, 0.99) and g["weight_decay"] == 0.01
    opt.set_hyper("sqr_mom", 0.95)
    assert g["betas"] == (0.9, 0.95)
    g["betas"] = (0.85, 0.999)  # what a torch scheduler does
    assert opt.hypers[0]["mom"] == 0.85 and opt.hypers[0]["sqr_mom"] == 0.999
    g["weight_decay"] = 0.2
    assert opt.hypers[0]["wd"] == 0.2
    assert opt.defaults["betas"] == (0.9, 0.99)


def test_rmsprop_uses_torch_rmsprop_keys():
    model, _ = three_groups()
    opt = RMSProp(model.parameters(), sqr_mom=0.9, mom=0.5)
    g = opt.param_groups[0]
    assert g["alpha"] == 0.9 and g["momentum"] == 0.5 and "betas" not in g


def test_dict_groups_accept_tiers_names_and_torch_keys():
    model, _ = three_groups()
    opt = Adam(
        [{"params": model[0].parameters(), "mom": 0.5}, {"params": model[1].parameters(), "betas": (0.7, 0.9)}],
        lr=1e-3,
    )
    assert opt.param_groups[0]["betas"] == (0.5, 0.99)
    assert opt.hypers[1]["mom"] == 0.7 and opt.hypers[1]["sqr_mom"] == 0.9


def test_named_parameters_make_one_group():
    model, _ = three_groups()
    opt = Adam(model.named_parameters())
    assert len(opt.param_groups) == 1 and opt.param_groups[0]["param_names"][0] == "0.weight"


def test_composition_defaults_come_from_the_steps():
    p = torch.zeros(2, requires_grad=True)
    opt = Optimizer([p], [average_grad, momentum_step])
    assert opt.hypers == [{"mom": 0.9, "dampening": False, "lr": 1e-3}]
    p.grad = torch.ones(2)
    opt.step()
    opt.step()  # buffer: 1, then 0.9 + 1
    torch.testing.assert_close(p.detach(), torch.full((2,), -1e-3 * (1 + 1.9)))


def test_optim_wrapper_maps_hypers_to_torch_keys():
    model, groups = three_groups()
    w = OptimWrapper(torch.optim.AdamW([{"params": g} for g in groups], lr=1e-3, betas=(0.9, 0.99), weight_decay=0.01))
    assert w.hypers[0] == {"lr": 1e-3, "mom": 0.9, "sqr_mom": 0.99, "eps": 1e-8, "wd": 0.01}
    w.set_hyper("mom", 0.8)
    w.set_hyper("lr", slice(1e-2))
    assert [g["betas"] for g in w.opt.param_groups] == [(0.8, 0.99)] * 3
    assert [g["lr"] for g in w.opt.param_groups] == [1e-3, 1e-3, 1e-2]
    sgd = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    sgd.set_hyper("mom", 0.5)
    assert sgd.opt.param_groups[0]["momentum"] == 0.5
    rms = OptimWrapper(torch.optim.RMSprop(model.parameters()))
    rms.set_hyper("sqr_mom", 0.9)
    assert rms.opt.param_groups[0]["alpha"] == 0.9
    # it still trains: step and zero_grad reach the wrapped optimizer
    model(torch.randn(2, 3)).sum().backward()
    before = model[0].weight.detach().clone()
    w.step()
    w.zero_grad()
    assert not torch.equal(before, model[0].weight) and model[0].weight.grad is None


def test_unknown_hyper_name_errors():
    model, _ = three_groups()
    with pytest.raises(ValueError, match=r"unknown hyper-parameter\(s\) \['momentum_typo'\].*expected some of"):
        Adam(model.parameters(), momentum_typo=0.9)
    opt = Adam(model.parameters())
    with pytest.raises(KeyError, match=r"unknown hyper-parameter 'nu_1'.*this optimizer has"):
        opt.set_hyper("nu_1", 0.5)
    with pytest.raises(KeyError, match=r"unknown hyper-parameter\(s\) \['beta'\]"):
        opt.set_hypers(lr=0.1, beta=0.5)


def test_list_length_must_match_groups():
    _, groups = three_groups()
    with pytest.raises(ValueError, match="'lr' got 2 values but the optimizer has 3 parameter group"):
        Adam(groups, lr=[1e-3, 1e-2])
    opt = Adam(groups)
    with pytest.raises(ValueError, match="'mom' got 4 values"):
        opt.set_hyper("mom", [0.9] * 4)


def test_negative_or_out_of_range_values_error():
    model, _ = three_groups()
    with pytest.raises(ValueError, match=r"'lr' must be >= 0, got -0\.1"):
        SGD(model.parameters(), lr=-0.1)
    opt = Adam(model.parameters())
    with pytest.raises(ValueError, match="'lr' must be >= 0"):
        opt.set_hyper("lr", -1e-3)
    with pytest.raises(ValueError, match="'mom' must be in"):
        opt.set_hyper("mom", 1.5)
    with pytest.raises(ValueError, match="'wd' must be >= 0"):
        opt.add_param_group({"params": [torch.zeros(1, requires_grad=True)], "wd": -1.0})
    assert opt.hypers[0]["lr"] == 1e-3  # a rejected value changes nothing


def test_bad_params_and_steps_error():
    with pytest.raises(ValueError, match="empty parameter list"):
        Adam([])
    with pytest.raises(TypeError, match="params item 1 is a int"):
        Adam([[torch.zeros(1, requires_grad=True)], 3])
    with pytest.raises(ValueError, match="parameter group 0 is a dict without a 'params' key"):
        Adam([{"lr": 0.1}])
    with pytest.raises(TypeError, match="got one tensor"):
        Adam(torch.zeros(2, requires_grad=True))
    with pytest.raises(ValueError, match="at least one step"):
        Optimizer([torch.zeros(1, requires_grad=True)], [])

    def bad_step(g, *, lr):
        return None

    with pytest.raises(TypeError, match="'lr' needs a default value"):
        Optimizer([torch.zeros(1, requires_grad=True)], [bad_step])
