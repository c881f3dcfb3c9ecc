"""QHAdam, LARS/LARC, LAMB, Lookahead and ranger against straightforward per-tensor implementations of the
papers' equations, written here independently of the library (100 float64 steps, 1e-6 relative)."""

import copy
import math

import pytest
import torch
from torch import nn

from pluggable_optim import SGD, Lamb, Larc, Lookahead, QHAdam, ranger

N_STEPS = 100


def make_model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    with torch.no_grad():
        model[2].bias.zero_()  # a zero tensor: LARS/LAMB's trust ratios must fall back to 1
    return model


def make_batches():
    g = torch.Generator().manual_seed(1)
    return [
        (torch.randn(16, 6, generator=g, dtype=torch.float64), torch.randn(16, 3, generator=g, dtype=torch.float64))
        for _ in range(N_STEPS)
    ]


def run(model, step_fn, batches):
    """`step_fn()` after each backward; returns the weights after every step."""
    out = []
    for x, y in batches:
        for p in model.parameters():
            p.grad = None
        nn.functional.mse_loss(model(x), y).backward()
        step_fn()
        out.append([p.detach().clone() for p in model.parameters()])
    return out


def compare(ours, ref, rel=1e-6):
    for step, (a_ps, b_ps) in enumerate(zip(ours, ref, strict=True)):
        for a, b in zip(a_ps, b_ps, strict=True):
            err = ((a - b).norm() / b.norm().clamp(min=1e-12)).item()
            assert err <= rel, f"step {step}: relative difference {err:.2e}"
    assert any((a - b).abs().max() > 1e-3 for a, b in zip(ours[-1], ours[0], strict=True))


class PerTensor:
    """A per-tensor reference optimizer: `update(p, grad, state, t)` for each parameter, under no_grad."""

    def __init__(self, params, update):
        self.params = list(params)
        self.update = update
        self.state = [{} for _ in self.params]
        self.t = 0

    @torch.no_grad()
    def step(self):
        self.t += 1
        for p, st in zip(self.params, self.state, strict=True):
            self.update(p, p.grad, st, self.t)


def qhadam_ref(lr, b1, b2, nu1, nu2, eps, wd):
    def update(p, g, st, t):
        m = st["m"] = b1 * st.get("m", torch.zeros_like(p)) + (1 - b1) * g
        v = st["v"] = b2 * st.get("v", torch.zeros_like(p)) + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        p.mul_(1 - lr * wd)
        p.sub_(lr * ((1 - nu1) * g + nu1 * m_hat) / (torch.sqrt((1 - nu2) * g * g + nu2 * v_hat) + eps))

    return update


def lars_ref(lr, mom, trust, wd, eps, clip):
    def update(p, g, st, t):
        w_norm, g_norm = p.norm().item(), g.norm().item()
        if w_norm > 0 and g_norm > 0:
            local = lr * trust * w_norm / (g_norm + wd * w_norm + eps)
            if clip:
                local = min(local, lr)
        else:
            local = lr
        v = st["v"] = mom * st.get("v", torch.zeros_like(p)) + local * (g + wd * p)
        p.sub_(v)

    return update


def lamb_ref(lr, b1, b2, eps, wd):
    def update(p, g, st, t):
        m = st["m"] = b1 * st.get("m", torch.zeros_like(p)) + (1 - b1) * g
        v = st["v"] = b2 * st.get("v", torch.zeros_like(p)) + (1 - b2) * g * g
        r = (m / (1 - b1**t)) / (torch.sqrt(v / (1 - b2**t)) + eps) + wd * p
        w_norm, r_norm = p.norm().item(), r.norm().item()
        ratio = min(w_norm / r_norm, 10.0) if w_norm > 0 and r_norm > 0 else 1.0
        p.sub_(lr * ratio * r)

    return update


@pytest.mark.parametrize("mode", [{}, {"foreach": False}])
def test_qhadam(mode):
    model, batches = make_model(), make_batches()
    ref_model = copy.deepcopy(model)
    opt = QHAdam(model.parameters(), lr=1e-2, mom=0.9, sqr_mom=0.99, nu_1=0.7, nu_2=0.8, eps=1e-8, wd=0.05, **mode)
    ref = PerTensor(ref_model.parameters(), qhadam_ref(1e-2, 0.9, 0.99, 0.7, 0.8, 1e-8, 0.05))
    compare(run(model, opt.step, batches), run(ref_model, ref.step, batches))


@pytest.mark.parametrize("clip", [True, False])
@pytest.mark.parametrize("mode", [{}, {"foreach": False}])
def test_lars_larc(clip, mode):
    model, batches = make_model(), make_batches()
    ref_model = copy.deepcopy(model)
    opt = Larc(model.parameters(), lr=0.5, mom=0.9, trust_coeff=0.02, wd=1e-3, eps=1e-8, clip=clip, **mode)
    ref = PerTensor(ref_model.parameters(), lars_ref(0.5, 0.9, 0.02, 1e-3, 1e-8, clip))
    compare(run(model, opt.step, batches), run(ref_model, ref.step, batches))


@pytest.mark.parametrize("mode", [{}, {"foreach": False}])
def test_lamb(mode):
    model, batches = make_model(), make_batches()
    ref_model = copy.deepcopy(model)
    opt = Lamb(model.parameters(), lr=1e-2, mom=0.9, sqr_mom=0.99, eps=1e-6, wd=0.01, **mode)
    ref = PerTensor(ref_model.parameters(), lamb_ref(1e-2, 0.9, 0.99, 1e-6, 0.01))
    compare(run(model, opt.step, batches), run(ref_model, ref.step, batches))


