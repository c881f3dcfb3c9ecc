"""The fused path: the same trajectory as the eager foreach steps, one compile per group, and a clear fallback."""

import pytest
import torch
from torch import nn
from torch._dynamo.utils import counters

import pluggable_optim.fused as fused_module
from pluggable_optim import RAdam, find_kernel, get_optimizer


def make_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 2)).double()


def run_pair(name, n_steps=8, **kw):
    g = torch.Generator().manual_seed(2)
    a, b = make_model(), make_model()
    oa = get_optimizer(name)(a.parameters(), lr=1e-2, **kw)
    ob = get_optimizer(name)(b.parameters(), lr=1e-2, fused=True, **kw)
    for i in range(n_steps):
        x, y = torch.randn(8, 5, generator=g, dtype=torch.float64), torch.randn(8, 2, generator=g, dtype=torch.float64)
        for m, o in ((a, oa), (b, ob)):
            o.zero_grad()
            nn.functional.mse_loss(m(x), y).backward()
            o.step()
            o.set_hyper("lr", 1e-2 / (i + 1))  # a schedule: must not recompile
    return a, b, ob


@pytest.mark.slow
@pytest.mark.parametrize("name", ["Adam", "SGD", "Lamb", "RAdam", "QHAdam", "Larc", "RMSProp"])
def test_fused_matches_eager(name):
    kw = {"mom": 0.9} if name in ("SGD", "RMSProp") else {}
    graphs_before = counters["stats"]["unique_graphs"]
    breaks_before = sum(counters["graph_break"].values())
    a, b, ob = run_pair(name, **kw)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-9, atol=1e-12)
    if find_kernel(ob.steps) is not None:  # SGD, Adam: torch's own fused kernel, nothing compiled
        assert counters["stats"]["unique_graphs"] == graphs_before and not ob._compiled
        return
    assert counters["stats"]["unique_graphs"] - graphs_before == 1  # one graph: lr changed every step, no recompile
    assert sum(counters["graph_break"].values()) == breaks_before  # the whole step is in that graph
    assert ob.fused and len(ob._compiled) == len(ob.param_groups)


def test_fused_falls_back_with_a_warning_when_compiling_fails(monkeypatch):
    def no_compiler(fn, **kw):
        def fail(*args, **kwargs):
            raise RuntimeError("no C++ compiler found")

        return fail

    monkeypatch.setattr(fused_module.torch, "compile", no_compiler)
    a, b = make_model(), make_model()
    # RAdam: no torch kernel stands in for it, so fused=True compiles
    oa, ob = RAdam(a.parameters(), lr=1e-2), RAdam(b.parameters(), lr=1e-2, fused=True)
    x = torch.randn(4, 5, dtype=torch.float64)
    with pytest.warns(RuntimeWarning, match="fused=True: torch.compile could not compile.*no C\\+\\+ compiler"):
        for _ in range(3):
            for m, o in ((a, oa), (b, ob)):
                o.zero_grad()
                m(x).pow(2).mean().backward()
                o.step()
    assert not ob.fused
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)
