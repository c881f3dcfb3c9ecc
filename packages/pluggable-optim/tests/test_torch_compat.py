"""The optimizers are torch optimizers: resume from a state dict, torch schedulers, GradScaler, closures, groups."""

import copy
import io

import pytest
import torch
from torch import nn

from pluggable_optim import SGD, Adam, Lookahead, Optimizer, get_optimizer, list_optimizers, sgd_step


def make_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 2))


def make_batches(n, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(8, 5, generator=g), torch.randn(8, 2, generator=g)) for _ in range(n)]


def train(model, opt, batches, sched=None):
    for x, y in batches:
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        if sched is not None:
            sched.step()


@pytest.mark.parametrize("name", list_optimizers())
def test_resume_from_state_dict_is_bit_identical(name):
    batches = make_batches(14)
    model = make_model()
    opt = get_optimizer(name)(model.parameters(), lr=1e-2)
    train(model, opt, batches[:7])
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, buf)
    train(model, opt, batches[7:])

    buf.seek(0)
    ckpt = torch.load(buf, weights_only=True)
    resumed = make_model()
    resumed.load_state_dict(ckpt["model"])
    opt2 = get_optimizer(name)(resumed.parameters(), lr=0.5)  # the state dict brings the saved lr back
    opt2.load_state_dict(ckpt["opt"])
    assert opt2.hypers == opt.hypers
    train(resumed, opt2, batches[7:])
    for a, b in zip(model.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)


def test_state_dict_has_torch_layout():
    model = make_model()
    opt = Adam(model.parameters(), lr=1e-2)
    train(model, opt, make_batches(2))
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert sd["param_groups"][0]["betas"] == (0.9, 0.99) and sd["param_groups"][0]["weight_decay"] == 0.01
    assert set(sd["state"][0]) == {"grad_avg", "sqr_avg", "step"} and sd["state"][0]["step"] == 2


def test_onecycle_drives_lr_and_momentum_like_torch_adamw():
    batches = make_batches(30)
    model, ref_model = make_model(), make_model()
    opt = Adam(model.parameters(), lr=1e-2, mom=0.9, sqr_mom=0.99, eps=1e-8, wd=0.01)
    ref = torch.optim.AdamW(ref_model.parameters(), lr=1e-2, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.01)
    kw = {"max_lr": 1e-2, "total_steps": 30, "base_momentum": 0.8, "max_momentum": 0.95}
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, **kw)
    ref_sched = torch.optim.lr_scheduler.OneCycleLR(ref, **kw)
    moms = []
    for x, y in batches:
        for m, o, s in ((model, opt, sched), (ref_model, ref, ref_sched)):
            o.zero_grad()
            nn.functional.mse_loss(m(x), y).backward()
            o.step()
            s.step()
        moms.append(opt.hypers[0]["mom"])
        assert opt.hypers[0]["mom"] == ref.param_groups[0]["betas"][0]
        assert opt.hypers[0]["lr"] == ref.param_groups[0]["lr"]
    assert min(moms) < 0.85 < 0.9 < max(moms)  # the momentum really cycled
    for a, b in zip(model.parameters(), ref_model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_onecycle_cycles_sgd_momentum_key():
    model = make_model()
    opt = SGD(model.parameters(), lr=0.1, mom=0.9)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10)
    train(model, opt, make_batches(3), sched)
    assert opt.param_groups[0]["momentum"] == opt.hypers[0]["mom"] < 0.95


@pytest.mark.parametrize(
    "make_sched",
    [
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10),
        lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda i: 0.5**i),
    ],
    ids=["cosine", "lambda"],
)
def test_schedulers_change_what_the_step_reads(make_sched):
    batches = make_batches(10)
    model, ref_model = make_model(), make_model()
    opt = SGD(model.parameters(), lr=0.1, mom=0.9)
    ref = torch.optim.SGD(ref_model.parameters(), lr=0.1, momentum=0.9)
    train(model, opt, batches, make_sched(opt))
    train(ref_model, ref, batches, make_sched(ref))
    assert opt.hypers[0]["lr"] == pytest.approx(ref.param_groups[0]["lr"])
    for a, b in zip(model.parameters(), ref_model.parameters(), strict=True):
        torch.testing.assert_close(a, b)