def test_lamb_group_wide_branch():
    # on the CPU lamb_step goes one tensor at a time; a tensor lr (as under the fused path, or a device
    # without that branch) takes the group-wide foreach branch: it must follow the same reference
    model, batches = make_model(), make_batches()
    ref_model = copy.deepcopy(model)
    opt = Lamb(model.parameters(), lr=1e-2, mom=0.9, sqr_mom=0.99, eps=1e-6, wd=0.01)
    opt.param_groups[0]["lr"] = torch.tensor(1e-2, dtype=torch.float64)
    ref = PerTensor(ref_model.parameters(), lamb_ref(1e-2, 0.9, 0.99, 1e-6, 0.01))
    compare(run(model, opt.step, batches), run(ref_model, ref.step, batches))


def lookahead_ref(inner_step, params, k, alpha):
    params = list(params)
    slow = [p.detach().clone() for p in params]
    count = [0]

    @torch.no_grad()
    def step():
        inner_step()
        count[0] += 1
        if count[0] % k == 0:
            for s, p in zip(slow, params, strict=True):
                s.add_(alpha * (p - s))
                p.copy_(s)

    return step


def test_lookahead_over_sgd():
    model, batches = make_model(), make_batches()
    ref_model = copy.deepcopy(model)
    opt = Lookahead(SGD(model.parameters(), lr=0.05, mom=0.9), k=5, alpha=0.5)
    sgd = torch.optim.SGD(ref_model.parameters(), lr=0.05, momentum=0.9)
    compare(
        run(model, opt.step, batches), run(ref_model, lookahead_ref(sgd.step, ref_model.parameters(), 5, 0.5), batches)
    )


def test_ranger_is_lookahead_over_radam():
    model, batches = make_model(), make_batches()
    ref_model = copy.deepcopy(model)
    opt = ranger(model.parameters(), lr=1e-2, mom=0.95, sqr_mom=0.99, eps=1e-6, wd=0.01, k=6, alpha=0.5)
    radam = torch.optim.RAdam(
        ref_model.parameters(), lr=1e-2, betas=(0.95, 0.99), eps=1e-6, weight_decay=0.01, decoupled_weight_decay=True
    )
    ref_step = lookahead_ref(radam.step, ref_model.parameters(), 6, 0.5)
    compare(run(model, opt.step, batches), run(ref_model, ref_step, batches))


def test_trust_ratio_reference_by_hand():
    # one LAMB step on a single tensor, computed by hand: m_hat = g, v_hat = g**2, r = sign(g) (eps ~ 0)
    p = torch.tensor([3.0, 4.0], dtype=torch.float64, requires_grad=True)
    p.grad = torch.tensor([1.0, -2.0], dtype=torch.float64)
    Lamb([p], lr=0.1, eps=1e-12).step()
    r = torch.tensor([1.0, -1.0], dtype=torch.float64)
    expected = torch.tensor([3.0, 4.0], dtype=torch.float64) - 0.1 * (5.0 / math.sqrt(2.0)) * r
    torch.testing.assert_close(p.detach(), expected)


TORCH_OPTIMIZERS = {
    "AdamW": lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1),
    "Adam": lambda p: torch.optim.Adam(p, lr=1e-2),
    "RAdam": lambda p: torch.optim.RAdam(p, lr=1e-2),
    "NAdam": lambda p: torch.optim.NAdam(p, lr=1e-2),
    "RMSprop": lambda p: torch.optim.RMSprop(p, lr=1e-3, momentum=0.5),
    "Adagrad": lambda p: torch.optim.Adagrad(p, lr=1e-2),
    "SGD": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
}


@pytest.mark.parametrize("name", list(TORCH_OPTIMIZERS))
def test_lookahead_over_any_torch_optimizer(name):
    # Lookahead used to put its slow weights into the wrapped optimizer's state before the first step, so
    # torch's Adam family and RMSprop took the parameters for set up and failed (KeyError: 'exp_avg').
    make = TORCH_OPTIMIZERS[name]
    model, batches = make_model(), make_batches()
    ref_model = copy.deepcopy(model)
    opt = Lookahead(make(model.parameters()), k=5, alpha=0.5)
    ref_step = lookahead_ref(make(ref_model.parameters()).step, ref_model.parameters(), 5, 0.5)
    compare(run(model, opt.step, batches), run(ref_model, ref_step, batches))


@pytest.mark.parametrize("name", ["AdamW", "SGD"])
def test_lookahead_resumes_from_its_state_dict(name):
    # 7 steps, save, a fresh Lookahead loads it, 7 more: the same weights as 14 uninterrupted steps (k=5, so
    # the slow weights saved mid-cycle matter).
    make = TORCH_OPTIMIZERS[name]
    model, batches = make_model(), make_batches()[:14]
    resumed = copy.deepcopy(model)
    straight = run(model, Lookahead(make(model.parameters()), k=5).step, batches)
    first = Lookahead(make(resumed.parameters()), k=5)
    run(resumed, first.step, batches[:7])
    saved = copy.deepcopy(first.state_dict())
    second = Lookahead(make(resumed.parameters()), k=5)
    second.load_state_dict(saved)
    assert second.param_groups[0]["lookahead_count"] == 7
    for a, b in zip(run(resumed, second.step, batches[7:])[-1], straight[-1], strict=True):
        torch.testing.assert_close(a, b)
