"""The data and optimizer contracts: plain torch DataLoaders (as a DataLoaderPair) and pluggable-optim satisfy them."""

import inspect

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pluggable_optim import SGD, Adam, OptimWrapper
from trainloop_callbacks import Learner
from trainloop_callbacks.loop.data import DataLoaderPair, as_dataloaders
from trainloop_callbacks.loop.protocols import DataProtocol, HasNInp, HasTestDl, OptimizerProtocol, n_inp_of


def _members(proto):
    names = set(getattr(proto, "__annotations__", {}))
    names |= {n for n, v in vars(proto).items() if not n.startswith("_") and (callable(v) or isinstance(v, property))}
    return names


def check_structure(obj, proto):
    """Every member of `proto` exists on `obj`; each method accepts the protocol's arguments (positional and by
    keyword), so a call written against the protocol binds on the real object."""
    for name in _members(proto):
        assert hasattr(obj, name), f"{type(obj).__name__} lacks {proto.__name__}.{name}"
        spec = vars(proto).get(name)
        if not callable(spec):
            continue
        params = list(inspect.signature(spec).parameters.values())[1:]
        sig = inspect.signature(getattr(obj, name))
        sig.bind(*[None for p in params if p.default is inspect.Parameter.empty])
        sig.bind(**{p.name: None for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD})


def _loaders():
    ds = TensorDataset(torch.randn(8, 3), torch.randn(8, 1))
    return DataLoader(ds, batch_size=4), DataLoader(ds, batch_size=4)


def test_a_torch_dataloader_pair_is_data():
    dls = as_dataloaders(_loaders())
    assert isinstance(dls, DataLoaderPair)
    assert isinstance(dls, DataProtocol) and isinstance(dls, HasNInp) and not isinstance(dls, HasTestDl)
    check_structure(dls, DataProtocol)
    assert n_inp_of(dls) == 1 and n_inp_of(object()) == 1


def test_something_without_valid_is_refused():
    with pytest.raises(TypeError, match=r"\.train and \.valid"):
        as_dataloaders(DataLoader(TensorDataset(torch.randn(4, 1)), batch_size=2))


@pytest.mark.parametrize(
    "opt_func", [SGD, Adam, lambda ps, lr: OptimWrapper(torch.optim.AdamW([{"params": g} for g in ps], lr=lr))]
)
def test_pluggable_optim_optimizers_are_what_the_learner_drives(opt_func):
    opt = opt_func([list(nn.Linear(2, 1).parameters())], lr=0.1)
    assert isinstance(opt, OptimizerProtocol)
    check_structure(opt, OptimizerProtocol)


def test_learner_holds_them():
    learn = Learner(_loaders(), nn.Linear(3, 1), loss_func=nn.MSELoss(), default_cbs=False)
    assert isinstance(learn.dls, DataProtocol) and learn.opt is None
    learn.fit(1)
    assert isinstance(learn.opt, OptimizerProtocol)
