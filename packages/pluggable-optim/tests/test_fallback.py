"""The per-tensor fallback (foreach=False, sparse grads, mixed devices/dtypes) gives the foreach results."""

import copy

import pytest
import torch
from torch import nn

from pluggable_optim import SGD, Adam, get_optimizer, list_optimizers


def make_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 2))


@pytest.mark.parametrize("name", list_optimizers())
def test_per_tensor_loop_matches_foreach(name):
    g = torch.Generator().manual_seed(3)
    batches = [(torch.randn(8, 5, generator=g), torch.randn(8, 2, generator=g)) for _ in range(12)]
    a, b = make_model(), make_model()
    oa = get_optimizer(name)(a.parameters(), lr=1e-2)
    ob = get_optimizer(name)(b.parameters(), lr=1e-2, foreach=False)
    for x, y in batches:
        for m, o in ((a, oa), (b, ob)):
            o.zero_grad()
            nn.functional.mse_loss(m(x), y).backward()
            o.step()
    for p, q, start in zip(a.parameters(), b.parameters(), make_model().parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-7)
        assert not torch.equal(p, start)  # both really trained


def test_mixed_dtypes_in_one_group_match_separate_optimizers():
    torch.manual_seed(0)
    p32 = nn.Parameter(torch.randn(4))
    p64 = nn.Parameter(torch.randn(3, dtype=torch.float64))
    r32, r64 = nn.Parameter(p32.detach().clone()), nn.Parameter(p64.detach().clone())
    mixed = Adam([p32, p64], lr=0.1)
    ref32, ref64 = Adam([r32], lr=0.1), Adam([r64], lr=0.1)
    for i in range(5):
        for p, r in ((p32, r32), (p64, r64)):
            p.grad = torch.full_like(p, float(i + 1))
            r.grad = p.grad.clone()
        mixed.step()
        ref32.step()
        ref64.step()
    assert torch.equal(p32, r32) and torch.equal(p64, r64)


def test_sparse_gradients_step_like_dense_ones():
    torch.manual_seed(0)
    sparse = nn.Embedding(10, 3, sparse=True)
    dense = copy.deepcopy(sparse)
    dense.sparse = False
    os_, od = SGD(sparse.parameters(), lr=0.1, mom=0.9), SGD(dense.parameters(), lr=0.1, mom=0.9)
    idx = torch.tensor([1, 4, 4, 7])
    start = sparse.weight.detach().clone()
    for _ in range(3):
        for emb, opt in ((sparse, os_), (dense, od)):
            opt.zero_grad()
            emb(idx).pow(2).sum().backward()
            opt.step()
    assert sparse.weight.grad.is_sparse
    torch.testing.assert_close(sparse.weight, dense.weight)
    moved = (sparse.weight != start).any(dim=1)
    assert moved.tolist() == [i in (1, 4, 7) for i in range(10)]
