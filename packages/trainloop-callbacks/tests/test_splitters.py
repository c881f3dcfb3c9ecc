"""Splitters for transfer learning: parameter groups, freeze_to and slice learning rates through the Learner."""

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pluggable_optim import Adam
from trainloop_callbacks import Learner, MSELossFlat
from trainloop_callbacks.models.model_utils import params_of
from trainloop_callbacks.models.splitters import BodyHeadSplitter, check_split, split_body_head


def _model():
    torch.manual_seed(0)
    body = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8))
    head = nn.Sequential(nn.BatchNorm1d(8), nn.Linear(8, 1))
    return nn.Sequential(body, head)


def _dls():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 4, generator=g)
    y = x.sum(1, keepdim=True)
    return DataLoader(TensorDataset(x, y), batch_size=8), DataLoader(TensorDataset(x, y), batch_size=8)


def test_split_body_head_groups():
    m = _model()
    body, head = m[0], m[1]
    groups = split_body_head([body[:2], [body[2], body[4]]], head, model=m)
    assert [len(g) for g in groups] == [2, 4, 4]
    assert groups[0] == params_of(body[0]) and groups[2] == params_of(head)


def test_split_errors_name_the_parameters():
    m = _model()
    body, head = m[0], m[1]
    with pytest.raises(ValueError, match=r"in no group: 0\.4\.weight, 0\.4\.bias"):
        split_body_head([body[:3]], head, model=m)
    with pytest.raises(ValueError, match=r"in two groups: 0\.0\.weight \(groups 0 and 1\)"):
        split_body_head([body[:1], body], head, model=m)
    with pytest.raises(ValueError, match="shares parameters"):
        split_body_head([body, body[:1]], head)
    with pytest.raises(ValueError, match="group 0 is empty"):
        split_body_head([body[1]], head)
    with pytest.raises(ValueError, match="not in the model"):
        check_split(m, [params_of(m), [nn.Parameter(torch.zeros(2))]])
    with pytest.raises(TypeError, match="body group 0"):
        split_body_head(["conv"], head)


def test_body_head_splitter():
    m = _model()
    groups = BodyHeadSplitter(cuts=(2, 4))(m)
    assert [len(g) for g in groups] == [2, 2, 2, 4]
    assert BodyHeadSplitter()(m)[0] == params_of(m[0])
    with pytest.raises(ValueError, match="increasing"):
        BodyHeadSplitter(cuts=(3, 2))
    with pytest.raises(ValueError, match="past the body"):
        BodyHeadSplitter(cuts=(5,))(m)
    with pytest.raises(ValueError, match="indexable"):
        BodyHeadSplitter()(nn.Linear(2, 2))


def test_freeze_and_discriminative_lrs_through_learner():
    m = _model()
    learn = Learner(_dls(), m, MSELossFlat(), opt_func=Adam, splitter=BodyHeadSplitter(cuts=(2,)), lr=1e-2)
    learn.freeze()
    body0 = [p.detach().clone() for p in m[0].parameters()]
    head0 = [p.detach().clone() for p in m[1].parameters()]
    with learn.no_bar():
        learn.fit(1)
    assert len(learn.opt.param_groups) == 3
    assert all(torch.equal(a, p) for a, p in zip(body0, m[0].parameters(), strict=True))  # frozen body
    assert all(not torch.equal(a, p) for a, p in zip(head0, m[1].parameters(), strict=True))
    learn.unfreeze()
    with learn.no_bar():
        learn.fit(1, lr=slice(1e-4, 1e-2))
    lrs = [h["lr"] for h in learn.opt.hypers]
    assert lrs == pytest.approx([1e-4, 1e-3, 1e-2])  # spread geometrically, head last
    assert not torch.equal(body0[0], m[0][0].weight)
    learn.freeze_to(1)  # the first stage frozen, the second stage and head trained
    assert not m[0][0].weight.requires_grad and m[0][2].weight.requires_grad and m[1][1].weight.requires_grad
