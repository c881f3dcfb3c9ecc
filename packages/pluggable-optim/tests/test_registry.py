"""The registry, and each recipe as a composition of the public blocks (never torch.optim's algorithms)."""

import functools
import inspect
import pickle

import pytest
import torch
from torch import nn

import pluggable_optim as po
from pluggable_optim import Lookahead, get_optimizer, list_optimizers

BLOCKS = {
    "average_grad",
    "average_sqr_grad",
    "step_count",
    "weight_decay",
    "l2_reg",
    "apply_wd",
    "sgd_step",
    "momentum_step",
    "rms_prop_step",
    "adam_step",
    "radam_step",
    "qhadam_step",
    "larc_layer_lr",
    "larc_step",
    "lamb_step",
}


def step_names(opt):
    inner = opt.opt if isinstance(opt, Lookahead) else opt
    return [getattr(s, "func", s).__name__ for s in inner.steps]


def test_registry_lists_every_recipe():
    assert list_optimizers() == ["SGD", "RMSProp", "Adam", "RAdam", "QHAdam", "Larc", "Lamb", "ranger"]
    with pytest.raises(KeyError, match="no optimizer named 'adamw'; registered"):
        get_optimizer("adamw")


EXPECTED_STEPS = {
    "SGD": ["apply_wd", "average_grad", "momentum_step"],
    "RMSProp": ["apply_wd", "average_sqr_grad", "rms_prop_step"],
    "Adam": ["apply_wd", "average_grad", "average_sqr_grad", "step_count", "adam_step"],
    "RAdam": ["apply_wd", "average_grad", "average_sqr_grad", "step_count", "radam_step"],
    "QHAdam": ["apply_wd", "average_grad", "average_sqr_grad", "step_count", "qhadam_step"],
    "Larc": ["larc_layer_lr", "larc_step"],
    "Lamb": ["average_grad", "average_sqr_grad", "step_count", "lamb_step"],
    "ranger": ["apply_wd", "average_grad", "average_sqr_grad", "step_count", "radam_step"],
}


@pytest.mark.parametrize("name", list_optimizers())
def test_recipe_is_a_composition_of_public_blocks(name):
    p = nn.Parameter(torch.zeros(2))
    opt = get_optimizer(name)([p], mom=0.9)
    assert step_names(opt) == EXPECTED_STEPS[name]
    inner = opt.opt if isinstance(opt, Lookahead) else opt
    for s in inner.steps:
        func = getattr(s, "func", s)
        assert func.__name__ in BLOCKS and getattr(po, func.__name__) is func
        assert func.__module__ in {"pluggable_optim.stats", "pluggable_optim.steppers"}
        assert isinstance(s, functools.partial) or s is func


@pytest.mark.parametrize("name", list_optimizers())
def test_every_recipe_is_a_torch_optimizer_that_fits_a_regression(name):
    torch.manual_seed(0)
    x = torch.randn(64, 4)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    model = nn.Linear(4, 1)
    lr = {"SGD": 0.1, "RMSProp": 1e-2, "Larc": 1.0}.get(name, 5e-2)
    opt = get_optimizer(name)(model.parameters(), lr=lr)
    assert isinstance(opt, torch.optim.Optimizer)
    first = nn.functional.mse_loss(model(x), y).item()
    for _ in range(150):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    assert nn.functional.mse_loss(model(x), y).item() < 0.1 * first


def test_sgd_without_momentum_is_plain_sgd():
    opt = po.SGD([nn.Parameter(torch.zeros(2))], lr=0.1)
    assert step_names(opt) == ["apply_wd", "sgd_step"] and "mom" not in opt.hyper_names


# The Adam family's signatures as they were written out by hand (before they were derived from the steppers).
_HEAD = "(params: 'Params', lr: 'float' = 0.001, "
_TAIL = "decouple_wd: 'bool' = True, **kw: 'Any') -> 'Optimizer'"
ADAM_FAMILY = {
    "Adam": _HEAD + "mom: 'float' = 0.9, sqr_mom: 'float' = 0.99, eps: 'float' = 1e-05, wd: 'float' = 0.01, " + _TAIL,
    "RAdam": _HEAD + "mom: 'float' = 0.9, sqr_mom: 'float' = 0.99, eps: 'float' = 1e-05, wd: 'float' = 0.0, " + _TAIL,
    "QHAdam": _HEAD + "mom: 'float' = 0.999, sqr_mom: 'float' = 0.999, nu_1: 'float' = 0.7, nu_2: 'float' = 1.0, "
    "eps: 'float' = 1e-08, wd: 'float' = 0.0, " + _TAIL,
}


@pytest.mark.parametrize("name", list(ADAM_FAMILY))
def test_adam_family_signatures_are_derived_from_their_steppers_unchanged(name):
    recipe = getattr(po, name)
    signature = inspect.signature(recipe)
    assert str(signature) == ADAM_FAMILY[name]
    assert recipe.__name__ == name and recipe.__doc__ and pickle.loads(pickle.dumps(recipe)) is recipe
    w = nn.Parameter(torch.zeros(2))
    opt = recipe([w], 0.05, 0.8)  # positional hyper-parameters, in the signature's order
    group = opt.param_groups[0]
    assert group["lr"] == 0.05 and group["mom"] == 0.8
    defaults = {k: p.default for k, p in signature.parameters.items() if k not in ("params", "lr", "mom", "kw")}
    assert {k: group[k] for k in defaults} == defaults
    with pytest.raises(TypeError, match="multiple values for argument 'lr'"):
        recipe([w], 0.05, lr=0.1)
    with pytest.raises(ValueError, match=r"unknown hyper-parameter\(s\) \['bogus'\]"):
        recipe([w], bogus=1)