def test_grad_scaler_unscales_and_skips_inf_steps():
    batches = make_batches(5)
    model, ref_model = make_model(), make_model()
    opt = Adam(model.parameters(), lr=1e-2)
    ref_opt = Adam(ref_model.parameters(), lr=1e-2)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    for x, y in batches:
        opt.zero_grad()
        scaler.scale(nn.functional.mse_loss(model(x), y)).backward()
        scaler.step(opt)
        scaler.update()
    train(ref_model, ref_opt, batches)
    for a, b in zip(model.parameters(), ref_model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)

    before = [p.detach().clone() for p in model.parameters()]
    steps_before = opt.state[next(model.parameters())]["step"]
    opt.zero_grad()
    scaler.scale(model(torch.full((8, 5), float("inf"))).sum()).backward()
    scaler.step(opt)
    scaler.update()
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert opt.state[next(model.parameters())]["step"] == steps_before
    assert scaler.get_scale() < 2.0**10


def test_closure_zero_grad_and_plain_loop():
    model = make_model()
    opt = SGD(model.parameters(), lr=0.1)
    x, y = make_batches(1)[0]

    def closure():
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        return loss

    first = opt.step(closure)
    for _ in range(20):
        last = opt.step(closure)
    assert last < first
    opt.zero_grad(set_to_none=True)
    assert all(p.grad is None for p in model.parameters())


def test_add_param_group_gets_defaults_and_torch_keys():
    model = make_model()
    opt = Adam(model[0].parameters(), lr=1e-2, wd=0.0)
    opt.add_param_group({"params": model[2].parameters(), "lr": 1e-3, "betas": (0.5, 0.9)})
    new = opt.param_groups[1]
    assert new["lr"] == 1e-3 and new["mom"] == 0.5 and new["sqr_mom"] == 0.9 and new["wd"] == 0.0
    assert new["weight_decay"] == 0.0 and new["eps"] == opt.param_groups[0]["eps"]
    before = model[2].weight.detach().clone()
    train(model, opt, make_batches(1))
    # first Adam step moves each weight by about lr
    torch.testing.assert_close((model[2].weight - before).abs().max().item(), 1e-3, rtol=1e-2, atol=0)


def test_lookahead_is_a_torch_optimizer_for_schedulers_and_resume():
    model = make_model()
    opt = Lookahead(SGD(model.parameters(), lr=0.1, mom=0.9), k=3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 0.9**i)
    train(model, opt, make_batches(4), sched)
    assert opt.opt.hypers[0]["lr"] == pytest.approx(0.1 * 0.9**4)
    assert opt.param_groups[0]["lookahead_count"] == 4
    assert model[0].weight in opt.slow_params and "slow_param" not in opt.opt.state[model[0].weight]
    assert set(opt.state_dict()["lookahead_slow"]) == set(range(len(list(model.parameters()))))


def test_step_reads_lr_written_by_hand_under_either_name():
    p = torch.zeros(3, requires_grad=True)
    opt = Optimizer([p], [sgd_step], lr=1.0)
    opt.param_groups[0]["lr"] = 0.5
    p.grad = torch.ones(3)
    opt.step()
    torch.testing.assert_close(p.detach(), torch.full((3,), -0.5))


def test_deepcopy_keeps_groups_in_step():
    opt = Adam(make_model().parameters())
    clone = copy.deepcopy(opt)
    clone.param_groups[0]["betas"] = (0.5, 0.9)
    assert clone.param_groups[0]["mom"] == 0.5 and opt.param_groups[0]["mom"] == 0.9


def test_lookahead_loads_a_checkpoint_that_kept_slow_weights_in_the_state():
    # up to 0.1 the slow weights were the wrapped optimizer's state `slow_param`; such a checkpoint still loads
    model = make_model()
    opt = Lookahead(SGD(model.parameters(), lr=0.1, mom=0.9), k=3)
    train(model, opt, make_batches(2))
    sd = copy.deepcopy(opt.state_dict())
    slow = sd.pop("lookahead_slow")
    for i, t in slow.items():
        sd["state"][i]["slow_param"] = t
    fresh = Lookahead(SGD(model.parameters(), lr=0.1, mom=0.9), k=3)
    fresh.load_state_dict(sd)
    for p in model.parameters():
        torch.testing.assert_close(fresh.slow_params[p], opt.slow_params[p])
        assert "slow_param" not in fresh.opt.state[p]
